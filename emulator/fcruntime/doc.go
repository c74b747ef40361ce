// Package fcruntime runs a built Function Compute (FC 3.0) Go function
// locally, the way FC runs it with the built-in Go runtime (go1).
//
// # Instances
//
// A Runner starts the function's executable as child processes, each one an
// FC instance with its own runtime API on a loopback port: the process finds
// the API through FC_RUNTIME_API ("127.0.0.1:PORT"), and the SDK's fc.Start
// loop long-polls GET /2020-11-11/runtime/invocation/next for work and posts
// each answer to .../invocation/{id}/response or .../invocation/{id}/error.
//
// As in FC 3.0, an instance of a built-in runtime serves one invocation at a
// time (FC's instanceConcurrency "only applies to the custom, custom.debian10
// and custom-container runtimes", says the Serverless Devs fc3 schema). Concurrent
// invocations start more instances, up to Config.MaxInstances (the function's
// instance limit, fc3 concurrencyConfig.reservedConcurrency); an instance
// that has answered waits, warm, for the next invocation. Past the limit:
//
//   - a synchronous invocation (Invoke) is refused at once with FC's
//     throttling error, a *ServiceError with HTTP 429 and code
//     ResourceExhausted;
//   - an asynchronous one (InvokeAsync) waits in a queue for a free instance.
//
// Each invocation carries the headers FC sends (request id, deadline,
// timeout, memory, function name and handler, region, account, retry count
// and the temporary credentials of the function's role), so the function sees
// the same fccontext.FcContext as in the cloud.
//
// # Failures
//
// Failures are reported as FC reports them to the caller of InvokeFunction
// (X-Fc-Error-Type: UnhandledInvocationError):
//
//   - an error returned by the handler, or a panic, is the function's own
//     {"errorMessage","errorType"[,"stackTrace"]};
//   - an invocation still running at its deadline gets
//     {"errorMessage":"Function timed out after N seconds (maxMemoryUsage: X.XXMB)"},
//     and its instance (the process) is killed, as FC recycles a timed-out
//     instance;
//   - an instance that exits while it serves an invocation fails it with
//     {"errorMessage":"Process exited unexpectedly before completing request (duration: Nms, maxMemoryUsage: X.XXMB)"}.
//
// # Asynchronous invocations
//
// InvokeAsync accepts an invocation at once, as InvokeFunction with
// x-fc-invocation-type: Async does, and runs it when an instance is free. A
// failed attempt (error, panic, crash, timeout) is retried, up to
// AsyncConfig.MaxRetryAttempts times, with the same request id and
// x-fc-retry-count one higher each time. What succeeds is recorded as FC's
// on-success destination would receive it; what is finally lost (retries
// exhausted, or older than AsyncConfig.MaxEventAge before it could run) as
// its on-failure destination would (DestinationRecord). Drain waits until
// every accepted invocation has settled.
//
// # What FC documents, and what this package assumes
//
//   - Throttling: FC's common error codes list 429 ResourceExhausted for "the
//     concurrency exceeds the limit" (503 ResourceThrottled is for the
//     machines of the region) — https://developer.aliyun.com/ask/279119,
//     a copy of FC's error-code table; FC's retry documentation calls the
//     case "Concurrency limit exceeded", HTTP 429 —
//     https://www.alibabacloud.com/help/en/functioncompute/fc-2-0/user-guide/error-handling.
//     The error message is not documented: the one here is an assumption.
//   - Retries: function errors (HandledInvocationError,
//     UnhandledInvocationError) are retried up to 3 times by default
//     (maxAsyncRetryAttempts, 0 to 8); throttled invocations are retried for
//     up to 5 hours, the first 0.5 s after the failure, then at intervals
//     doubling from 1 s (1, 2, 4, 8 s, ...) —
//     https://www.alibabacloud.com/help/en/functioncompute/fc/error-handling-1-2
//     (FC 3.0). FC does not document the delay between retries of a function
//     error; the runner uses the same doubling schedule (AsyncConfig.RetryBackoff).
//   - Event age: maxAsyncEventAgeInSeconds, 1 to 604800, default 86400 —
//     https://alibabacloud.com/help/en/functioncompute/api-fc-2023-03-30-struct-putasyncinvokeconfiginput
//     and ROS ALIYUN::FC3::AsyncInvokeConfig. (The fc3 component's schema
//     says default 18000, maximum 2592000; the API reference is followed.)
//   - Destination records: {"timestamp","requestContext":{"requestId",
//     "functionArn","condition","approximateInvokeCount"},"requestPayload",
//     "responseContext":{"statusCode","functionError"},"responsePayload"},
//     the content FC sends to an MNS, FC or RocketMQ destination —
//     https://help.aliyun.com/document_detail/422720.htm ("结果回调"). The
//     document calls condition "the invocation's error code" without listing
//     its values: the runner uses UnhandledInvocationError for a function
//     failure and ConditionExpired for an event too old (assumptions).
//   - The request id of a retried asynchronous invocation: FC's documents do
//     not say it in so many words, but one destination record describes the
//     whole invocation by one requestId and approximateInvokeCount ("the
//     number of executions; above 1, FC retried your function"), so every
//     execution carries the same request id. The runner keeps it.
//   - The retry count reaches a go1 handler as the runtime API header
//     x-fc-retry-count, which github.com/aliyun/fc-runtime-go-sdk (v0.3.1,
//     fc/invoke_loop.go convertInvokeRequest) puts in
//     fccontext.FcContext.RetryCount: fccontext.FromContext(ctx).RetryCount.
//
// The package is Linux-first: memory figures come from /proc/PID/status.
package fcruntime
