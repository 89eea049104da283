package record

import (
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// Expect writes an expectation event of a watch, at info level.
func (e *Encoder) Expect(ev *model.ExpectEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.expect(zerolog.InfoLevel, ev)
}

// ExpectEvent writes ev alone as a record without a level: what `ctwatch
// parse` makes of an expectation line.
func (e *Encoder) ExpectEvent(ev *model.ExpectEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.expect(zerolog.NoLevel, ev)
}

func (e *Encoder) expect(level zerolog.Level, ev *model.ExpectEvent) {
	switch e.schema {
	case Native:
		e.nativeExpect(level, ev)
	case ECS:
		e.ecsExpect(level, ev)
	case OCSF:
		e.ocsfExpect(level, ev)
	}
}

// AppendExpectText appends ev as conntrack -E expect prints it, and a
// newline, to dst: the text form of expectation records.
func (e *Encoder) AppendExpectText(dst []byte, ev *model.ExpectEvent, o *model.TextOptions) []byte {
	return append(model.AppendExpectText(dst, ev, o), '\n')
}

// expectEventName is an expectation record's "event": "expect_new",
// "expect_destroy" (and "expect_snapshot" for a line of conntrack -L
// expect), apart from the entries' names.
func expectEventName(t model.EventType) string {
	switch t {
	case model.EventNew:
		return "expect_new"
	case model.EventUpdate:
		return "expect_update"
	case model.EventDestroy:
		return "expect_destroy"
	case model.EventSnapshot:
		return "expect_snapshot"
	}
	return "expect_unknown"
}

// expectJSON writes an expectation's native keys; a free conversion.
type expectJSON model.Expect

// MarshalZerologObject writes the expectation's keys: family, proto,
// protonum, timeout, the tuple, mask and master objects (an entry's orig
// without zone and counters: tupleKeysDict), master_proto and master_protonum when the master's
// protocol is another, id, flags (names), class, zone, helper, fn and nat
// ({"dir":"orig"|"reply","tuple":{...}}); keys for values the expectation
// does not carry are omitted.
func (x *expectJSON) MarshalZerologObject(z *zerolog.Event) {
	z.Str("family", x.Family.String())
	z.Str("proto", x.Proto.JSONName())
	z.Uint8("protonum", uint8(x.Proto))
	if x.Fields.Has(model.ExpectFieldTimeout) {
		z.Uint32("timeout", x.Timeout)
	}
	z.Dict("tuple", tupleKeysDict(x.Family, x.Proto, &x.Tuple))
	if x.Fields.Has(model.ExpectFieldMask) {
		z.Dict("mask", tupleKeysDict(x.Family, x.Proto, &x.Mask))
	}
	if x.Fields.Has(model.ExpectFieldMaster) {
		z.Dict("master", tupleKeysDict(x.Family, x.MasterProto, &x.Master))
		if x.MasterProto != x.Proto {
			z.Str("master_proto", x.MasterProto.JSONName())
			z.Uint8("master_protonum", uint8(x.MasterProto))
		}
	}
	if x.Fields.Has(model.ExpectFieldID) {
		z.Uint32("id", x.ID)
	}
	if x.Fields.Has(model.ExpectFieldFlags) {
		var names [3]string
		z.Strs("flags", x.Flags.AppendNames(names[:0]))
	}
	if x.Fields.Has(model.ExpectFieldClass) {
		z.Uint32("class", x.Class)
	}
	if x.Fields.Has(model.ExpectFieldZone) {
		z.Uint16("zone", x.Zone)
	}
	if x.Fields.Has(model.ExpectFieldHelper) {
		z.Str("helper", x.Helper)
	}
	if x.Fields.Has(model.ExpectFieldFn) {
		z.Str("fn", x.Fn)
	}
	if x.Fields.Has(model.ExpectFieldNAT) {
		dir := "orig"
		if x.NATDir != 0 {
			dir = "reply"
		}
		z.Dict("nat", zerolog.Dict().Str("dir", dir).Dict("tuple", tupleKeysDict(x.Family, x.MasterProto, &x.NAT)))
	}
}

// dumpExpectations writes a dump record's "expectations", the count of the
// expectation table's snapshot, when the table was listed.
func dumpExpectations(d *Dump) func(*zerolog.Event) {
	return func(z *zerolog.Event) {
		if d.ExpectDumped {
			z.Uint64("expectations", d.Expectations)
		}
	}
}
