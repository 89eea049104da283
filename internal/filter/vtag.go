package filter

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// vtagCond is a compiled --orig-vtag, --reply-vtag and --role, named as
// conntrack's SCTP and DCCP options (conntrack-tools 1.4.7,
// extensions/libct_proto_sctp.c and libct_proto_dccp.c), which conntrack
// takes for -I and -U only and its -E refuses.
//
// An entry that does not carry the value never matches, as
// libnetfilter_conntrack's __cmp decides under NFCT_CMP_MASK, which
// conntrack -E compares with for its other filters: an attribute the
// filter sets and the entry lacks fails. The kernel leaves the vtags and the role out of destroy
// events (ctnetlink_dump_protoinfo with destroy set), so that these flags
// select new and update events only.
type vtagCond struct {
	// vtags are the --orig-vtag and --reply-vtag values, each sorted,
	// deduplicated, nil = any.
	vtags [2][]uint32
	// roles has bit 1<<role set for each --role item; 0 = any.
	roles uint8
}

func (v *vtagCond) active() bool {
	return v.vtags[0] != nil || v.vtags[1] != nil || v.roles != 0
}

// match checks the flags given: vtags only match SCTP entries and roles
// only DCCP ones, so that both together match nothing.
func (v *vtagCond) match(e *model.Entry) bool {
	if v.vtags[0] != nil || v.vtags[1] != nil {
		if e.Proto != model.ProtoSCTP {
			return false
		}
		if v.vtags[0] != nil && (!e.Fields.Has(model.FieldOrigVtag) || !slices.Contains(v.vtags[0], e.OrigVtag)) {
			return false
		}
		if v.vtags[1] != nil && (!e.Fields.Has(model.FieldReplyVtag) || !slices.Contains(v.vtags[1], e.ReplyVtag)) {
			return false
		}
	}
	if v.roles != 0 {
		if e.Proto != model.ProtoDCCP || !e.Fields.Has(model.FieldDCCPRole) || e.DCCPRole > model.DCCPRoleServer {
			return false
		}
		if v.roles&(1<<e.DCCPRole) == 0 {
			return false
		}
	}
	return true
}

func (c *compiler) vtag(s Spec) {
	v := &c.f.vtag
	v.vtags = [2][]uint32{c.vtags(flagOrigVtag, s.OrigVtag), c.vtags(flagReplyVtag, s.ReplyVtag)}
	for _, it := range c.items(flagRole, s.Role) {
		// As conntrack's strncasecmp(optarg, "client", strlen(optarg)):
		// a name or its abbreviation, any case.
		switch lower := strings.ToLower(it); {
		case strings.HasPrefix("client", lower):
			v.roles |= 1 << model.DCCPRoleClient
		case strings.HasPrefix("server", lower):
			v.roles |= 1 << model.DCCPRoleServer
		default:
			c.fail(flagRole, it, "is not a DCCP role (client, server)")
		}
	}
	if (v.vtags[0] != nil || v.vtags[1] != nil) && v.roles != 0 {
		// An entry is SCTP or DCCP, not both.
		c.fail(flagRole, s.Role, "cannot be combined with --orig-vtag or --reply-vtag (SCTP entries have no role, DCCP entries no vtags)")
	}
}

// vtags compiles --orig-vtag or --reply-vtag: 32-bit numbers, decimal or
// 0x-hex, as conntrack's strtoul takes them (without octal).
func (c *compiler) vtags(flag, value string) []uint32 {
	return itemSet(c, flag, value, parseMark, "is not an SCTP verification tag (32 bits, decimal or 0x-hex)", cmp.Compare[uint32])
}

// write appends v's flags to b in canonical form, separated from what b
// holds by a space, as String separates flags.
func (v *vtagCond) write(b *strings.Builder) {
	for i, name := range [...]string{flagOrigVtag, flagReplyVtag} {
		if v.vtags[i] == nil {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(name + "=")
		for j, t := range v.vtags[i] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString("0x" + strconv.FormatUint(uint64(t), 16))
		}
	}
	if v.roles != 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(flagRole + "=")
		sep := ""
		for r := model.DCCPRoleClient; r <= model.DCCPRoleServer; r++ {
			if v.roles&(1<<r) != 0 {
				b.WriteString(sep + r.String())
				sep = ","
			}
		}
	}
}
