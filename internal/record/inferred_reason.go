package record

import "github.com/ctwatch/ctwatch/internal/flow"

// inferredReason returns why the tracker inferred a flow's end, the
// "inferred_reason" next to "inferred":true in every schema: reconcile
// (a dump no longer lists it), reused (a NEW came for its tuple) or
// netns_gone (its namespace vanished).
func inferredReason(in *flow.Inferred) string { return in.Reason.String() }
