package filter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/net/bpf"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// MaxInstructions is the longest classic BPF program the kernel attaches
// to a socket (BPF_MAXINSNS).
const MaxInstructions = 4096

// ErrProgramTooLarge is wrapped by the error of [Filter.BPF] when the
// filter's program would be longer than [MaxInstructions].
var ErrProgramTooLarge = errors.New("kernel filter program too large")

// Offsets in a ctnetlink message as the socket filter sees it: struct
// nlmsghdr (16 bytes, host order), struct nfgenmsg (4 bytes), attributes.
const (
	offNlmsgType = 4
	offFamily    = ctnl.NLMsgHdrLen
	offAttrs     = ctnl.NLMsgHdrLen + ctnl.NFGenMsgLen
	attrPayload  = ctnl.NLAHdrLen
)

// Scratch memory cells of the program (16 in classic BPF). A cell is
// written before any path reads it: the kernel refuses a program that may
// read a cell it has not written.
const (
	memOrig      = iota // offset of CTA_TUPLE_ORIG, 0 if absent
	memProtoNest        // offset of its CTA_TUPLE_PROTO, 0 if absent
	memProto            // CTA_PROTO_NUM, 0 if absent
	memSPort            // CTA_PROTO_SRC_PORT, 0 if absent
	memDPort            // CTA_PROTO_DST_PORT, 0 if absent
	memStatus           // CTA_STATUS, 0 if absent
	memZone             // CTA_ZONE, 0 if absent
	memIPNest           // offset of the original CTA_TUPLE_IP, 0 if absent
	memMark             // CTA_MARK, 0 if absent
)

// nlmsgTypeBE is the nlmsg_type t as a BPF half-word load (big-endian)
// reads it from the host-order header.
func nlmsgTypeBE(t ctnl.HeaderType) uint32 {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], uint16(t))
	return uint32(binary.BigEndian.Uint16(b[:]))
}

// Kernel returns the part of f that [Filter.BPF] compiles, as a Filter
// whose Match is the program's verdict on an entry: what a socket with the
// program receives of the events, and what the watch keeps of its dumps
// (which the program does not see). Nil for a nil f.
func (f *Filter) Kernel() *Filter {
	if f == nil {
		return nil
	}
	return &Filter{
		families: f.families,
		protos:   f.protos, hasProto: f.hasProto,
		src: f.src, dst: f.dst,
		port: f.port, sport: f.sport, dport: f.dport,
		states: f.states, stateNames: f.stateNames, hasState: f.hasState,
		status: f.status, hasStatus: f.hasStatus,
		zones: f.zones,
		marks: f.marks,
	}
}

// userPart returns f without the criteria BPF compiles: what only the
// userspace Match checks. Criteria added to Filter later stay in it until
// BPF learns them.
func (f *Filter) userPart() *Filter {
	if f == nil {
		return nil
	}
	u := *f
	u.families = 0
	u.protos, u.hasProto = set256{}, false
	u.src, u.dst = nil, nil
	u.port, u.sport, u.dport = nil, nil, nil
	u.states, u.stateNames, u.hasState = [len(stateProtos)]set256{}, nil, false
	u.status, u.hasStatus = statusCond{}, false
	u.zones = nil
	u.marks = nil
	return &u
}

// Split describes, in the canonical flag form of [Filter.String], the part
// of f that [Filter.BPF] compiles into the kernel's program and the part
// that only the userspace Match checks; "any" when a part is empty.
func (f *Filter) Split() (kernel, user string) {
	return f.Kernel().String(), f.userPart().String()
}

// BPF compiles f into a classic BPF program for the conntrack event socket
// (SO_ATTACH_FILTER): it accepts an IPCTNL_MSG_CT_NEW or _DELETE message
// exactly when Match would accept the decoded event for every criterion
// the program compiles (see [Filter.Split]), and accepts every other
// message (expectations, NLMSG_DONE, NLMSG_ERROR, anything unexpected) for
// userspace to decide. Match must still run on every event received: it
// checks the criteria the program does not compile.
//
// The program reads the attributes with the kernel's netlink extensions
// (SKF_AD_NLATTR, SKF_AD_NLATTR_NEST), as libnetfilter_conntrack's
// nfct_filter_attach does, and takes what the kernel sends as given: each
// attribute once, at its size, and the family in struct nfgenmsg. An
// absent attribute counts as Match counts it: mark, zone, status, ports
// and protocol 0, no state.
//
// BPF returns nil and no error when f has no criterion it compiles
// (nothing to attach), and an error wrapping [ErrProgramTooLarge], naming
// the filter, when the program would be longer than [MaxInstructions].
func (f *Filter) BPF() ([]bpf.RawInstruction, error) {
	k := f.Kernel()
	if k.Empty() {
		return nil, nil
	}
	g := &generator{f: k}
	g.program()
	prog, err := g.assemble()
	if err != nil {
		return nil, fmt.Errorf("kernel filter %s: %w", shorten(k.String()), err)
	}
	if len(prog) > MaxInstructions {
		return nil, fmt.Errorf("kernel filter %s: program of %d instructions is longer than the kernel's %d: %w",
			shorten(k.String()), len(prog), MaxInstructions, ErrProgramTooLarge)
	}
	return prog, nil
}

// generator writes the program of one filter. Every criterion is a block
// that falls through to the next when it holds and jumps to reject when it
// does not; the values several criteria read are loaded into scratch
// memory once, by the first block that needs them.
type generator struct {
	assembler
	f              *Filter
	accept, reject label
	have           [16]bool // scratch cells written on every path so far
}

func (g *generator) program() {
	g.accept, g.reject = g.newLabel(), g.newLabel()
	ours := g.newLabel()
	// Anything but a conntrack entry message is userspace's to decide.
	g.emit(bpf.LoadExtension{Num: bpf.ExtLen})
	next := g.newLabel()
	g.jump(bpf.JumpGreaterOrEqual, offAttrs, next, g.accept)
	g.mark(next)
	g.emit(bpf.LoadAbsolute{Off: offNlmsgType, Size: 2})
	next = g.newLabel()
	g.jump(bpf.JumpEqual, nlmsgTypeBE(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtNew)), ours, next)
	g.mark(next)
	g.jump(bpf.JumpEqual, nlmsgTypeBE(ctnl.NFNLType(ctnl.NFNLSubsysCTNetlink, ctnl.IPCTNLMsgCtDelete)), ours, g.accept)
	g.mark(ours)

	f := g.f
	if f.families != 0 {
		g.family()
	}
	if protos, ok := g.protoSet(); ok {
		g.load(memProto)
		g.inRanges(set256Ranges(&protos))
	}
	g.ports()
	if f.hasStatus {
		g.statusBlock()
	}
	if f.hasState {
		g.state()
	}
	if f.marks != nil {
		g.mark32()
	}
	if f.zones != nil {
		g.zone()
	}
	if f.src != nil {
		g.addrs(f.src, ctnl.CTAIPV4Src, ctnl.CTAIPV6Src)
	}
	if f.dst != nil {
		g.addrs(f.dst, ctnl.CTAIPV4Dst, ctnl.CTAIPV6Dst)
	}
	g.mark(g.accept)
	g.emit(bpf.RetConstant{Val: ^uint32(0)})
	g.mark(g.reject)
	g.emit(bpf.RetConstant{Val: 0})
}

// inRanges falls through when A is in one of rs (sorted, disjoint) and
// jumps to reject otherwise.
func (g *generator) inRanges(rs []valueRange) {
	ok := g.newLabel()
	g.rangeTest(rs, ok, g.reject)
	g.mark(ok)
}

// valueRange is an inclusive range of values.
type valueRange struct{ lo, hi uint32 }

// rangeChunk is the most ranges rangeTest tests before it places jumps to
// ok and fail within reach of the next tests: a long list's conditional
// jumps stay short (one instruction each) instead of each becoming a
// conditional jump over a long one.
const rangeChunk = 100

// rangeTest jumps to ok when A is in one of rs (sorted, disjoint, not
// touching) and to fail otherwise.
func (g *generator) rangeTest(rs []valueRange, ok, fail label) {
	if len(rs) == 0 {
		g.goTo(fail)
		return
	}
	for len(rs) > rangeChunk {
		near, nearFail, next := g.newLabel(), g.newLabel(), g.newLabel()
		g.rangeChunk(rs[:rangeChunk], near, nearFail, next)
		g.mark(near)
		g.goTo(ok)
		g.mark(nearFail)
		g.goTo(fail)
		g.mark(next)
		rs = rs[rangeChunk:]
	}
	g.rangeChunk(rs, ok, fail, fail)
}

// rangeChunk jumps to ok when A is in one of rs, to fail when it is below
// the one it is tested against, and to rest when it is above the last.
func (g *generator) rangeChunk(rs []valueRange, ok, fail, rest label) {
	for i, r := range rs {
		next := rest
		if i < len(rs)-1 {
			next = g.newLabel()
		}
		if r.lo == r.hi {
			g.jump(bpf.JumpEqual, r.lo, ok, next)
		} else {
			// Sorted: below this range's start, A is below every later
			// one too.
			if r.lo > 0 {
				in := g.newLabel()
				g.jump(bpf.JumpGreaterOrEqual, r.lo, in, fail)
				g.mark(in)
			}
			g.jump(bpf.JumpGreaterThan, r.hi, next, ok)
		}
		if next != rest {
			g.mark(next)
		}
	}
}

// set256Ranges returns the runs of s as ranges.
func set256Ranges(s *set256) []valueRange {
	var rs []valueRange
	for v := 0; v < 256; v++ {
		if !s.has(uint8(v)) {
			continue
		}
		if n := len(rs); n > 0 && rs[n-1].hi == uint32(v)-1 {
			rs[n-1].hi = uint32(v)
			continue
		}
		rs = append(rs, valueRange{uint32(v), uint32(v)})
	}
	return rs
}

func portRanges(ps []portRange) []valueRange {
	rs := make([]valueRange, len(ps))
	for i, p := range ps {
		rs[i] = valueRange{uint32(p.lo), uint32(p.hi)}
	}
	return rs
}

// zoneRanges returns the runs of sorted, deduplicated zones as ranges.
func zoneRanges(zs []uint16) []valueRange {
	var rs []valueRange
	for _, z := range zs {
		if n := len(rs); n > 0 && rs[n-1].hi+1 == uint32(z) {
			rs[n-1].hi = uint32(z)
			continue
		}
		rs = append(rs, valueRange{uint32(z), uint32(z)})
	}
	return rs
}

// findTop sets A to the offset of the top-level attribute typ, 0 if absent.
func (g *generator) findTop(typ ctnl.AttrType) {
	g.emit(bpf.LoadConstant{Dst: bpf.RegA, Val: offAttrs},
		bpf.LoadConstant{Dst: bpf.RegX, Val: uint32(typ)},
		bpf.LoadExtension{Num: bpf.ExtNetlinkAttr})
}

// findIn sets A to the offset of the attribute typ in the nest at offset
// A, and jumps to absent, with A = 0, when A is 0 or the nest has none.
func (g *generator) findIn(typ ctnl.AttrType, absent label) {
	next := g.newLabel()
	g.jump(bpf.JumpEqual, 0, absent, next)
	g.mark(next)
	g.emit(bpf.LoadConstant{Dst: bpf.RegX, Val: uint32(typ)},
		bpf.LoadExtension{Num: bpf.ExtNetlinkAttrNested})
}

// payload loads the big-endian value of size bytes of the attribute at
// offset A into A, or jumps to absent, with A = 0, when A is 0.
func (g *generator) payload(size int, absent label) {
	next := g.newLabel()
	g.jump(bpf.JumpEqual, 0, absent, next)
	g.mark(next)
	g.emit(bpf.TAX{}, bpf.LoadIndirect{Off: attrPayload, Size: size})
}

// load sets A to the value of scratch cell m, computing and storing it
// first if no earlier block has.
func (g *generator) load(m int) {
	if !g.have[m] {
		g.compute(m)
		g.emit(bpf.StoreScratch{Src: bpf.RegA, N: m})
		g.have[m] = true
		return
	}
	g.emit(bpf.LoadScratch{Dst: bpf.RegA, N: m})
}

// compute sets A to the value of scratch cell m (0 for anything absent).
func (g *generator) compute(m int) {
	done := g.newLabel()
	switch m {
	case memOrig:
		g.findTop(ctnl.CTATupleOrig)
	case memProtoNest:
		g.load(memOrig)
		g.findIn(ctnl.CTATupleProto, done)
	case memIPNest:
		g.load(memOrig)
		g.findIn(ctnl.CTATupleIP, done)
	case memProto:
		g.load(memProtoNest)
		g.findIn(ctnl.CTAProtoNum, done)
		g.payload(1, done)
	case memSPort, memDPort:
		typ := ctnl.CTAProtoSrcPort
		if m == memDPort {
			typ = ctnl.CTAProtoDstPort
		}
		g.load(memProtoNest)
		g.findIn(typ, done)
		g.payload(2, done)
	case memStatus:
		g.findTop(ctnl.CTAStatus)
		g.payload(4, done)
	case memZone:
		g.findTop(ctnl.CTAZone)
		g.payload(2, done)
	case memMark:
		g.findTop(ctnl.CTAMark)
		g.payload(4, done)
	default:
		panic(fmt.Sprintf("filter: no scratch cell %d", m))
	}
	g.mark(done)
}

func (g *generator) family() {
	var rs []valueRange
	if g.f.families&familyIPv4 != 0 {
		rs = append(rs, valueRange{uint32(model.FamilyIPv4), uint32(model.FamilyIPv4)})
	}
	if g.f.families&familyIPv6 != 0 {
		rs = append(rs, valueRange{uint32(model.FamilyIPv6), uint32(model.FamilyIPv6)})
	}
	g.emit(bpf.LoadAbsolute{Off: offFamily, Size: 1})
	g.inRanges(rs)
}

// protoSet returns the protocols an entry may have, from --proto and the
// port flags (which only protocols with ports pass), and whether that is a
// constraint: one test for both.
func (g *generator) protoSet() (set256, bool) {
	f := g.f
	var s set256
	for i := range s {
		s[i] = ^uint64(0)
	}
	constrained := false
	if f.hasProto {
		s, constrained = f.protos, true
	}
	if f.port != nil || f.sport != nil || f.dport != nil {
		var ports set256
		for _, p := range []model.Proto{model.ProtoTCP, model.ProtoUDP, model.ProtoUDPLite, model.ProtoSCTP, model.ProtoDCCP} {
			if !p.HasPorts() {
				panic("filter: port protocol list out of date")
			}
			ports.add(uint8(p))
		}
		for i := range s {
			s[i] &= ports[i]
		}
		constrained = true
	}
	return s, constrained
}

// ports checks the port flags; protoSet has checked the protocol.
func (g *generator) ports() {
	f := g.f
	if f.port != nil {
		ok, tryDst := g.newLabel(), g.newLabel()
		g.load(memSPort)
		g.load(memDPort) // both stored before the branch: later blocks read them
		g.emit(bpf.LoadScratch{Dst: bpf.RegA, N: memSPort})
		g.rangeTest(portRanges(f.port), ok, tryDst)
		g.mark(tryDst)
		g.load(memDPort)
		g.rangeTest(portRanges(f.port), ok, g.reject)
		g.mark(ok)
	}
	if f.sport != nil {
		g.load(memSPort)
		g.inRanges(portRanges(f.sport))
	}
	if f.dport != nil {
		g.load(memDPort)
		g.inRanges(portRanges(f.dport))
	}
}

// statusBlock checks statusCond.match on CTA_STATUS.
func (g *generator) statusBlock() {
	c := g.f.status
	if c.allSet != 0 {
		g.load(memStatus)
		g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: uint32(c.allSet)})
		g.inRanges([]valueRange{{uint32(c.allSet), uint32(c.allSet)}})
	}
	if c.allClear != 0 {
		g.load(memStatus)
		ok := g.newLabel()
		g.jump(bpf.JumpBitsSet, uint32(c.allClear), g.reject, ok)
		g.mark(ok)
	}
	if c.anySet|c.anyClear == 0 {
		return
	}
	ok := g.newLabel()
	if c.anySet != 0 {
		g.load(memStatus)
		next := g.reject
		if c.anyClear != 0 {
			next = g.newLabel()
		}
		g.jump(bpf.JumpBitsSet, uint32(c.anySet), ok, next)
		if next != g.reject {
			g.mark(next)
		}
	}
	if c.anyClear != 0 {
		// Some bit of anyClear is clear: the masked status is not all of
		// anyClear.
		g.load(memStatus)
		g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: uint32(c.anyClear)})
		g.jump(bpf.JumpEqual, uint32(c.anyClear), g.reject, ok)
	}
	g.mark(ok)
}

// protoinfoTypes are the CTA_PROTOINFO children of stateProtos, in order.
var protoinfoTypes = [len(stateProtos)]ctnl.AttrType{ctnl.CTAProtoinfoTCP, ctnl.CTAProtoinfoSCTP, ctnl.CTAProtoinfoDCCP}

// state checks the protocol state of the entry's protocol; an entry of
// another protocol, or without a state, does not match.
func (g *generator) state() {
	f := g.f
	g.load(memProto)
	ok := g.newLabel()
	var branches []label
	var idx []int
	for i, p := range stateProtos {
		if f.states[i] == (set256{}) {
			continue
		}
		br, next := g.newLabel(), g.newLabel()
		g.jump(bpf.JumpEqual, uint32(p), br, next)
		g.mark(next)
		branches = append(branches, br)
		idx = append(idx, i)
	}
	g.goTo(g.reject)
	for n, br := range branches {
		i := idx[n]
		g.mark(br)
		g.findTop(ctnl.CTAProtoinfo)
		g.findIn(protoinfoTypes[i], g.reject)
		// The state is attribute 1 in all three protocols' nests.
		g.findIn(ctnl.CTAProtoinfoTCPState, g.reject)
		g.payload(1, g.reject)
		g.rangeTest(set256Ranges(&f.states[i]), ok, g.reject)
	}
	g.mark(ok)
}

func (g *generator) mark32() {
	ok := g.newLabel()
	g.load(memMark)
	dirty := false
	for i, m := range g.f.marks {
		next := g.reject
		if i < len(g.f.marks)-1 {
			next = g.newLabel()
		}
		if dirty {
			g.emit(bpf.LoadScratch{Dst: bpf.RegA, N: memMark})
		}
		dirty = false
		if m.mask != ^uint32(0) {
			g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: m.mask})
			dirty = true
		}
		g.jump(bpf.JumpEqual, m.value, ok, next)
		if next != g.reject {
			g.mark(next)
		}
	}
	g.mark(ok)
}

// zone checks each direction's zone as matchZone takes it: the tuple's
// CTA_TUPLE_ZONE, else CTA_ZONE, else 0.
func (g *generator) zone() {
	rs := zoneRanges(g.f.zones)
	ok := g.newLabel()
	g.load(memZone)
	for dir, tuple := range []ctnl.AttrType{ctnl.CTATupleOrig, ctnl.CTATupleReply} {
		both, test := g.newLabel(), g.newLabel()
		if dir == 0 {
			g.load(memOrig)
		} else {
			g.findTop(tuple)
		}
		// Absent nest or zone: the zone for both directions.
		g.findIn(ctnl.CTATupleZone, both)
		g.payload(2, both)
		g.goTo(test)
		g.mark(both)
		g.emit(bpf.LoadScratch{Dst: bpf.RegA, N: memZone})
		g.mark(test)
		fail := g.reject
		if dir == 0 {
			fail = g.newLabel()
		}
		g.rangeTest(rs, ok, fail)
		if fail != g.reject {
			g.mark(fail)
		}
	}
	g.mark(ok)
}

// addrs checks the original tuple's address of the IPv4 attribute v4 or
// the IPv6 attribute v6 against ps.
func (g *generator) addrs(ps []netip.Prefix, v4, v6 ctnl.AttrType) {
	var p4, p6 []addrPrefix
	for _, p := range ps {
		a := addrPrefix{bits: p.Bits()}
		b := p.Addr().AsSlice()
		for i := 0; i*4 < len(b); i++ {
			a.w[i] = binary.BigEndian.Uint32(b[i*4:])
		}
		if p.Addr().Is4() {
			p4 = append(p4, a)
		} else {
			p6 = append(p6, a)
		}
	}
	ok := g.newLabel()
	for _, fam := range []struct {
		ps  []addrPrefix
		typ ctnl.AttrType
	}{{p4, v4}, {p6, v6}} {
		if fam.ps == nil {
			continue
		}
		absent := g.newLabel()
		g.load(memIPNest)
		g.findIn(fam.typ, g.reject)
		next := g.newLabel()
		g.jump(bpf.JumpEqual, 0, absent, next)
		g.mark(next)
		g.emit(bpf.TAX{})
		g.trie(fam.ps, 0, ok, g.reject)
		g.mark(absent)
	}
	g.goTo(g.reject)
	g.mark(ok)
}

// addrPrefix is a prefix as big-endian words of its address.
type addrPrefix struct {
	w    [4]uint32
	bits int
}

// wordMask returns the mask of p's bits in word i, and whether p has bits
// past word i.
func (p addrPrefix) wordMask(i int) (mask uint32, more bool) {
	n := p.bits - 32*i
	switch {
	case n >= 32:
		return ^uint32(0), n > 32
	case n <= 0:
		return 0, false
	}
	return ^uint32(0) << (32 - n), false
}

// trie jumps to ok when the address at X (an attribute header; the address
// is its payload) is in one of ps, and to fail otherwise, comparing word
// level of the address; the words before level matched every prefix of
// ps. Prefixes that share a word's mask and value share its test.
func (g *generator) trie(ps []addrPrefix, level int, ok, fail label) {
	for _, p := range ps {
		if p.bits <= 32*level {
			g.goTo(ok)
			return
		}
	}
	type valueGroup struct {
		val uint32
		sub []addrPrefix // prefixes with bits past this word
		end bool         // a prefix ends at this word: the value matches
	}
	type maskGroup struct {
		mask uint32
		vals []*valueGroup
	}
	var groups []*maskGroup
	for _, p := range ps {
		mask, more := p.wordMask(level)
		val := p.w[level] & mask
		var mg *maskGroup
		for _, m := range groups {
			if m.mask == mask {
				mg = m
			}
		}
		if mg == nil {
			mg = &maskGroup{mask: mask}
			groups = append(groups, mg)
		}
		var vg *valueGroup
		for _, v := range mg.vals {
			if v.val == val {
				vg = v
			}
		}
		if vg == nil {
			vg = &valueGroup{val: val}
			mg.vals = append(mg.vals, vg)
		}
		if more {
			vg.sub = append(vg.sub, p)
		} else {
			vg.end = true
		}
	}
	for gi, mg := range groups {
		next := fail
		if gi < len(groups)-1 {
			next = g.newLabel()
		}
		g.emit(bpf.LoadIndirect{Off: uint32(attrPayload + 4*level), Size: 4})
		if mg.mask != ^uint32(0) {
			g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mg.mask})
		}
		subs := make([]label, len(mg.vals))
		for vi, vg := range mg.vals {
			target := ok
			if !vg.end {
				subs[vi] = g.newLabel()
				target = subs[vi]
			}
			alt := next
			if vi < len(mg.vals)-1 {
				alt = g.newLabel()
			}
			g.jump(bpf.JumpEqual, vg.val, target, alt)
			if alt != next {
				g.mark(alt)
			}
		}
		for vi, vg := range mg.vals {
			if vg.end {
				continue
			}
			g.mark(subs[vi])
			// Another value of this mask cannot match an address that
			// has this one: on failure, try the next mask.
			g.trie(vg.sub, level+1, ok, next)
		}
		if next != fail {
			g.mark(next)
		}
	}
}

// shorten cuts a filter's description for an error message: a filter too
// large for the kernel can be thousands of items long.
func shorten(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// Stable returns f without the criteria an entry may stop (or start)
// meeting as its flow goes on: --state, --status and --mark. What is left
// (family, protocol, addresses, ports, zones, and every criterion only
// Match checks) holds for a flow's whole life or for none of it, so a
// kernel program compiled from it lets every event of a selected flow
// through, its DESTROY too, and the flow tracker sees those flows whole.
// A program compiled from f itself would cut a flow off at its first
// event that no longer matches (--status unreplied once the reply is
// seen): the tracker would keep it as it was, unanswered, until it
// expires. Nil for a nil f.
func (f *Filter) Stable() *Filter {
	if f == nil {
		return nil
	}
	s := *f
	s.states, s.stateNames, s.hasState = [len(stateProtos)]set256{}, nil, false
	s.status, s.hasStatus = statusCond{}, false
	s.marks = nil
	return &s
}

// SplitStable is [Filter.Split] for the program of f.Stable(): the part of
// f that program runs in the kernel, and everything else, --state,
// --status and --mark among it, which only the userspace Match checks.
func (f *Filter) SplitStable() (kernel, user string) {
	if f == nil {
		return "any", "any"
	}
	u := f.userPart()
	u.states, u.stateNames, u.hasState = f.states, f.stateNames, f.hasState
	u.status, u.hasStatus = f.status, f.hasStatus
	u.marks = f.marks
	return f.Stable().Kernel().String(), u.String()
}
