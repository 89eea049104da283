package record

import "github.com/ctwatch/ctwatch/internal/flow"

// inferredReason returns why the tracker inferred a flow's end, the
// "inferred_reason" of inferred records.
//
// PLACEHOLDER until branch nsflow (flow.Inferred.Reason) is merged: then
// it is in.Reason.String().
func inferredReason(in *flow.Inferred) string {
	_ = in
	return "reconcile"
}
