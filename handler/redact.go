package handler

import (
	"context"
	"fmt"
	"log/slog"

	"detachkeypair/redact"
)

// redactor is the Redactor of an invocation: it knows the secrets of the function
// (Config.Secrets) and the invocation's credentials.
func (h *Handler) redactor(inv Invocation) *redact.Redactor {
	secrets := h.secrets
	if c := inv.Credentials; c != nil {
		secrets = append(secrets[:len(secrets):len(secrets)], c.AccessKeySecret, c.SecurityToken)
	}
	return redact.New(secrets...)
}

// scrub redacts the messages of an outcome, which answers and result events show.
func scrub(o outcome, red *redact.Redactor) outcome {
	if o.err != nil {
		e := *o.err // errors may be shared values: change a copy
		e.Message = red.Redact(e.Message)
		o.err = &e
	}
	if o.result != nil {
		for i := range o.result.Results {
			o.result.Results[i].Message = red.Redact(o.result.Results[i].Message)
		}
	}
	if o.part != nil {
		o.part.Message = red.Redact(o.part.Message)
		for i := range o.part.Regions {
			o.part.Regions[i].Message = red.Redact(o.part.Regions[i].Message)
		}
	}
	return o
}

// redacting is a slog.Handler that redacts the message and every attribute of a log
// record before handing it on, so that no log line of an invocation shows a secret.
type redacting struct {
	next slog.Handler
	red  *redact.Redactor
}

func (h redacting) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h redacting) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.red.Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redacting) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = h.attr(a)
	}
	return redacting{h.next.WithAttrs(out), h.red}
}

func (h redacting) WithGroup(name string) slog.Handler {
	return redacting{h.next.WithGroup(name), h.red}
}

func (h redacting) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.red.Redact(v.String()))
	case slog.KindGroup:
		group := v.Group()
		out := make([]any, len(group))
		for i, g := range group {
			out[i] = h.attr(g)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case []string:
			out := make([]string, len(x))
			for i, s := range x {
				out[i] = h.red.Redact(s)
			}
			return slog.Any(a.Key, out)
		case error:
			return slog.String(a.Key, h.red.Redact(x.Error()))
		default:
			return slog.String(a.Key, h.red.Redact(fmt.Sprint(x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
