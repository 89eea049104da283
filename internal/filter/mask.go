package filter

import (
	"math/bits"
	"net/netip"
	"slices"
	"strings"
)

// maskedAddr matches an address a of its family when a&mask == value
// (value has no bits outside mask). It holds the --src and --dst items that
// a non-contiguous --mask-src or --mask-dst applies to, which no prefix can
// express; conntrack-tools accepts such masks (its filter_network compares
// address & netmask with network) and so does ctwatch.
type maskedAddr struct {
	value, mask [16]byte // the first 4 bytes for IPv4
	is4         bool
}

func (m *maskedAddr) match(a netip.Addr) bool {
	var b [16]byte
	n := 16
	switch {
	case m.is4 && a.Is4():
		b4 := a.As4()
		n = copy(b[:], b4[:])
	case !m.is4 && a.Is6():
		b = a.As16()
	default:
		return false
	}
	for i := range n {
		if b[i]&m.mask[i] != m.value[i] {
			return false
		}
	}
	return true
}

func inMasked(ms []maskedAddr, a netip.Addr) bool {
	for i := range ms {
		if ms[i].match(a) {
			return true
		}
	}
	return false
}

// masks applies --mask-src (or --mask-dst), given as flag with value, to
// the compiled items ps of --src (or --dst), named addrFlag. A mask is an
// address of its family (255.255.0.0, ffff:ffff::); at most one a family,
// applying to every item of that family, which must then be a plain
// address: conntrack's --src 10.0.0.0 --mask-src 255.0.0.0 is 10.0.0.0/8.
// A contiguous mask makes prefixes of the items, so that the kernel filter
// can match them; a non-contiguous one turns every item of the flag into a
// maskedAddr, and the returned prefixes are nil.
func (c *compiler) masks(flag, value, addrFlag string, ps []netip.Prefix) ([]netip.Prefix, []maskedAddr) {
	var mask4, mask6 netip.Addr
	for _, it := range c.items(flag, value) {
		m, err := netip.ParseAddr(it)
		switch {
		case err != nil || m.Zone() != "" || m.Is4In6():
			c.fail(flag, it, "is not an address mask (255.255.0.0, ffff:ffff::)")
		case m.Is4() && mask4.IsValid(), m.Is6() && mask6.IsValid():
			c.fail(flag, it, "is a second mask of its family (one IPv4 and one IPv6 mask at most)")
		case m.Is4():
			mask4 = m
		default:
			mask6 = m
		}
	}
	if !mask4.IsValid() && !mask6.IsValid() {
		return ps, nil
	}
	contiguous := true
	for _, m := range []netip.Addr{mask4, mask6} {
		if !m.IsValid() {
			continue
		}
		has := false
		for _, p := range ps {
			if p.Addr().Is4() != m.Is4() {
				continue
			}
			has = true
			if !p.IsSingleIP() {
				c.fail(flag, m.String(), "applies to "+addrFlag+" "+p.String()+", which has a prefix length already")
			}
		}
		if !has {
			// As conntrack: "Can't use --mask-src without --src".
			c.fail(flag, m.String(), "has no "+addrFlag+" address of its family to apply to")
		}
		if _, ok := maskBits(m); !ok {
			contiguous = false
		}
	}
	maskOf := func(p netip.Prefix) (netip.Addr, bool) {
		if p.Addr().Is4() && mask4.IsValid() {
			return mask4, true
		}
		if p.Addr().Is6() && mask6.IsValid() {
			return mask6, true
		}
		return netip.Addr{}, false
	}
	if contiguous {
		out := make([]netip.Prefix, 0, len(ps))
		for _, p := range ps {
			if m, ok := maskOf(p); ok {
				n, _ := maskBits(m)
				p = netip.PrefixFrom(p.Addr(), n).Masked()
			}
			out = append(out, p)
		}
		slices.SortFunc(out, comparePrefixes)
		return slices.Compact(out), nil
	}
	var out []maskedAddr
	for _, p := range ps {
		m, ok := maskOf(p)
		if !ok {
			m = prefixMask(p)
		}
		out = append(out, newMaskedAddr(p.Addr(), m))
	}
	slices.SortFunc(out, compareMasked)
	return nil, slices.Compact(out)
}

// maskBits returns the prefix length of a contiguous mask.
func maskBits(m netip.Addr) (int, bool) {
	b := m.AsSlice()
	n := 0
	for i, x := range b {
		if x == 0xff {
			n += 8
			continue
		}
		ones := bits.LeadingZeros8(^x)
		if x<<ones != 0 {
			return 0, false
		}
		n += ones
		for _, y := range b[i+1:] {
			if y != 0 {
				return 0, false
			}
		}
		break
	}
	return n, true
}

// prefixMask returns the mask of p's length, as an address of p's family.
func prefixMask(p netip.Prefix) netip.Addr {
	var b [16]byte
	n := p.Bits()
	for i := 0; n > 0; i++ {
		k := min(n, 8)
		b[i] = byte(0xff << (8 - k))
		n -= k
	}
	if p.Addr().Is4() {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(b)
}

func newMaskedAddr(a, mask netip.Addr) maskedAddr {
	var m maskedAddr
	m.is4 = a.Is4()
	copy(m.mask[:], mask.AsSlice())
	ab := a.AsSlice()
	for i := range ab {
		m.value[i] = ab[i] & m.mask[i]
	}
	return m
}

func (m *maskedAddr) addrs() (value, mask netip.Addr) {
	if m.is4 {
		return netip.AddrFrom4([4]byte(m.value[:4])), netip.AddrFrom4([4]byte(m.mask[:4]))
	}
	return netip.AddrFrom16(m.value), netip.AddrFrom16(m.mask)
}

func compareMasked(a, b maskedAddr) int {
	av, am := a.addrs()
	bv, bm := b.addrs()
	if r := av.Compare(bv); r != 0 {
		return r
	}
	return am.Compare(bm)
}

// maskedStrings prints masked items in canonical form: the --src (or
// --dst) items, an item whose mask is contiguous as a prefix, and the
// non-contiguous masks for --mask-src (or --mask-dst).
func maskedStrings(ms []maskedAddr) (items, masks string) {
	var it, mk []string
	for i := range ms {
		v, m := ms[i].addrs()
		if n, ok := maskBits(m); ok {
			it = append(it, prefixString(netip.PrefixFrom(v, n)))
			continue
		}
		it = append(it, v.String())
		if !slices.Contains(mk, m.String()) {
			mk = append(mk, m.String())
		}
	}
	return strings.Join(it, ","), strings.Join(mk, ",")
}

func comparePrefixes(a, b netip.Prefix) int {
	if r := a.Addr().Compare(b.Addr()); r != 0 {
		return r
	}
	return a.Bits() - b.Bits()
}
