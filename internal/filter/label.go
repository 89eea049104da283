package filter

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// labelItem is one --label item: a connlabel bit, and the two forms an
// Entry's Labels can hold it in (its name in the watch's table, and its
// number in decimal where the table has no name for it; see
// [model.LabelNames.Label]).
type labelItem struct {
	bit  int    // the kernel's bit number, for a kernel program
	name string // the table's name of the bit, "" if none
	num  string // the bit in decimal
}

// labels compiles --label. conntrack-tools 1.4.7 (filter_label in
// src/conntrack.c) keeps an entry only when every bit of the --label
// values is set: its items are ANDed, unlike those of the other flags. An
// item is looked up in the --connlabel-file table, as conntrack's
// nfct_labelmap_get_bit does; a bit number (0-127) is accepted too, since
// ctwatch writes unnamed bits by number.
func (c *compiler) labels(value string, names *model.LabelNames) {
	var out []labelItem
	for _, it := range c.items(flagLabel, value) {
		bit, ok := names.Bit(it)
		if !ok {
			n, err := strconv.ParseUint(it, 10, 8)
			if err != nil || n >= model.MaxLabelBits {
				c.fail(flagLabel, it, "is not a connlabel name in the --connlabel-file table, nor a label bit (0-127)")
				continue
			}
			bit = int(n)
		}
		out = append(out, labelItem{bit: bit, name: names.Name(bit), num: strconv.Itoa(bit)})
	}
	slices.SortFunc(out, func(a, b labelItem) int { return cmp.Compare(a.bit, b.bit) })
	c.f.labels = slices.CompactFunc(out, func(a, b labelItem) bool { return a.bit == b.bit })
}

// matchLabels reports whether e has every label of ls. An entry without
// labels has none, as in conntrack.
func matchLabels(ls []labelItem, e *model.Entry) bool {
	if !e.Fields.Has(model.FieldLabels) {
		return false
	}
	for i := range ls {
		if !hasLabel(e.Labels, &ls[i]) {
			return false
		}
	}
	return true
}

func hasLabel(labels []string, it *labelItem) bool {
	for _, l := range labels {
		if l == it.num || (it.name != "" && l == it.name) {
			return true
		}
	}
	return false
}

// String returns the item as String prints it: the table's name, else the
// number.
func (it labelItem) String() string {
	if it.name != "" {
		return it.name
	}
	return it.num
}
