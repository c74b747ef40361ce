// Package emulator is a local stand-in for the cloud APIs the function uses:
// the ECS RPC API (version 2014-05-26: DescribeRegions, DescribeKeyPairs,
// DescribeInstances, DetachKeyPair, AttachKeyPair), the ENS RPC API (version
// 2017-11-10: the same but DescribeRegions, as ENS answers them, and
// ListTagResources), the EventBridge data plane
// (PutEvents) and FC 3.0's asynchronous InvokeFunction (for the functions given
// with PutFunction). It is a real HTTP server that the real Alibaba Cloud Go
// SDKs and the aliyun CLI talk to: it checks their signatures against the
// configured AccessKey pairs, answers with the cloud's JSON bodies, error
// codes and HTTP statuses, and keeps its state in memory, seeded from a JSON
// fixture, so that a test can ask afterwards what is really attached.
//
// It injects faults per API and by rate (latency, a QPS quota answered with
// Throttling.User, 5xx answers, dropped connections, permission refusals;
// and, after the API acted, lost answers, 5xx and hollow results), drawn
// from a random source seeded by Config.Seed, and makes scheduled state
// changes between calls (Server.Schedule). Its answers conform to the SDK's
// response models but for the fields of BeyondModel.
//
//	srv, err := emulator.New(emulator.Config{})
//	if err != nil { ... }
//	if err := srv.Start("127.0.0.1:0"); err != nil { ... }
//	defer srv.Close()
//	client, err := ecs.NewClient(&openapi.Config{
//		Endpoint:        tea.String(srv.Endpoint()), // "127.0.0.1:PORT", no scheme
//		Protocol:        tea.String("http"),
//		AccessKeyId:     tea.String(emulator.DefaultAccessKeyID),
//		AccessKeySecret: tea.String(emulator.DefaultAccessKeySecret),
//		RegionId:        tea.String("cn-hangzhou"),
//	})
//
// The package is the facade; the work is done below it: one package per
// emulated service (ecs, ens, eventbridge, fc), each owning its parameters, answer
// bodies and locked state, over shared internals (internal/rpc: the serving
// pipeline, counters, error bodies, routing and parameters; internal/sign:
// signatures; internal/fault: faults; internal/inventory: instances by id;
// internal/change: scheduled changes). Server composes the services and keeps the admin
// API, Start/Close and the state snapshots.
//
// See README.md for the command, the fixture and the fault settings.
package emulator
