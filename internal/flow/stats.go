package flow

// Stats counts what a Tracker did since it was created.
type Stats struct {
	// Tracked is the number of flows tracked now (Len).
	Tracked int
	// Tombstones is the number of ended flows remembered now.
	Tombstones int
	// New counts flows first seen on their NEW event.
	New uint64
	// Adopted counts flows first seen on an UPDATE or DESTROY: their NEW
	// was lost or predates the tracker.
	Adopted uint64
	// Seeded counts flows first seen in a dump (Seed, Reconcile).
	Seeded uint64
	// Merged counts NEW events for flows a dump had already shown
	// (Result.Merged).
	Merged uint64
	// Ended counts lifecycles produced by DESTROY events, of tracked flows
	// or not.
	Ended uint64
	// Inferred counts ends deduced without a DESTROY: from Reconcile, or
	// from a NEW for a key still tracked.
	Inferred uint64
	// Evicted counts flows forgotten to stay within MaxFlows.
	Evicted uint64
	// SkippedFull counts entries of dumps (Seed, Reconcile) left untracked
	// because MaxFlows flows were tracked: a dump never evicts.
	SkippedFull uint64
	// Unchanged counts UPDATEs of tracked flows that changed nothing but
	// the timeout and counters.
	Unchanged uint64
	// Stale counts UPDATEs ignored because they are not later than the
	// end of their flow (Result.Known and Changed false).
	Stale uint64
	// UnrepliedWarnings counts the flows the unreplied detector reported
	// one by one; UnrepliedSummarised those it counted into summaries
	// (beyond Config.UnrepliedBurst), UnrepliedSummaries the summaries
	// emitted. Every unreplied flow is in one of the first two.
	UnrepliedWarnings, UnrepliedSummarised, UnrepliedSummaries uint64
	// Destinations is the number of destinations remembered for repeat
	// counting now; DestinationsEvicted counts those forgotten to stay
	// within MaxDestinations.
	Destinations        int
	DestinationsEvicted uint64
}

// Stats returns the tracker's counters.
func (t *Tracker) Stats() Stats {
	s := t.stats
	s.Tracked, s.Tombstones = t.live, t.dead
	s.Destinations, s.DestinationsEvicted = len(t.dests.byKey), t.dests.evicted
	return s
}
