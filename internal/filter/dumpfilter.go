package filter

import (
	"math/bits"
	"net/netip"

	// Aliased: the package's tests have an events helper.
	ctevents "github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// DumpFilter returns the part of f that the kernel's dump filter expresses
// exactly, so that a dump lists every entry Match selects and, where f is
// no finer than the kernel's filter, only those; Match still decides on
// every entry listed. The parts are:
//
//   - the family: --family of one family, or, without --family, the one
//     family of every --src and --dst item (a prefix matches entries of
//     its family only);
//   - with a family, the original tuple's protocol (--proto of one
//     protocol), source and destination (--src, --dst of one IPv4
//     address, not a prefix: the kernel compares IPv6 addresses inverted,
//     see events.DumpTuple), and with TCP or UDP its ports (--sport,
//     --dport of one port, not a range; --port, either port, is not
//     expressible);
//   - the mark (--mark of one item, VALUE/MASK as the kernel's
//     CTA_MARK_MASK);
//   - the zone (--zone of one zone but 0: the kernel compares an entry's
//     one zone id, where Match puts a direction the entry's zone does not
//     apply to in zone 0);
//   - the status bits that must be set or clear: every negated --status
//     item, and a plain one when it is the only one (plain items are
//     alternatives).
//
// The protocol state (--state) is not in the kernel's dump filter. A nil
// or empty f gives the zero filter.
func (f *Filter) DumpFilter() ctevents.DumpFilter {
	var d ctevents.DumpFilter
	if f.Empty() {
		return d
	}
	d.Family = f.dumpFamily()
	if d.Family != 0 {
		d.Orig = f.dumpTuple(d.Family)
	}
	if len(f.marks) == 1 {
		d.Mark, d.MarkMask = f.marks[0].value, f.marks[0].mask
	}
	if len(f.zones) == 1 && f.zones[0] != 0 {
		d.Zone, d.HasZone = f.zones[0], true
	}
	if f.hasStatus {
		d.Status, d.StatusMask = f.status.conjunction()
	}
	return d
}

// dumpFamily is the one family every entry f matches is of, or 0:
// --family's, or without it that of every --src and --dst item.
func (f *Filter) dumpFamily() model.Family {
	fam := f.families
	if fam == 0 {
		for _, ps := range [][]netip.Prefix{f.src, f.dst} {
			for _, p := range ps {
				if p.Addr().Is4() {
					fam |= familyIPv4
				} else {
					fam |= familyIPv6
				}
			}
		}
	}
	switch fam {
	case familyIPv4:
		return model.FamilyIPv4
	case familyIPv6:
		return model.FamilyIPv6
	}
	return 0
}

// dumpTuple is the part of f on the original tuple the kernel compares
// exactly, for entries of family fam.
func (f *Filter) dumpTuple(fam model.Family) ctevents.DumpTuple {
	var t ctevents.DumpTuple
	// IPv4 only: the kernel compares IPv6 addresses inverted (see
	// events.DumpTuple).
	single := func(ps []netip.Prefix) netip.Addr {
		if fam != model.FamilyIPv4 || len(ps) != 1 || !ps[0].IsSingleIP() || !ps[0].Addr().Is4() {
			return netip.Addr{}
		}
		return ps[0].Addr()
	}
	t.Src, t.Dst = single(f.src), single(f.dst)
	if p, ok := f.singleProto(); ok {
		t.Proto, t.HasProto = p, true
		if p == model.ProtoTCP || p == model.ProtoUDP {
			if len(f.sport) == 1 && f.sport[0].lo == f.sport[0].hi {
				t.SrcPort, t.HasSrcPort = f.sport[0].lo, true
			}
			if len(f.dport) == 1 && f.dport[0].lo == f.dport[0].hi {
				t.DstPort, t.HasDstPort = f.dport[0].lo, true
			}
		}
	}
	return t
}

// singleProto is the one protocol --proto names, if it names one.
func (f *Filter) singleProto() (model.Proto, bool) {
	if !f.hasProto {
		return 0, false
	}
	n, p := 0, 0
	for i, w := range f.protos {
		if c := bits.OnesCount64(w); c > 0 {
			n += c
			p = i*64 + bits.TrailingZeros64(w)
		}
	}
	return model.Proto(p), n == 1
}

// conjunction is the part of c that is one condition on bits: the bits
// of mask must equal those of value. The negated items are such a
// condition; a plain item joins it when it is the only one.
func (c *statusCond) conjunction() (value, mask model.Status) {
	value, mask = c.allSet, c.allSet|c.allClear
	switch {
	case c.anyClear == 0 && bits.OnesCount32(uint32(c.anySet)) == 1:
		value, mask = value|c.anySet, mask|c.anySet
	case c.anySet == 0 && bits.OnesCount32(uint32(c.anyClear)) == 1:
		mask |= c.anyClear
	}
	return value, mask
}
