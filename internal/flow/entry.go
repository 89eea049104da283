package flow

import (
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// How absorb treats an entry.
const (
	absorbEvent      = iota // an event about a tracked flow: report changes, time replies
	absorbDump              // a dump's view of a tracked flow: no report, no times
	absorbFirst             // the first sight of a flow after its start
	absorbFirstTimed        // the flow's NEW
)

// absorb brings record i (nilIdx for a record not yet live) up to date with
// entry e, seen at ts, and returns what changed.
func (t *Tracker) absorb(i uint32, r *record, e *model.Entry, ts int64, how int) Transition {
	tr := Transition{Proto: e.Proto}
	first := how == absorbFirst || how == absorbFirstTimed
	timed := how == absorbEvent || how == absorbFirstTimed
	if how == absorbEvent && r.flags&fDumpOnly != 0 {
		r.flags &^= fDumpOnly
		t.counts.at(r.key.ns).seeded--
	}

	if e.Fields.Has(model.FieldStart) && r.flags&fExact == 0 && !e.Start.IsZero() {
		// The kernel's start timestamp makes the times exact; the reply
		// and assured times move with their origin.
		ks := e.Start.UnixNano()
		if r.first != 0 {
			shift := float32(float64(r.first-ks) / 1e9)
			if r.replyAfter >= 0 {
				r.replyAfter = max(r.replyAfter+shift, 0)
			}
			if r.assuredAfter >= 0 {
				r.assuredAfter = max(r.assuredAfter+shift, 0)
			}
		}
		r.first = ks
		r.flags |= fExact | fKernelStart
	}
	if r.first == 0 && ts != 0 {
		r.first = ts
		if i != nilIdx && r.flags&(fReplied|fPending|fWarned) == 0 && t.cfg.UnrepliedAfter > 0 {
			t.pushPending(i, r)
		}
	}
	if how != absorbDump {
		r.last = max(r.last, ts)
	}

	if e.Fields.Has(model.FieldState) && e.Proto.HasState() {
		if r.flags&fHasState != 0 {
			tr.HasStates, tr.From, tr.To = true, r.state, e.State
		}
		r.state = e.State
		r.flags |= fHasState
		r.pushState(e.State)
	}

	s := e.Status &^ ignoredStatus
	if !first {
		tr.Gained, tr.Lost = s&^r.status, r.status&^s
	}
	r.status = s
	if s&model.StatusSeenReply != 0 && r.flags&fReplied == 0 {
		r.flags |= fReplied
		if timed {
			r.replyAfter = afterSeconds(r.first, ts)
		}
		if r.flags&fPending != 0 {
			t.unlinkPending(i, r)
		}
		t.dests.replied(destOf(&r.key))
	}
	if s&model.StatusAssured != 0 && r.flags&fAssured == 0 {
		r.flags |= fAssured
		if timed {
			r.assuredAfter = afterSeconds(r.first, ts)
		}
	}

	if e.Fields.Has(model.FieldMark) {
		if r.flags&fHasMark != 0 && r.mark != e.Mark {
			tr.Changed |= AttrMark
		}
		r.mark = e.Mark
		r.flags |= fHasMark
	}
	if e.Fields.Has(model.FieldLabels) {
		lh := labelsHash(e.Labels)
		if r.flags&fHasLabels != 0 && r.labels != lh {
			tr.Changed |= AttrLabels
		}
		r.labels = lh
		r.flags |= fHasLabels
	}
	if !first && e.Fields.Has(model.FieldMaster) {
		// A flow first seen without its master (an event that lacked
		// CTA_TUPLE_MASTER) learns it from the next that has it; start
		// keeps a first sight's.
		t.keepMaster(r, e)
	}
	if e.Fields.Has(model.FieldOrigCounters) {
		r.counters[0], r.counters[1] = e.Orig.Packets, e.Orig.Bytes
		r.flags |= fHasCounters
	}
	if e.Fields.Has(model.FieldReplyCounters) {
		r.counters[2], r.counters[3] = e.Reply.Packets, e.Reply.Bytes
		r.flags |= fHasCounters
	}

	if how == absorbDump {
		return Transition{}
	}
	if r.first != 0 && ts != 0 {
		tr.After, tr.AfterKnown = time.Duration(max(ts-r.first, 0)), true
	}
	return tr
}

// labelsHash is FNV-1a over the label names, enough to notice a change.
func labelsHash(labels []string) uint32 {
	h := uint32(2166136261)
	for _, l := range labels {
		for i := 0; i < len(l); i++ {
			h = (h ^ uint32(l[i])) * 16777619
		}
		h = (h ^ 0xff) * 16777619
	}
	return h
}

// entryOf rebuilds the entry of r as far as the tracker keeps it.
func (t *Tracker) entryOf(r *record, e *model.Entry) {
	k := &r.key
	*e = model.Entry{Family: k.family, Proto: k.proto, Status: r.status, State: r.state,
		Mark: r.mark, Zone: k.zone, ID: k.id}
	e.Orig.Src, e.Orig.Dst = addrFrom16(k.family, k.src), addrFrom16(k.family, k.dst)
	unpackIDs(k.proto, k.ports, &e.Orig)
	var n *natTuple
	if r.nat != 0 {
		n = t.nat.at(r.nat - 1)
	}
	if n != nil && n.hasReply() {
		e.Reply.Src, e.Reply.Dst = addrFrom16(k.family, n.src), addrFrom16(k.family, n.dst)
		unpackIDs(k.proto, n.ids, &e.Reply)
	} else {
		e.Reply = inverse(e)
	}
	if n != nil && n.master != 0 {
		m := t.masters.at(n.master - 1)
		e.Master.Src, e.Master.Dst = addrFrom16(k.family, m.src), addrFrom16(k.family, m.dst)
		unpackIDs(m.proto, m.ids, &e.Master)
		e.MasterProto = m.proto
		e.Fields |= model.FieldMaster
	}
	if r.flags&fHasState != 0 {
		e.Fields |= model.FieldState
	}
	if r.flags&fHasMark != 0 {
		e.Fields |= model.FieldMark
	}
	if k.zone != 0 {
		e.Fields |= model.FieldZone
	}
	if k.id != 0 {
		e.Fields |= model.FieldID
	}
	if r.flags&fHasCounters != 0 {
		e.Fields |= model.FieldOrigCounters | model.FieldReplyCounters
		e.Orig.Packets, e.Orig.Bytes = r.counters[0], r.counters[1]
		e.Reply.Packets, e.Reply.Bytes = r.counters[2], r.counters[3]
	}
}

// keepMaster keeps e's master tuple for live record r, unless r has one
// already (a flow's master never changes): the flow's side entry
// (record.nat) is made if it has none, and points to the tuple.
func (t *Tracker) keepMaster(r *record, e *model.Entry) {
	if r.nat == 0 {
		r.nat = t.nat.alloc() + 1
	}
	n := t.nat.at(r.nat - 1)
	if n.master != 0 {
		return
	}
	j := t.masters.alloc()
	*t.masters.at(j) = masterTuple{src: e.Master.Src.As16(), dst: e.Master.Dst.As16(),
		ids: packIDs(e.MasterProto, &e.Master), proto: e.MasterProto}
	n.master = j + 1
}
