package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"detachkeypair/handler"
)

// setDryRun sets DryRun in the request(s) an event carries, whatever its envelope.
func setDryRun(payload []byte) ([]byte, error) {
	switch handler.Classify(payload) {
	case handler.HTTP:
		return rewriteField(payload, "body", func(body []byte) ([]byte, error) {
			var ev struct {
				IsBase64Encoded bool `json:"isBase64Encoded"`
			}
			json.Unmarshal(payload, &ev)
			if ev.IsBase64Encoded {
				return nil, errors.New("base64 HTTP bodies are not rewritten; use a plain body or set DryRun in the file")
			}
			return setField(body, "DryRun", true)
		}, true)
	case handler.Timer:
		return rewriteField(payload, "payload", func(p []byte) ([]byte, error) { return setField(p, "DryRun", true) }, true)
	case handler.CloudEvent:
		return rewriteField(payload, "data", func(d []byte) ([]byte, error) { return setField(d, "DryRun", true) }, false)
	case handler.EventBatch:
		var items []json.RawMessage
		if err := json.Unmarshal(payload, &items); err != nil {
			return nil, err
		}
		for i, it := range items {
			var s string
			isString := json.Unmarshal(it, &s) == nil
			if isString {
				it = []byte(s)
			}
			out, err := rewriteField(it, "data", func(d []byte) ([]byte, error) { return setField(d, "DryRun", true) }, false)
			if err != nil {
				return nil, err
			}
			if isString {
				out, _ = json.Marshal(string(out))
			}
			items[i] = out
		}
		return json.Marshal(items)
	default:
		return setField(payload, "DryRun", true)
	}
}

// rewriteField rewrites one field of a JSON object; asString says the field holds JSON
// inside a string.
func rewriteField(obj []byte, name string, f func([]byte) ([]byte, error), asString bool) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, err
	}
	inner := []byte(m[name])
	if asString {
		var s string
		if err := json.Unmarshal(inner, &s); err != nil {
			return nil, fmt.Errorf("%s is not a string", name)
		}
		inner = []byte(s)
	}
	out, err := f(inner)
	if err != nil {
		return nil, err
	}
	if asString {
		out, _ = json.Marshal(string(out))
	}
	m[name] = out
	return json.Marshal(m)
}

func setField(obj []byte, name string, v any) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		return nil, fmt.Errorf("the request is not a JSON object: %w", err)
	}
	m[name], _ = json.Marshal(v)
	return json.Marshal(m)
}
