package detach

import "slices"

// Products returns the products the function serves, for messages and settings; the
// slice is the caller's.
func Products() []string { return []string{ProductECS, ProductENS} }

// ValidProduct reports whether p is a product the function serves.
func ValidProduct(p string) bool { return slices.Contains(Products(), p) }

// ForProduct settles the product of a parsed request and refuses the fields that do
// not apply to it, each with InvalidParameter.<Field>: a request without Product is for
// def (the DEFAULT_PRODUCT setting; "" means ECS).
//
//   - ECS: instances live in API regions; Targets.EnsRegionIds is ENS's.
//   - ENS: no API regions (one endpoint serves every edge region), so no RegionId nor
//     RegionIds; its DescribeInstances has no resource group filter, so no
//     Targets.ResourceGroupId; no fleet runs (IsFleet), so no Continuation.
//
// Nested fields are reported under their top-level field, as the other checks do
// (InvalidParameter.Targets, the message naming Targets.EnsRegionIds).
func (r *Request) ForProduct(def string) *Error {
	if r.Product == "" {
		r.Product = def
	}
	if r.Product == "" {
		r.Product = ProductECS
	}
	switch r.Product {
	case ProductECS:
		if r.Targets != nil && len(r.Targets.EnsRegionIds) > 0 {
			return invalidParameter("Targets", "Targets.EnsRegionIds selects ENS edge regions; with ECS, select by Tags and ResourceGroupId, or set \"Product\": \"ENS\"")
		}
	case ProductENS:
		if r.RegionId != "" {
			return invalidParameter("RegionId", "ENS has no API regions (its instances are in edge regions): leave RegionId out, and select edge regions with Targets.EnsRegionIds")
		}
		if r.RegionIds != nil {
			return invalidParameter("RegionIds", "ENS has no API regions (one endpoint serves every edge region): leave RegionIds out, and select edge regions with Targets.EnsRegionIds")
		}
		if r.Continuation != nil {
			return invalidParameter("Continuation", "fleet runs, which continue in parts, are ECS's: an ENS selection is taken whole (at most MAX_INSTANCES)")
		}
		if r.Targets != nil && r.Targets.ResourceGroupId != "" {
			return invalidParameter("Targets", "Targets.ResourceGroupId: ENS's DescribeInstances cannot select by resource group; select by Tags and EnsRegionIds")
		}
	default:
		return invalidParameter("Product", Echo(r.Product)+" is not a product the function serves: give ECS or ENS")
	}
	return nil
}
