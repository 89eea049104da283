package record

import (
	"errors"
	"fmt"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// jsonExpect is a native expectation record as ParseExpectJSON reads it.
type jsonExpect struct {
	Time           *string    `json:"time"`
	Event          *string    `json:"event"`
	Family         *string    `json:"family"`
	Proto          *string    `json:"proto"`
	Protonum       *uint8     `json:"protonum"`
	Timeout        *uint32    `json:"timeout"`
	Tuple          *jsonTuple `json:"tuple"`
	Mask           *jsonTuple `json:"mask"`
	Master         *jsonTuple `json:"master"`
	MasterProtonum *uint8     `json:"master_protonum"`
	ID             *uint32    `json:"id"`
	Flags          []string   `json:"flags"`
	Class          *uint32    `json:"class"`
	Zone           *uint16    `json:"zone"`
	Helper         *string    `json:"helper"`
	Fn             *string    `json:"fn"`
	NAT            *struct {
		Dir   string     `json:"dir"`
		Tuple *jsonTuple `json:"tuple"`
	} `json:"nat"`
	Origin *jsonOrigin `json:"origin"`
}

// ParseExpectJSON parses one expectation record of the native schema
// ("expect_new", "expect_destroy", "expect_snapshot"), as ctwatch writes
// it, back into an ExpectEvent. A record of another event returns
// ErrNotEntryRecord.
func ParseExpectJSON(data []byte) (model.ExpectEvent, error) {
	var j jsonExpect
	var ev model.ExpectEvent
	if err := decodeRecord(data, &j); err != nil {
		return ev, err
	}
	var err error
	if ev.Type, ev.Time, ev.Origin, err = parseHead(j.Event, "expect_", j.Time, j.Origin); err != nil {
		return ev, err
	}
	return ev, j.expect(&ev.Expect)
}

func (j *jsonExpect) expect(x *model.Expect) error {
	missing := func(field string) error { return &JSONError{Field: field, Err: errors.New("missing")} }
	var err error
	if x.Family, x.Proto, err = parseFamilyProto(j.Family, j.Protonum, j.Proto); err != nil {
		return err
	}
	x.MasterProto = x.Proto
	if j.MasterProtonum != nil {
		x.MasterProto = model.Proto(*j.MasterProtonum)
	}
	setOptional(j.Timeout, &x.Timeout, &x.Fields, model.ExpectFieldTimeout)
	// The tuples are an entry's direction objects, without zone and
	// counters.
	tuple := func(jt *jsonTuple, t *model.Tuple, name string, proto model.Proto) error {
		if jt.Zone != nil || jt.Packets != nil || jt.Bytes != nil {
			return &JSONError{Field: name, Err: errors.New("an expectation's tuple has no zone or counters")}
		}
		return jt.tuple(&model.Entry{Family: x.Family, Proto: proto}, t, name, 0, 0)
	}
	if j.Tuple == nil {
		return missing("tuple")
	}
	if err := tuple(j.Tuple, &x.Tuple, "tuple", x.Proto); err != nil {
		return err
	}
	if j.Mask != nil {
		if err := tuple(j.Mask, &x.Mask, "mask", x.Proto); err != nil {
			return err
		}
		x.Fields |= model.ExpectFieldMask
	}
	if j.Master != nil {
		if err := tuple(j.Master, &x.Master, "master", x.MasterProto); err != nil {
			return err
		}
		x.Fields |= model.ExpectFieldMaster
	}
	setOptional(j.ID, &x.ID, &x.Fields, model.ExpectFieldID)
	if j.Flags != nil {
		for _, n := range j.Flags {
			fl, ok := model.ParseExpectFlag(n)
			if !ok {
				return &JSONError{Field: "flags", Err: fmt.Errorf("unknown flag %q", n)}
			}
			x.Flags |= fl
		}
		x.Fields |= model.ExpectFieldFlags
	}
	setOptional(j.Class, &x.Class, &x.Fields, model.ExpectFieldClass)
	setOptional(j.Zone, &x.Zone, &x.Fields, model.ExpectFieldZone)
	setOptional(j.Helper, &x.Helper, &x.Fields, model.ExpectFieldHelper)
	setOptional(j.Fn, &x.Fn, &x.Fields, model.ExpectFieldFn)
	if n := j.NAT; n != nil {
		switch n.Dir {
		case "orig":
			x.NATDir = 0
		case "reply":
			x.NATDir = 1
		default:
			return &JSONError{Field: "nat.dir", Err: fmt.Errorf("%q is not orig or reply", n.Dir)}
		}
		if n.Tuple == nil {
			return missing("nat.tuple")
		}
		if err := tuple(n.Tuple, &x.NAT, "nat.tuple", x.MasterProto); err != nil {
			return err
		}
		x.Fields |= model.ExpectFieldNAT
	}
	return nil
}
