package rpc

import "net/http"

// Action is one API of an RPC-style product, as its service implements it.
type Action struct {
	// Params are the parameters it implements; any other is refused before Handle runs
	// (Params.Unimplemented).
	Params []string
	// Handle carries it out; an answer that is a map gets the request id as RequestId.
	Handle func(Params) (any, *Error)
	// List is the path of keys to the answer's result list ("Results", "Result"), for
	// the faults that hollow it (EmptyRate, NullRate).
	List []string
}

// ErrUnknownAction is the gateway's answer to an action the product does not have.
var ErrUnknownAction = &Error{http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."}

// ServeAction runs one request of a product's action a through the pipeline: api is the
// name it is counted and faulted under, scope where it counts against the API's quota
// (Endpoint.Scope), params its parameters as the product reads them, answer how the
// product answers, auth its signature check.
func (p *Pipeline) ServeAction(w http.ResponseWriter, req *Request, api, scope string, a Action, params Params, answer Answer, auth func() *Error) {
	p.Serve(w, req.HTTP, Endpoint{
		API:    api,
		Scope:  scope,
		Answer: answer,
		Auth:   auth,
		Handle: func(requestID string) (any, *Error) {
			if e := params.Unimplemented(a.Params); e != nil {
				return nil, e
			}
			out, e := a.Handle(params)
			if m, ok := out.(map[string]any); ok {
				m["RequestId"] = requestID
			}
			return out, e
		},
		Hollow: func(body any, nulls bool) any {
			m := body.(map[string]any)
			for _, key := range a.List[:len(a.List)-1] {
				m = m[key].(map[string]any)
			}
			last := a.List[len(a.List)-1]
			m[last] = Hollowed(m[last], nulls)
			return body
		},
	})
}
