// Package detach is the function's domain: what a request is and how it is checked,
// and how one key pair is detached from many instances, safely and fast.
//
// A request names a key pair (by id or by name) and instances (by id, or by a Targets
// selector). Service.Detach carries it out in steps:
//
//  1. resolve the key pair (DescribeKeyPairs, matched exactly), unless the process
//     resolved it lately (its cache, keypairs.go);
//  2. check every instance (DescribeInstances): it must exist, be Stopped and be bound
//     to the key pair; named by name, one unbound instance fails the whole request
//     before anything is detached, named by id it fails alone. Named by name, the
//     check needs only the name, so the instances are described while the key pair is
//     resolved;
//  3. detach from the eligible instances in batches (DetachKeyPair), several calls in
//     flight, paced at this instance's share of the cloud's quota (quota.go), retried
//     with backoff, and never started when too little time is left before the
//     deadline; after an answer that does not say what the cloud did (none, a 5xx,
//     results missing), and before any retry, the batch's instances are checked again
//     (batch.go);
//  4. answer with one result per instance: nothing is lost, nothing is reported done
//     that the cloud did not do.
//
// Before anything changes, the guardrails of a Policy (guard.go) apply: to the request
// as a whole (region, key pair, the reach of a Targets selector) before or right after
// step 1, and to each instance (protected and required tags) in step 2, dry runs too.
//
// A Targets request on ECS is a fleet run (fleet.go): above Service.Detach, a Fleet
// takes every matching instance of one or several regions in parts of MaxInstances, one
// part an invocation, each starting the next through FC (Invoker), with no store of its
// own.
//
// NewEvent and Emit turn the answer into a result event for a Publisher; NewEvents
// splits a large answer over events within EventBridge's size limit. A Caller
// (caller.go), filled by the trigger's handler, says in both who asked.
//
// The package talks to the cloud only through the interfaces it declares (Cloud,
// Publisher) and imports no cloud SDK: the adapters (ecs, ens, eventbridge) translate.
// Products differ in their Limits and in how they name a key pair, not in the steps.
package detach
