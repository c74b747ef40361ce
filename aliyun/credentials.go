package aliyun

import (
	"fmt"

	credential "github.com/aliyun/credentials-go/credentials"
)

// Credentials are an AccessKey pair, with the token of temporary (STS) credentials.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// Credential returns what the SDKs sign with: creds (an AccessKey, or STS when it has a
// token), or, when creds is nil, the standard Alibaba Cloud credential chain
// (environment, profile, instance role, OIDC).
func Credential(creds *Credentials) (credential.Credential, error) {
	var cfg *credential.Config
	if creds != nil {
		cfg = new(credential.Config).SetType("access_key").SetAccessKeyId(creds.AccessKeyID).SetAccessKeySecret(creds.AccessKeySecret)
		if creds.SecurityToken != "" {
			cfg.SetType("sts").SetSecurityToken(creds.SecurityToken)
		}
	}
	cred, err := credential.NewCredential(cfg)
	if err != nil {
		return nil, fmt.Errorf("no credentials: %s", Redact(err.Error()))
	}
	return cred, nil
}
