package events

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// ErrInvalidDumpFilter is returned (wrapped) by DumpFilter.Validate and
// DumpFiltered for a filter the kernel would refuse or could not apply as
// written.
var ErrInvalidDumpFilter = errors.New("invalid dump filter")

// ErrFilterRefused is returned (wrapped, with the kernel's errno) by
// DumpFiltered when the kernel refused the filter of the request before
// listing any entry: a kernel without connmark support or one that does
// not know an attribute of the filter (EOPNOTSUPP), or one whose parser
// rejects an attribute (EINVAL). The caller may dump again without the filter.
var ErrFilterRefused = errors.New("kernel refused the dump filter")

// DumpFilter asks the kernel to list only some entries of a dump
// (ctnetlink's dump filter: the family of the request, CTA_MARK and
// CTA_MARK_MASK, CTA_STATUS and CTA_STATUS_MASK, CTA_ZONE, and exact tuple
// values under CTA_FILTER). An entry is listed when it passes every part
// that is set; the zero DumpFilter lists every entry. Every part compares
// exactly, so that a caller holding a finer filter (prefixes, ranges,
// alternatives) can give the kernel the part it expresses and match what
// the dump returns against the rest. A kernel older than a part may
// ignore it (CTA_STATUS and CTA_ZONE came to dumps after CTA_FILTER): the
// kernel filter only makes a dump cheaper, never the caller's own check
// unnecessary. Linux 6.18 honours every part.
type DumpFilter struct {
	// Family lists only entries of this family; 0 lists both. A tuple
	// filter (Orig, Reply) needs one.
	Family model.Family
	// MarkMask, when not 0, lists entries whose connmark ANDed with
	// MarkMask is Mark ANDed with MarkMask.
	Mark, MarkMask uint32
	// StatusMask, when not 0, lists entries whose status ANDed with
	// StatusMask is Status ANDed with StatusMask: the bits of StatusMask
	// that Status sets must be set, the others clear.
	Status, StatusMask model.Status
	// HasZone lists only entries of zone Zone: the kernel compares the
	// entry's zone id, whichever directions it applies to.
	Zone    uint16
	HasZone bool
	// Orig and Reply list only entries whose original (reply) tuple has
	// the values set.
	Orig, Reply DumpTuple
}

// DumpTuple is the part of a DumpFilter on one direction's tuple. Ports
// need a protocol, TCP or UDP: the kernel compares the ports of no other.
// Addresses are IPv4 only: the kernel's dump filter compares IPv6
// addresses the wrong way round (ctnetlink_filter_match_tuple skips an
// entry when !ipv6_addr_cmp, that is when the addresses are equal, so
// that a filter on one IPv6 address would list every other; so through
// Linux 6.18 at least).
type DumpTuple struct {
	// Src and Dst, when valid, are the exact IPv4 addresses, of a filter
	// of FamilyIPv4.
	Src, Dst netip.Addr
	// HasProto compares the protocol with Proto.
	Proto    model.Proto
	HasProto bool
	// HasSrcPort and HasDstPort compare the ports with SrcPort and
	// DstPort.
	SrcPort, DstPort       uint16
	HasSrcPort, HasDstPort bool
}

// IsZero reports whether t compares nothing.
func (t DumpTuple) IsZero() bool {
	return !t.Src.IsValid() && !t.Dst.IsValid() && !t.HasProto && !t.HasSrcPort && !t.HasDstPort
}

// IsZero reports whether f filters nothing: a dump with it lists every
// entry.
func (f DumpFilter) IsZero() bool {
	return f.Family == 0 && f.MarkMask == 0 && f.StatusMask == 0 && !f.HasZone && f.Orig.IsZero() && f.Reply.IsZero()
}

// Validate reports, wrapping ErrInvalidDumpFilter, what in f the kernel
// would refuse or not apply as meant: a family other than IPv4 and IPv6,
// a tuple filter without a family or with an address of another family,
// an IPv6 address, ports without TCP or UDP.
func (f DumpFilter) Validate() error {
	if f.Family != 0 && f.Family != model.FamilyIPv4 && f.Family != model.FamilyIPv6 {
		return fmt.Errorf("family %d: %w", f.Family, ErrInvalidDumpFilter)
	}
	for _, d := range []struct {
		name string
		t    DumpTuple
	}{{"orig", f.Orig}, {"reply", f.Reply}} {
		t := d.t
		if t.IsZero() {
			continue
		}
		if f.Family == 0 {
			return fmt.Errorf("%s tuple without a family: %w", d.name, ErrInvalidDumpFilter)
		}
		for _, a := range []netip.Addr{t.Src, t.Dst} {
			if a.IsValid() && a.Is4() != (f.Family == model.FamilyIPv4) {
				return fmt.Errorf("%s address %v in a filter of %s: %w", d.name, a, f.Family, ErrInvalidDumpFilter)
			}
			if a.IsValid() && !a.Is4() {
				return fmt.Errorf("%s address %v: the kernel compares IPv6 addresses the wrong way round: %w", d.name, a, ErrInvalidDumpFilter)
			}
		}
		if (t.HasSrcPort || t.HasDstPort) && (!t.HasProto || (t.Proto != model.ProtoTCP && t.Proto != model.ProtoUDP)) {
			return fmt.Errorf("%s ports without TCP or UDP: %w", d.name, ErrInvalidDumpFilter)
		}
	}
	return nil
}

// wire is f as internal/ctnl encodes it.
func (f DumpFilter) wire() ctnl.DumpFilter {
	return ctnl.DumpFilter{
		Family: uint8(f.Family),
		Mark:   f.Mark, MarkMask: f.MarkMask,
		Status: ctnl.Status(f.Status), StatusMask: ctnl.Status(f.StatusMask),
		Zone: f.Zone, HasZone: f.HasZone,
		Orig: f.Orig.wire(), Reply: f.Reply.wire(),
	}
}

func (t DumpTuple) wire() ctnl.TupleFilter {
	w := ctnl.TupleFilter{Src: t.Src, Dst: t.Dst, Proto: uint8(t.Proto), SrcPort: t.SrcPort, DstPort: t.DstPort}
	if t.Src.IsValid() {
		w.Flags |= ctnl.FilterIPSrc
	}
	if t.Dst.IsValid() {
		w.Flags |= ctnl.FilterIPDst
	}
	if t.HasProto {
		w.Flags |= ctnl.FilterProtoNum
	}
	if t.HasSrcPort {
		w.Flags |= ctnl.FilterProtoSrcPort
	}
	if t.HasDstPort {
		w.Flags |= ctnl.FilterProtoDstPort
	}
	return w
}
