package model

import "strconv"

// MaxLabelBits is the number of connlabel bits the kernel keeps per entry
// (NF_CT_LABELS_MAX_SIZE is 16 bytes).
const MaxLabelBits = 128

// labelNumbers are the decimal forms of the kernel's label bits, so that
// naming an unnamed bit does not allocate.
var labelNumbers = func() (n [MaxLabelBits]string) {
	for i := range n {
		n[i] = strconv.Itoa(i)
	}
	return n
}()

// LabelNames is a table of connlabel names by bit, as
// /etc/xtables/connlabel.conf gives them (internal/connlabel reads that
// file). It is data only: a bit has at most one name and a name at most
// one bit, the first given winning, as in libnetfilter_conntrack. The zero
// value and the nil table name no bit. A table is read concurrently once
// built; Add is not safe beside readers.
type LabelNames struct {
	byBit  []string // "" where a bit has no name
	byName map[string]int
}

// Add names bit and reports whether it did: false, leaving the table as it
// was, when bit is negative, the bit already has a name, the name is empty
// or another bit has it.
func (n *LabelNames) Add(bit int, name string) bool {
	if bit < 0 || name == "" {
		return false
	}
	if bit < len(n.byBit) && n.byBit[bit] != "" {
		return false
	}
	if _, dup := n.byName[name]; dup {
		return false
	}
	if bit >= len(n.byBit) {
		n.byBit = append(n.byBit, make([]string, bit+1-len(n.byBit))...)
	}
	if n.byName == nil {
		n.byName = make(map[string]int)
	}
	n.byBit[bit] = name
	n.byName[name] = bit
	return true
}

// Len returns the number of named bits.
func (n *LabelNames) Len() int {
	if n == nil {
		return 0
	}
	return len(n.byName)
}

// Name returns bit's name, or "" when it has none.
func (n *LabelNames) Name(bit int) string {
	if n == nil || bit < 0 || bit >= len(n.byBit) {
		return ""
	}
	return n.byBit[bit]
}

// Bit returns the bit named name.
func (n *LabelNames) Bit(name string) (int, bool) {
	if n == nil {
		return 0, false
	}
	b, ok := n.byName[name]
	return b, ok
}

// Label returns what an Entry's Labels hold for bit: its name, or its
// number in decimal where the table has no name (as conntrack -o labels
// names bits, but without losing the unnamed ones). It allocates nothing
// for the kernel's bits (below MaxLabelBits).
func (n *LabelNames) Label(bit int) string {
	if s := n.Name(bit); s != "" {
		return s
	}
	if bit >= 0 && bit < MaxLabelBits {
		return labelNumbers[bit]
	}
	return strconv.Itoa(bit)
}

// Rename replaces, in place, each label that is a bit number in decimal
// (as decoders without a table write them) with the bit's name, where the
// table has one. Names, and numbers of unnamed bits, stay as they are. It
// allocates nothing.
func (n *LabelNames) Rename(labels []string) {
	if n.Len() == 0 {
		return
	}
	for i, l := range labels {
		if bit, ok := labelBit(l); ok {
			if s := n.Name(bit); s != "" {
				labels[i] = s
			}
		}
	}
}

// labelBit parses a label that is a bit number in canonical decimal (no
// sign, no leading zero), as Label writes unnamed bits.
func labelBit(s string) (int, bool) {
	if s == "" || len(s) > 4 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}
