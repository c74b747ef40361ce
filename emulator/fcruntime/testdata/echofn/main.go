// Command echofn is a tiny FC 3.0 Go function used by the fcruntime tests.
//
// It answers with the payload and the context it was given, and misbehaves on
// request: it waits at a barrier, sleeps, returns an error, panics or exits,
// as the payload asks. Each invocation prints one line with its request id
// and retry count, so that a test sees every attempt, failed ones included.
// It never prints a secret: it only says whether the secret it got matches
// the one the test expected.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fc"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
)

// Request says what the function should do.
type Request struct {
	// Barrier is a URL to GET before anything else: the test holds the
	// request until it releases the barrier.
	Barrier        string `json:"barrier,omitempty"`
	SleepMs        int    `json:"sleepMs,omitempty"`
	FailUntilRetry int    `json:"failUntilRetry,omitempty"` // fail while x-fc-retry-count is lower
	Error          string `json:"error,omitempty"`
	Panic          string `json:"panic,omitempty"`
	Exit           bool   `json:"exit,omitempty"`
	ExpectSecret   string `json:"expectSecret,omitempty"`
	ExpectToken    string `json:"expectToken,omitempty"`
}

// Response is what the function saw.
type Response struct {
	Payload       json.RawMessage   `json:"payload"`
	PID           int               `json:"pid"`
	Active        int64             `json:"active"`
	RequestID     string            `json:"requestId"`
	DeadlineMs    int64             `json:"deadlineMs"`
	FunctionName  string            `json:"functionName"`
	Handler       string            `json:"handler"`
	Memory        string            `json:"memory"`
	Timeout       int               `json:"timeout"`
	Region        string            `json:"region"`
	AccountID     string            `json:"accountId"`
	RetryCount    int               `json:"retryCount"`
	AccessKeyID   string            `json:"accessKeyId"`
	SecretMatches bool              `json:"secretMatches"`
	TokenMatches  bool              `json:"tokenMatches"`
	EnvSecretOK   bool              `json:"envSecretMatches"`
	Env           map[string]string `json:"env"`
}

// active counts the invocations being handled at once.
var active atomic.Int64

func handle(ctx context.Context, raw json.RawMessage) (*Response, error) {
	n := active.Add(1)
	defer active.Add(-1)

	fctx, ok := fccontext.FromContext(ctx)
	if !ok {
		return nil, errors.New("no FC context")
	}
	fmt.Printf("echofn: request %s retry %d\n", fctx.RequestID, fctx.RetryCount)
	var req Request
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, err
	}
	if req.Barrier != "" {
		resp, err := http.Get(req.Barrier)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
	}
	if req.SleepMs > 0 {
		time.Sleep(time.Duration(req.SleepMs) * time.Millisecond)
	}
	switch {
	case req.Exit:
		os.Exit(3)
	case req.Panic != "":
		panic(req.Panic)
	case req.Error != "":
		return nil, errors.New(req.Error)
	case fctx.RetryCount < req.FailUntilRetry:
		return nil, fmt.Errorf("failing until retry %d", req.FailUntilRetry)
	}

	resp := &Response{
		Payload:       raw,
		PID:           os.Getpid(),
		Active:        n,
		RequestID:     fctx.RequestID,
		FunctionName:  fctx.Function.Name,
		Handler:       fctx.Function.Handler,
		Memory:        fctx.Function.Memory,
		Timeout:       fctx.Function.Timeout,
		Region:        fctx.Region,
		AccountID:     fctx.AccountId,
		RetryCount:    fctx.RetryCount,
		AccessKeyID:   fctx.Credentials.AccessKeyId,
		SecretMatches: req.ExpectSecret != "" && fctx.Credentials.AccessKeySecret == req.ExpectSecret,
		TokenMatches:  req.ExpectToken != "" && fctx.Credentials.SecurityToken == req.ExpectToken,
		EnvSecretOK:   req.ExpectSecret != "" && os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET") == req.ExpectSecret,
		Env:           map[string]string{},
	}
	if d, ok := ctx.Deadline(); ok {
		resp.DeadlineMs = d.UnixMilli()
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.Contains(k, "SECRET") || strings.Contains(k, "TOKEN") {
			continue // never echo secrets
		}
		resp.Env[k] = v
	}
	return resp, nil
}

func main() {
	fc.Start(handle)
}
