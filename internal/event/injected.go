package event

// HeaderInjected marks a record the generator's --inject sent on purpose
// as a fault; its value names the fault: duplicate, late, reorder,
// malformed_json, missing_field, out_of_range, invalid_field, oversized
// or unknown_schema. Consumers may ignore it; tests reconcile with it.
const HeaderInjected = "injected"
