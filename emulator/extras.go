package emulator

// Extra is a field that the emulator answers on purpose although the SDK's
// response model does not declare it.
type Extra struct {
	Answer string // the answers that carry it: an API name ("ENS DetachKeyPair" for ENS's), or "ECS error" / "ENS error" / "EventBridge error"
	Field  string // its JSON path in the answer, e.g. "KeyPairs.KeyPair[].KeyPairId"
	Reason string // why it is kept
	Off    string // how to leave it out
}

// BeyondModel is the one list of the fields kept beyond the SDK's response
// models, each with its reason and its off switch. The conformance test
// (conformance_test.go) fails on an answer with any other field that the
// models do not declare.
func BeyondModel() []Extra {
	const gateway = "the OpenAPI gateway's error body carries it (Alibaba Cloud's common error response: " +
		"RequestId, HostId, Code, Message, Recommend); darabonba-openapi reads only RequestId, Code, Message, " +
		"Description and AccessDeniedDetail, and keeps the whole body in the error's Data"
	return []Extra{
		{Answer: "ECS error", Field: "HostId", Reason: gateway, Off: "Config.ModelOnly"},
		{Answer: "ECS error", Field: "Recommend", Reason: gateway, Off: "Config.ModelOnly"},
		{Answer: "ENS error", Field: "HostId", Reason: gateway, Off: "Config.ModelOnly"},
		{Answer: "ENS error", Field: "Recommend", Reason: gateway, Off: "Config.ModelOnly"},
		{Answer: "DescribeKeyPairs", Field: "KeyPairs.KeyPair[].KeyPairId",
			Reason: "the undocumented case of a cloud that sends it: neither the API reference nor the SDK model has it (issue 11)",
			Off:    "Config.ExposeKeyPairIDs false, the default"},
	}
}
