// Package endpoint reads the endpoint settings of the cloud APIs (ECS_ENDPOINT,
// EVENTBRIDGE_ENDPOINT): a URL such as http://127.0.0.1:8300, or a bare host name.
package endpoint

import (
	"fmt"
	"net/url"
	"strings"
)

// Parse splits an endpoint into the host (with port) and the protocol the SDKs take:
// "http://127.0.0.1:8300" gives ("127.0.0.1:8300", "http"); a bare host gives https.
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
