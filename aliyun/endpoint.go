// Package aliyun holds what the adapters over the Alibaba Cloud SDKs (ecs, ens,
// eventbridge, fc) share: credentials, endpoint settings, the SDK clients' configuration,
// transport and pool (Clients), the generic calls through darabonba-openapi (CallRPC
// and CallROA: ens and fc have no SDK of their own here), and the turning of SDK errors
// into the domain's *detach.CloudError with secrets kept out of messages.
package aliyun

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseEndpoint splits an endpoint setting (ECS_ENDPOINT, ENS_ENDPOINT, EVENTBRIDGE_ENDPOINT) into the host (with port) and the protocol the SDKs take:
// "http://127.0.0.1:8300" gives ("127.0.0.1:8300", "http"); a bare host gives https.
func ParseEndpoint(endpoint string) (host, protocol string, err error) {
	bad := fmt.Errorf("endpoint %q: give a URL such as http://127.0.0.1:8300, or a host name", endpoint)
	if !strings.Contains(endpoint, "://") {
		if endpoint == "" || strings.ContainsAny(endpoint, "/?#@ ") {
			return "", "", bad
		}
		return endpoint, "https", nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", "", bad
	}
	return u.Host, u.Scheme, nil
}
