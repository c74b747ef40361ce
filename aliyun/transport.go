package aliyun

import (
	"net"
	"net/http"
	"time"
)

// Transport returns the transport that carries every adapter's calls to the cloud. One
// for the process, so that connections are kept alive across calls, clients and
// invocations. The SDKs' own shared HTTP clients are not used: they rewrite their
// timeout on every call, racing with calls in flight (and eventbridge-sdk makes a new
// one for every timeout). It is safe for concurrent use; its settings are fixed here.
func Transport() http.RoundTripper { return transport }

// connectTimeout bounds the making of a connection (the SDKs' ConnectTimeout too).
const connectTimeout = 5 * time.Second

// transport is the process's transport (Transport).
var transport = &http.Transport{
	Proxy:               http.ProxyFromEnvironment,
	DialContext:         (&net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConns:        256,
	MaxIdleConnsPerHost: 64,
	IdleConnTimeout:     90 * time.Second,
	TLSHandshakeTimeout: 10 * time.Second,
	ForceAttemptHTTP2:   true,
}
