// Package credentials holds what a call to Alibaba Cloud is signed with, as plain data:
// the handler reads it from FC's invocation context and hands it to the adapters, which
// give it to the SDKs (aliyun.Credential). It knows no cloud SDK.
package credentials

// AccessKey is an AccessKey pair, with the security token of temporary (STS)
// credentials. Its values are secrets, the id aside: never log them.
type AccessKey struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string // "" for a long-term AccessKey
}
