package filter

import (
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// Filter decides which events `ctwatch watch` writes. It is built by [New],
// is immutable, and is safe for concurrent use. A nil *Filter matches every
// event.
type Filter struct {
	families uint8 // familyIPv4 | familyIPv6; 0 = any

	protos   set256
	hasProto bool

	src, dst []netip.Prefix // sorted, deduplicated; nil = any

	port, sport, dport []portRange // sorted, merged; nil = any

	// states[i] holds the states of stateProtos[i] that match; stateNames
	// are the items as String prints them.
	states     [len(stateProtos)]set256
	stateNames []string
	hasState   bool

	status    statusCond
	hasStatus bool

	zones []uint16   // sorted, deduplicated; nil = any
	marks []markItem // sorted, deduplicated; nil = any

	// The flags below run in userspace only; each ANDs one more condition
	// with those above, except srcMasked and dstMasked, which stand in for
	// src and dst (then nil) when a --mask-src or --mask-dst is not
	// contiguous.

	replySrc, replyDst     []netip.Prefix // sorted, deduplicated; nil = any
	replySPort, replyDPort []portRange    // sorted, merged; nil = any

	srcMasked, dstMasked []maskedAddr // sorted, deduplicated; nil = any

	nat natCond

	labels []labelItem // sorted by bit; every one must be set; nil = any

	origZones, replyZones []uint16 // sorted, deduplicated; nil = any

	icmpTypes, icmpCodes     set256
	hasICMPType, hasICMPCode bool
	icmpIDs                  []uint16 // sorted, deduplicated; nil = any

	secmarks []markItem // sorted, deduplicated; nil = any

	// greKeys are the keys of --srckey, --dstkey, --reply-key-src and
	// --reply-key-dst, each sorted, deduplicated, nil = any.
	greKeys [4][]uint16

	vtag vtagCond // --orig-vtag, --reply-vtag, --role

	// userspace is !userspaceEmpty(), computed once for Match.
	userspace bool
}

const (
	familyIPv4 = 1 << iota
	familyIPv6
)

// stateProtos are the protocols conntrack keeps a state for, in the order
// of Filter.states.
var stateProtos = [...]model.Proto{model.ProtoTCP, model.ProtoSCTP, model.ProtoDCCP}

// set256 is a set of 8-bit values (protocol numbers, states).
type set256 [4]uint64

func (s *set256) add(v uint8)      { s[v>>6] |= 1 << (v & 63) }
func (s *set256) has(v uint8) bool { return s[v>>6]&(1<<(v&63)) != 0 }

// portRange is an inclusive range of ports.
type portRange struct{ lo, hi uint16 }

// markItem matches a mark m when m&mask == value.
type markItem struct{ value, mask uint32 }

// statusCond is a compiled --status. The plain items are ORed: at least one
// bit of anySet is set or one bit of anyClear is clear (when there are plain
// items at all). The negated items are ANDed: every bit of allSet is set and
// every bit of allClear is clear.
type statusCond struct {
	anySet, anyClear model.Status
	allSet, allClear model.Status
}

func (c *statusCond) match(s model.Status) bool {
	if s&c.allSet != c.allSet || s&c.allClear != 0 {
		return false
	}
	if c.anySet|c.anyClear == 0 {
		return true
	}
	return s&c.anySet != 0 || ^s&c.anyClear != 0
}

// satisfiable reports whether some status matches c.
func (c *statusCond) satisfiable() bool {
	if c.allSet&c.allClear != 0 {
		return false
	}
	if c.anySet|c.anyClear == 0 {
		return true
	}
	return c.anySet&^c.allClear != 0 || c.anyClear&^c.allSet != 0
}

// Empty reports whether f constrains nothing, so that the caller can skip
// Match.
func (f *Filter) Empty() bool {
	return f == nil || (f.families == 0 && !f.hasProto && f.src == nil && f.dst == nil &&
		f.port == nil && f.sport == nil && f.dport == nil && !f.hasState &&
		!f.hasStatus && f.zones == nil && f.marks == nil && f.userspaceEmpty())
}

// userspaceEmpty reports whether the userspace-only flags constrain
// nothing.
func (f *Filter) userspaceEmpty() bool {
	return f.replySrc == nil && f.replyDst == nil && f.replySPort == nil && f.replyDPort == nil &&
		f.srcMasked == nil && f.dstMasked == nil && !f.nat.active() && f.labels == nil &&
		f.origZones == nil && f.replyZones == nil && !f.hasICMPType && !f.hasICMPCode &&
		f.icmpIDs == nil && f.secmarks == nil && !f.hasGREKeys() && !f.vtag.active()
}

// Match reports whether ev passes every flag of f. It does not allocate.
func (f *Filter) Match(ev *model.Event) bool {
	if f == nil {
		return true
	}
	e := &ev.Entry
	if f.families != 0 && f.families&familyBit(e.Family) == 0 {
		return false
	}
	if f.hasProto && !f.protos.has(uint8(e.Proto)) {
		return false
	}
	if f.port != nil || f.sport != nil || f.dport != nil {
		if !e.Proto.HasPorts() {
			return false
		}
		sp, dp := e.Orig.SrcPort, e.Orig.DstPort
		if f.port != nil && !inRanges(f.port, sp) && !inRanges(f.port, dp) {
			return false
		}
		if f.sport != nil && !inRanges(f.sport, sp) {
			return false
		}
		if f.dport != nil && !inRanges(f.dport, dp) {
			return false
		}
	}
	if f.hasStatus && !f.status.match(e.Status) {
		return false
	}
	if f.hasState && !f.matchState(e) {
		return false
	}
	if f.zones != nil && !f.matchZone(e) {
		return false
	}
	if f.marks != nil && !f.matchMark(e) {
		return false
	}
	if f.src != nil && !inPrefixes(f.src, addr(e, e.Orig.Src)) {
		return false
	}
	if f.dst != nil && !inPrefixes(f.dst, addr(e, e.Orig.Dst)) {
		return false
	}
	return !f.userspace || f.matchUserspace(e)
}

// matchUserspace checks the flags the kernel filter does not know.
func (f *Filter) matchUserspace(e *model.Entry) bool {
	if f.replySPort != nil || f.replyDPort != nil {
		if !e.Proto.HasPorts() {
			return false
		}
		if f.replySPort != nil && !inRanges(f.replySPort, e.Reply.SrcPort) {
			return false
		}
		if f.replyDPort != nil && !inRanges(f.replyDPort, e.Reply.DstPort) {
			return false
		}
	}
	if f.hasICMPType || f.hasICMPCode || f.icmpIDs != nil {
		if !e.Proto.IsICMP() {
			return false
		}
		if f.hasICMPType && !f.icmpTypes.has(e.Orig.ICMPType) {
			return false
		}
		if f.hasICMPCode && !f.icmpCodes.has(e.Orig.ICMPCode) {
			return false
		}
		if f.icmpIDs != nil && !slices.Contains(f.icmpIDs, e.Orig.ICMPID) {
			return false
		}
	}
	if f.origZones != nil || f.replyZones != nil {
		orig, reply := entryZones(e)
		if f.origZones != nil && !hasZone(f.origZones, orig) {
			return false
		}
		if f.replyZones != nil && !hasZone(f.replyZones, reply) {
			return false
		}
	}
	if f.hasGREKeys() && !f.matchGREKeys(e) {
		return false
	}
	if f.vtag.active() && !f.vtag.match(e) {
		return false
	}
	if f.secmarks != nil {
		var m uint32
		if e.Fields.Has(model.FieldSecmark) {
			m = e.Secmark
		}
		if !inMarks(f.secmarks, m) {
			return false
		}
	}
	if f.labels != nil && !matchLabels(f.labels, e) {
		return false
	}
	if f.nat.active() && !f.nat.match(e) {
		return false
	}
	if f.srcMasked != nil && !inMasked(f.srcMasked, addr(e, e.Orig.Src)) {
		return false
	}
	if f.dstMasked != nil && !inMasked(f.dstMasked, addr(e, e.Orig.Dst)) {
		return false
	}
	if f.replySrc != nil && !inPrefixes(f.replySrc, addr(e, e.Reply.Src)) {
		return false
	}
	if f.replyDst != nil && !inPrefixes(f.replyDst, addr(e, e.Reply.Dst)) {
		return false
	}
	return true
}

// addr returns a of entry e in the form of e's family: a decoder that kept
// an IPv4 entry's address in 16 bytes must not hide it from IPv4 prefixes.
// Addresses of IPv6 entries are left alone, IPv4-mapped or not.
func addr(e *model.Entry, a netip.Addr) netip.Addr {
	if e.Family == model.FamilyIPv4 {
		return a.Unmap()
	}
	return a
}

func familyBit(fam model.Family) uint8 {
	switch fam {
	case model.FamilyIPv4:
		return familyIPv4
	case model.FamilyIPv6:
		return familyIPv6
	}
	return 0
}

func inRanges(rs []portRange, p uint16) bool {
	for _, r := range rs {
		if p < r.lo {
			return false // sorted: no later range can hold p
		}
		if p <= r.hi {
			return true
		}
	}
	return false
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (f *Filter) matchState(e *model.Entry) bool {
	if !e.Fields.Has(model.FieldState) {
		return false
	}
	for i, p := range stateProtos {
		if p == e.Proto {
			return f.states[i].has(uint8(e.State))
		}
	}
	return false
}

// matchZone follows the kernel's nf_ct_zone_id: a direction's zone is the
// zone given for that direction, else the zone given for both, else 0.
func (f *Filter) matchZone(e *model.Entry) bool {
	orig, reply := entryZones(e)
	return hasZone(f.zones, orig) || (reply != orig && hasZone(f.zones, reply))
}

func (f *Filter) hasGREKeys() bool {
	return f.greKeys[0] != nil || f.greKeys[1] != nil || f.greKeys[2] != nil || f.greKeys[3] != nil
}

// matchGREKeys checks the GRE key flags; ctnetlink carries GRE keys where
// ports would be. (libnetfilter_conntrack's comparison skips GRE's keys,
// so that conntrack -E --srckey matches every GRE entry; ctwatch compares
// them.)
func (f *Filter) matchGREKeys(e *model.Entry) bool {
	if e.Proto != model.ProtoGRE {
		return false
	}
	keys := [4]uint16{e.Orig.SrcPort, e.Orig.DstPort, e.Reply.SrcPort, e.Reply.DstPort}
	for i, want := range f.greKeys {
		if want != nil && !slices.Contains(want, keys[i]) {
			return false
		}
	}
	return true
}

// entryZones returns the zone of each direction of e, as nf_ct_zone_id
// takes them.
func entryZones(e *model.Entry) (orig, reply uint16) {
	var both uint16
	if e.Fields.Has(model.FieldZone) {
		both = e.Zone
	}
	orig, reply = both, both
	if e.Fields.Has(model.FieldOrigZone) {
		orig = e.Orig.Zone
	}
	if e.Fields.Has(model.FieldReplyZone) {
		reply = e.Reply.Zone
	}
	return orig, reply
}

func hasZone(zones []uint16, z uint16) bool {
	for _, v := range zones {
		if v == z {
			return true
		}
	}
	return false
}

func (f *Filter) matchMark(e *model.Entry) bool {
	var m uint32
	if e.Fields.Has(model.FieldMark) {
		m = e.Mark
	}
	return inMarks(f.marks, m)
}

func inMarks(marks []markItem, m uint32) bool {
	for _, it := range marks {
		if m&it.mask == it.value {
			return true
		}
	}
	return false
}

// String describes f in canonical flag form, such as
// "--proto=tcp --dport=22,8000-8999 --status=unreplied,!assured", or "any"
// when f constrains nothing. Items are normalised, sorted and deduplicated,
// so that equal filters print alike; the values after each '=' given back to
// [New] in a [Spec] (a bare --src-nat, --dst-nat or --any-nat as its bool,
// and the same [Spec.LabelNames]) yield an equivalent filter.
func (f *Filter) String() string {
	if f.Empty() {
		return "any"
	}
	var b strings.Builder
	flag := func(name string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(name)
		b.WriteByte('=')
	}
	if f.families != 0 {
		flag(flagFamily)
		sep := ""
		if f.families&familyIPv4 != 0 {
			b.WriteString("ipv4")
			sep = ","
		}
		if f.families&familyIPv6 != 0 {
			b.WriteString(sep + "ipv6")
		}
	}
	if f.hasProto {
		flag(flagProto)
		sep := ""
		for i := range 256 {
			if f.protos.has(uint8(i)) {
				b.WriteString(sep + model.Proto(i).JSONName())
				sep = ","
			}
		}
	}
	writePrefixes := func(name string, ps []netip.Prefix) {
		if ps == nil {
			return
		}
		flag(name)
		for i, p := range ps {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(prefixString(p))
		}
	}
	srcItems, srcMasks := maskedStrings(f.srcMasked)
	dstItems, dstMasks := maskedStrings(f.dstMasked)
	writePrefixes(flagSrc, f.src)
	if f.srcMasked != nil {
		flag(flagSrc)
		b.WriteString(srcItems)
	}
	writePrefixes(flagDst, f.dst)
	if f.dstMasked != nil {
		flag(flagDst)
		b.WriteString(dstItems)
	}
	writePorts := func(name string, rs []portRange) {
		if rs == nil {
			return
		}
		flag(name)
		for i, r := range rs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(int(r.lo)))
			if r.hi != r.lo {
				b.WriteString("-" + strconv.Itoa(int(r.hi)))
			}
		}
	}
	writePorts(flagPort, f.port)
	writePorts(flagSPort, f.sport)
	writePorts(flagDPort, f.dport)
	if f.hasState {
		flag(flagState)
		b.WriteString(strings.Join(f.stateNames, ","))
	}
	if f.hasStatus {
		flag(flagStatus)
		b.WriteString(strings.Join(f.status.items(), ","))
	}
	writeZones := func(name string, zs []uint16) {
		if zs == nil {
			return
		}
		flag(name)
		for i, z := range zs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(int(z)))
		}
	}
	writeZones(flagZone, f.zones)
	writeMarks := func(name string, ms []markItem) {
		if ms == nil {
			return
		}
		flag(name)
		for i, m := range ms {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("0x" + strconv.FormatUint(uint64(m.value), 16))
			if m.mask != ^uint32(0) {
				b.WriteString("/0x" + strconv.FormatUint(uint64(m.mask), 16))
			}
		}
	}
	writeMarks(flagMark, f.marks)

	writePrefixes(flagReplySrc, f.replySrc)
	writePrefixes(flagReplyDst, f.replyDst)
	writePorts(flagReplySPort, f.replySPort)
	writePorts(flagReplyDPort, f.replyDPort)
	if srcMasks != "" {
		flag(flagMaskSrc)
		b.WriteString(srcMasks)
	}
	if dstMasks != "" {
		flag(flagMaskDst)
		b.WriteString(dstMasks)
	}
	writeNAT := func(name string, items []natItem) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(name)
		if items != nil {
			b.WriteString("=" + natString(items))
		}
	}
	switch n := &f.nat; {
	case n.any:
		writeNAT(flagAnyNAT, n.srcItems)
	default:
		if n.src {
			writeNAT(flagSrcNAT, n.srcItems)
		}
		if n.dst {
			writeNAT(flagDstNAT, n.dstItems)
		}
	}
	if f.labels != nil {
		flag(flagLabel)
		for i, l := range f.labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l.String())
		}
	}
	writeZones(flagOrigZone, f.origZones)
	writeZones(flagReplyZone, f.replyZones)
	writeBytes := func(name string, has bool, s *set256) {
		if !has {
			return
		}
		flag(name)
		sep := ""
		for i := range 256 {
			if s.has(uint8(i)) {
				b.WriteString(sep + strconv.Itoa(i))
				sep = ","
			}
		}
	}
	writeBytes(flagICMPType, f.hasICMPType, &f.icmpTypes)
	writeBytes(flagICMPCode, f.hasICMPCode, &f.icmpCodes)
	writeZones(flagICMPID, f.icmpIDs)
	writeMarks(flagSecmark, f.secmarks)
	for i, name := range [...]string{flagSrcKey, flagDstKey, flagReplySKey, flagReplyDKey} {
		if f.greKeys[i] == nil {
			continue
		}
		flag(name)
		for j, k := range f.greKeys[i] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString("0x" + strconv.FormatUint(uint64(k), 16))
		}
	}
	f.vtag.write(&b)
	return b.String()
}

// items returns c's canonical --status items: plain ones first, then
// negated ones, each group in bit order.
func (c *statusCond) items() []string {
	var out []string
	each := func(set, clear model.Status, prefix string) {
		for v := uint32(set | clear); v != 0; v &= v - 1 {
			bit := model.Status(1) << bits.TrailingZeros32(v)
			if set&bit != 0 {
				out = append(out, prefix+statusItemName(bit, true))
			}
			if clear&bit != 0 {
				out = append(out, prefix+statusItemName(bit, false))
			}
		}
	}
	each(c.anySet, c.anyClear, "")
	// A negated item is printed as the plain item it negates: a bit that
	// must be clear is "!name", a bit that must be set "!unreplied".
	each(c.allClear, c.allSet, "!")
	return out
}

// statusItemName names the condition "bit is set" (set) or "bit is clear"
// (!set). Only SEEN_REPLY has a name for being clear, and parsing yields no
// other clear condition.
func statusItemName(bit model.Status, set bool) string {
	if bit == model.StatusSeenReply {
		if set {
			return "replied"
		}
		return "unreplied"
	}
	return strings.ToLower(model.StatusBitName(bits.TrailingZeros32(uint32(bit))))
}
