// Package deploy holds what the deployment files (s.yaml, template.yaml and the Makefile's
// package target) share with the code, in one place: the name of the handler binary in the
// code zip, where the zip is written, and which settings exist only for local emulation.
//
// Its tests hold those files to the code (the handler is the packaged binary, the
// environment is exactly the settings the function reads, the RAM policy allows exactly
// the cloud APIs the code calls and what FC does with the role) and to the tools' own
// specifications, copied into testdata/spec: the fc3 component's schema, the ros
// component's specification, ROS's resource specifications. How to deploy is in
// README.md next to this file.
package deploy

// BinaryName is the file name of the function binary inside the code zip. FC's go1
// runtime runs the file the handler names, so s.yaml and template.yaml say
// `handler: main`, and `make package` builds dist/main.
const BinaryName = "main"

// ZipPath is where `make package` writes the code zip, relative to the repository root.
// s.yaml deploys it from there; for ROS it is uploaded to OSS first.
const ZipPath = "dist/detach-keypair.zip"

// LocalOnlySettings returns the settings the code reads that point the function at a
// local emulator instead of the cloud; the slice is the caller's. The deployment files
// leave them out, so that in the cloud the SDKs use the region's own endpoints (ENS:
// ens.aliyuncs.com; FC: <account>.<region>.fc.aliyuncs.com). (Add one to a deployment
// file only to reach ECS, ENS, EventBridge or FC through a VPC endpoint, FC's
// <account>.<region>-internal.fc.aliyuncs.com say, or ENS on the international site:
// ENS_ENDPOINT=ens.ap-southeast-1.aliyuncs.com.)
func LocalOnlySettings() []string {
	return []string{"ECS_ENDPOINT", "ENS_ENDPOINT", "EVENTBRIDGE_ENDPOINT", "FC_ENDPOINT"}
}

// MaxFunctionInstances is the function's most instances at once in both deployment
// files (s.yaml's fc3 concurrencyConfig.reservedConcurrency, template.yaml's
// ALIYUN::FC3::ConcurrencyConfig), and the MAX_FUNCTION_INSTANCES setting of both
// environments, among which the function divides the account's quotas; the tests hold
// the four to this number, and the storm benchmark (cmd/bench -storm) scales out to it.
const MaxFunctionInstances = 10
