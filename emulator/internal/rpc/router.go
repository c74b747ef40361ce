package rpc

import (
	"cmp"
	"mime"
	"net/http"
	"net/url"
)

// Router routes requests to the emulated services. RPC-style products (ECS,
// ENS) share the path "/" and are told apart by their API version (the
// Version parameter or the x-acs-version header); other APIs own a path.
type Router struct {
	mux       *http.ServeMux
	products  map[string]func(http.ResponseWriter, *Request) // by API version
	modelOnly bool
}

// Request is an RPC-style request, read once by the router.
type Request struct {
	HTTP *http.Request
	// Params are the query and, for a form body, the body's parameters.
	Params  url.Values
	Body    []byte
	Action  string
	Version string
}

// NewRouter returns a router with no service yet. modelOnly leaves out of
// the gateway's error body the fields that the SDK does not read (see
// GatewayError).
func NewRouter(modelOnly bool) *Router {
	rt := &Router{mux: http.NewServeMux(), products: map[string]func(http.ResponseWriter, *Request){}, modelOnly: modelOnly}
	rt.mux.HandleFunc("/", rt.serveRPC)
	return rt
}

// Handle routes requests for pattern (http.ServeMux's patterns) to h.
func (rt *Router) Handle(pattern string, h http.Handler) { rt.mux.Handle(pattern, h) }

// HandleProduct routes the RPC-style requests of a product's API version to
// serve.
func (rt *Router) HandleProduct(version string, serve func(http.ResponseWriter, *Request)) {
	rt.products[version] = serve
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) { rt.mux.ServeHTTP(w, r) }

// serveRPC reads an RPC-style request and hands it to its product.
// Parameters come from the query and, for a form body, from the body; the
// action and version from the parameters or, as the V3 signature sends
// them, from the x-acs-action and x-acs-version headers.
func (rt *Router) serveRPC(w http.ResponseWriter, r *http.Request) {
	fail := func(e *Error) { rt.GatewayError("")(w, r, NewRequestID(), e) }
	if r.URL.Path != "/" {
		fail(Errorf(http.StatusNotFound, "InvalidApi.NotFound", "Specified api is not found, please check your url and method."))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		fail(Errorf(http.StatusMethodNotAllowed, "UnsupportedHTTPMethod", "This http method not supported."))
		return
	}
	body, err := ReadBody(r)
	if err != nil {
		fail(Errorf(http.StatusBadRequest, "InvalidParameter", "The request body cannot be read: %v.", err))
		return
	}
	params := r.URL.Query()
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" && len(body) > 0 {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			fail(Errorf(http.StatusBadRequest, "InvalidParameter", "The form body is malformed."))
			return
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	req := &Request{HTTP: r, Params: params, Body: body,
		Action:  cmp.Or(params.Get("Action"), r.Header.Get("x-acs-action")),
		Version: cmp.Or(params.Get("Version"), r.Header.Get("x-acs-version")),
	}
	serve, ok := rt.products[req.Version]
	switch {
	case req.Action == "":
		fail(Missing("Action"))
	case !ok:
		fail(Errorf(http.StatusBadRequest, "InvalidVersion", "Specified parameter Version is not valid."))
	default:
		serve(w, req)
	}
}

// GatewayError returns the writer of the OpenAPI gateway's error body for a
// product (its OpenAPI name as the gateway spells it in Recommend, e.g.
// "Ecs"; "" when the request named none): {"RequestId", "HostId", "Code",
// "Message", "Recommend"}. The SDK reads RequestId, Code and Message;
// HostId and Recommend are the gateway's, kept beyond the SDK's model
// (emulator.BeyondModel) unless the router is model-only.
func (rt *Router) GatewayError(product string) func(w http.ResponseWriter, r *http.Request, requestID string, e *Error) {
	return func(w http.ResponseWriter, r *http.Request, requestID string, e *Error) {
		body := struct {
			RequestId string
			HostId    string `json:",omitempty"`
			Code      string
			Message   string
			Recommend string `json:",omitempty"`
		}{RequestId: requestID, Code: e.Code, Message: e.Message}
		if !rt.modelOnly {
			body.HostId = r.Host
			body.Recommend = "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(e.Code)
			if product != "" {
				body.Recommend += "&product=" + product
			}
			body.Recommend += "&requestId=" + requestID
		}
		WriteJSON(w, e.Status, requestID, body)
	}
}
