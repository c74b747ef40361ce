// Package endpoint reads the function's endpoint settings (ECS_ENDPOINT, ENS_ENDPOINT,
// EVENTBRIDGE_ENDPOINT, FC_ENDPOINT): settings checks them at start, the adapters
// turn them into what the SDKs take. It knows no cloud SDK.
package endpoint

import (
	"fmt"
	"net/url"
	"strings"
)

// Parse splits an endpoint setting into the host (with port) and the protocol the SDKs
// take: "http://127.0.0.1:8300" gives ("127.0.0.1:8300", "http"); a bare host gives
// https.
func Parse(endpoint string) (host, protocol string, err error) {
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
