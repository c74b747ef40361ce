// Package aliyun holds what the adapters over the Alibaba Cloud SDKs (ecs, ens,
// eventbridge, fc) share: the credential provider the SDKs sign with (Credential), the
// SDK clients' configuration, transport and pool (Clients), the generic calls through
// darabonba-openapi (CallRPC and CallROA: ens and fc have no SDK of their own here), the
// reading of batch APIs' per-instance results, and the turning of SDK errors into the
// domain's *detach.CloudError with secrets kept out of messages.
//
// It is the only shared package that imports the SDKs: what the handler and settings
// need of it without them lives in credentials (the plain AccessKey), endpoint (the
// endpoint settings) and redact (keeping secrets out of messages).
package aliyun
