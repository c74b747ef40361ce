package aliyun

import (
	"fmt"
	"sync"

	credential "github.com/aliyun/credentials-go/credentials"

	"detachkeypair/credentials"
	"detachkeypair/redact"
)

// Credential returns what the SDKs sign with: creds (an AccessKey, or STS when it has a
// token), or, when creds is nil, the standard Alibaba Cloud credential chain
// (environment, profile, instance role, OIDC).
func Credential(creds *credentials.AccessKey) (credential.Credential, error) {
	var cfg *credential.Config
	if creds != nil {
		cfg = new(credential.Config).SetType("access_key").SetAccessKeyId(creds.AccessKeyID).SetAccessKeySecret(creds.AccessKeySecret)
		if creds.SecurityToken != "" {
			cfg.SetType("sts").SetSecurityToken(creds.SecurityToken)
		}
	}
	cred, err := credential.NewCredential(cfg)
	if err != nil {
		return nil, fmt.Errorf("no credentials: %s", redact.Text(err.Error()))
	}
	if creds == nil {
		// The chain's provider (credentials-go v1.4.5 DefaultCredentialsProvider)
		// records the provider it used last without a lock, and the SDK clients of
		// concurrent calls share it: serialise it (go test -race shows the race).
		return &lockedCredential{c: cred}, nil
	}
	return cred, nil
}

// lockedCredential makes a Credential that is not safe for concurrent use safe.
type lockedCredential struct {
	mu sync.Mutex
	c  credential.Credential
}

func (l *lockedCredential) GetAccessKeyId() (*string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.GetAccessKeyId()
}

func (l *lockedCredential) GetAccessKeySecret() (*string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.GetAccessKeySecret()
}

func (l *lockedCredential) GetSecurityToken() (*string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.GetSecurityToken()
}

func (l *lockedCredential) GetBearerToken() *string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.GetBearerToken()
}

func (l *lockedCredential) GetType() *string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.GetType()
}

func (l *lockedCredential) GetCredential() (*credential.CredentialModel, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.GetCredential()
}
