package model

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// IsSkippable reports whether a line of a saved conntrack log carries no
// entry and is to be skipped rather than parsed: blank lines, comment lines
// starting with '#', and conntrack-tools' closing summary ("conntrack v1.4.7
// (conntrack-tools): 24 flow events have been shown.", and the like for
// entries deleted or updated), but not its error messages.
func IsSkippable(line string) bool {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return true
	}
	head, rest, ok := strings.Cut(line, " (conntrack-tools): ")
	if !ok || !strings.HasPrefix(head, "conntrack v") {
		return false
	}
	// "24 flow events have been shown.", "1 flow entries have been
	// deleted.": a count. Anything else it prints there is an error
	// message, which must not pass for a summary.
	f := strings.Fields(rest)
	n := len(f)
	return n >= 4 && isDigits(f[0]) && f[n-3] == "have" && f[n-2] == "been" && strings.HasSuffix(f[n-1], ".")
}

// ParseText parses one line in any text form AppendText prints, which are
// the forms of /proc/net/nf_conntrack (and the older /proc/net/ip_conntrack),
// of conntrack -L and conntrack -E with any combination of -o extended,
// timestamp, id, ktimestamp and labels. It returns the event (EventSnapshot for a
// line that carries no event type) and the options that print the line back
// as it was. loc is the time zone of ctime-style [start=...] and [stop=...]
// timestamps; nil means UTC.
//
// Tuples must come in the order conntrack prints them; the values after the
// reply tuple are accepted in any order, each at most once.
func ParseText(line string, loc *time.Location) (Event, TextOptions, error) {
	line = strings.TrimRight(line, "\r\n")
	if i := strings.IndexAny(line, "\r\n"); i >= 0 {
		return Event{}, TextOptions{Location: loc}, &SyntaxError{Column: i + 1, Field: "line", Msg: "contains a line break"}
	}
	p := textParser{lex: lexer{line: line}, loc: loc}
	err := p.parse()
	p.form.Location = loc
	return p.ev, p.form, err
}

type textParser struct {
	lex  lexer
	loc  *time.Location
	ev   Event
	form TextOptions
	// family is set once known, from the layer-3 prefix or the first
	// address.
	family Family
}

// parseEventTag returns the event type a line's tag token names ("[NEW]",
// "[UPDATE]", "[DESTROY]"), or EventSnapshot for a token that is no tag: a
// line of a table listing, which starts with its first field. Entry and
// expectation lines tag their events alike.
func parseEventTag(tok string) EventType {
	switch tok {
	case "[NEW]":
		return EventNew
	case "[UPDATE]":
		return EventUpdate
	case "[DESTROY]":
		return EventDestroy
	}
	return EventSnapshot
}

func (p *textParser) fail(off int, field, tok, msg string) error {
	return &SyntaxError{Column: off + 1, Field: field, Token: tok, Msg: msg}
}

// need returns the next token or an error naming the missing field.
func (p *textParser) need(field string) (string, int, error) {
	tok, off, ok := p.lex.next()
	if !ok {
		return "", off, p.fail(off, field, "", "missing")
	}
	return tok, off, nil
}

func (p *textParser) parse() error {
	e := &p.ev.Entry
	tok, off, err := p.need("proto")
	if err != nil {
		return err
	}

	if len(tok) > 2 && tok[0] == '[' && tok[1] >= '0' && tok[1] <= '9' {
		t, ok := parseEventTimestamp(tok)
		if next, _, more := p.lex.peek(); !ok && more && next == "]" {
			// conntrack prints an expectation event's time as
			// "[%-8ld.%-6ld]": microseconds left-aligned, space-padded.
			p.lex.next()
			t, ok = parseSpacePaddedTimestamp(tok)
		}
		if !ok {
			return p.fail(off, "time", tok, "invalid [seconds.fraction] timestamp")
		}
		p.ev.Time = t
		p.form.Timestamp = true
		if tok, off, err = p.need("event"); err != nil {
			return err
		}
	}

	p.ev.Type = parseEventTag(tok)
	if p.ev.Type != EventSnapshot {
		if tok, off, err = p.need("proto"); err != nil {
			return err
		}
	}

	if next, _, ok := p.lex.peek(); ok && isDigits(tok) && (strings.HasPrefix(next, "proto=") || next == "l3proto") {
		return &SyntaxError{Column: off + 1, Field: "proto", Token: tok, Msg: ErrExpectation.Error(), Err: ErrExpectation}
	}
	if tok == "ipv4" || tok == "ipv6" {
		numTok, numOff, err := p.need("family")
		if err != nil {
			return err
		}
		f, _ := ParseFamily(tok)
		if n, err := strconv.ParseUint(numTok, 10, 8); err != nil || Family(n) != f {
			return p.fail(numOff, "family", numTok, "family number does not match "+tok)
		}
		e.Family, p.family = f, f
		p.form.Layer3 = true
		if tok, off, err = p.need("proto"); err != nil {
			return err
		}
	}

	if _, known := ParseProto(tok); (!known || isDigits(tok)) && tok != "unknown" {
		return p.fail(off, "proto", tok, "not a protocol name")
	}
	numTok, numOff, err := p.need("protonum")
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(numTok, 10, 8)
	if err != nil {
		return p.fail(numOff, "protonum", numTok, "not a protocol number in 0..255")
	}
	e.Proto = Proto(n)
	if tok != e.Proto.String() {
		return p.fail(off, "proto", tok, "protocol name does not match number "+numTok)
	}

	tok, off, err = p.need("orig.src")
	if err != nil {
		return err
	}
	if isDigits(tok) {
		v, err := strconv.ParseUint(tok, 10, 32)
		if err != nil {
			return p.fail(off, "timeout", tok, "not a number of seconds in 0..4294967295")
		}
		e.Timeout = uint32(v)
		e.Fields |= FieldTimeout
		if tok, off, err = p.need("orig.src"); err != nil {
			return err
		}
	} else if tok[0] == '-' || tok[0] == '+' || tok[0] >= '0' && tok[0] <= '9' {
		// No state or key starts so: it is a timeout gone wrong ("2x",
		// "-5"), and the error should say so rather than blame the
		// field expected next.
		return p.fail(off, "timeout", tok, "not a number of seconds in 0..4294967295")
	}
	if e.Proto == ProtoGRE && strings.HasPrefix(tok, "timeout=") {
		if err := p.greTimeouts(tok, off); err != nil {
			return err
		}
		if tok, off, err = p.need("orig.src"); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(tok, "src=") {
		if !e.Proto.HasState() {
			return p.fail(off, "orig.src", tok, "expected src=")
		}
		s, ok := ParseState(e.Proto, tok)
		if !ok {
			return p.fail(off, "state", tok, "not a "+e.Proto.String()+" state")
		}
		e.State = s
		e.Fields |= FieldState
		if tok, off, err = p.need("orig.src"); err != nil {
			return err
		}
	}

	if err := p.tuple(&e.Orig, "orig", tok, off); err != nil {
		return err
	}
	if err := p.tupleExtras(&e.Orig, "orig", FieldOrigZone, FieldOrigCounters); err != nil {
		return err
	}
	e.Status |= StatusSeenReply
	tok, off, err = p.need("reply.src")
	if err != nil {
		return err
	}
	if tok == "[UNREPLIED]" {
		e.Status &^= StatusSeenReply
		if tok, off, err = p.need("reply.src"); err != nil {
			return err
		}
	}
	if err := p.tuple(&e.Reply, "reply", tok, off); err != nil {
		return err
	}
	if err := p.tupleExtras(&e.Reply, "reply", FieldReplyZone, FieldReplyCounters); err != nil {
		return err
	}
	return p.trailer()
}

// greTimeouts parses /proc's "timeout=30, stream_timeout=180" for GRE; tok
// is its first token.
func (p *textParser) greTimeouts(tok string, off int) error {
	e := &p.ev.Entry
	v, ok := strings.CutSuffix(tok, ",")
	if !ok {
		return p.fail(off, "gre_timeout", tok, "expected timeout=N,")
	}
	n, err := p.uintValue("gre_timeout", "timeout=", v, off, 10, 32)
	if err != nil {
		return err
	}
	e.GRETimeout = uint32(n)
	if e.GREStreamTimeout, err = p.uint32Key("gre_stream_timeout", "stream_timeout="); err != nil {
		return err
	}
	e.Fields |= FieldGRETimeouts
	return nil
}

func (p *textParser) uint32Key(field, key string) (uint32, error) {
	v, err := p.uintKey(field, key, 32)
	return uint32(v), err
}

// tuple parses one direction's addresses and protocol identifiers; tok is
// its first token.
func (p *textParser) tuple(t *Tuple, dir, tok string, off int) error {
	e := &p.ev.Entry
	var err error
	if t.Src, err = p.addr(dir+".src", "src=", tok, off); err != nil {
		return err
	}
	if tok, off, err = p.need(dir + ".dst"); err != nil {
		return err
	}
	if t.Dst, err = p.addr(dir+".dst", "dst=", tok, off); err != nil {
		return err
	}
	return p.tupleProtoKeys(t, dir, e.Proto)
}

// tupleProtoKeys parses the keys of a tuple that protocol proto defines
// (ports, ICMP type, code and id, or GRE keys), naming fields under name:
// the tail of an entry's direction and of each tuple of an expectation.
func (p *textParser) tupleProtoKeys(t *Tuple, name string, proto Proto) error {
	var err error
	switch {
	case proto.HasPorts():
		if t.SrcPort, err = p.uint16Key(name+".sport", "sport=", 10); err != nil {
			return err
		}
		if t.DstPort, err = p.uint16Key(name+".dport", "dport=", 10); err != nil {
			return err
		}
	case proto.IsICMP():
		v, err := p.uintKey(name+".type", "type=", 8)
		if err != nil {
			return err
		}
		t.ICMPType = uint8(v)
		if v, err = p.uintKey(name+".code", "code=", 8); err != nil {
			return err
		}
		t.ICMPCode = uint8(v)
		if t.ICMPID, err = p.uint16Key(name+".id", "id=", 10); err != nil {
			return err
		}
	case proto == ProtoGRE:
		if t.SrcPort, err = p.uint16Key(name+".srckey", "srckey=", 16); err != nil {
			return err
		}
		if t.DstPort, err = p.uint16Key(name+".dstkey", "dstkey=", 16); err != nil {
			return err
		}
	}
	return nil
}

// tupleExtras parses a direction's optional zone and counters.
func (p *textParser) tupleExtras(t *Tuple, dir string, zoneField, counterField Field) error {
	e := &p.ev.Entry
	zoneKey := "zone-" + dir + "="
	if dir == "orig" {
		zoneKey = "zone-orig="
	}
	if tok, _, ok := p.lex.peek(); ok && strings.HasPrefix(tok, zoneKey) {
		v, err := p.uintKey(dir+".zone", zoneKey, 16)
		if err != nil {
			return err
		}
		t.Zone = uint16(v)
		e.Fields |= zoneField
	}
	if tok, _, ok := p.lex.peek(); ok && strings.HasPrefix(tok, "packets=") {
		var err error
		if t.Packets, err = p.uintKey(dir+".packets", "packets=", 64); err != nil {
			return err
		}
		if t.Bytes, err = p.uintKey(dir+".bytes", "bytes=", 64); err != nil {
			return err
		}
		e.Fields |= counterField
	}
	return nil
}

func (p *textParser) addr(field, key, tok string, off int) (netip.Addr, error) {
	v, ok := strings.CutPrefix(tok, key)
	if !ok {
		return netip.Addr{}, p.fail(off, field, tok, "expected "+key)
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, p.fail(off, field, tok, "not an IP address")
	}
	f := FamilyIPv4
	if a.Is6() {
		f = FamilyIPv6
		if len(v) == 39 {
			p.form.ExpandIPv6 = true
		}
	}
	switch {
	case p.family == 0:
		p.family = f
		p.ev.Entry.Family = f
	case p.family != f:
		return netip.Addr{}, p.fail(off, field, tok, "address is not "+p.family.String())
	}
	return a, nil
}

// uintKey parses the next token as key followed by a decimal number of at
// most bitSize bits.
func (p *textParser) uintKey(field, key string, bitSize int) (uint64, error) {
	tok, off, err := p.need(field)
	if err != nil {
		return 0, err
	}
	return p.uintValue(field, key, tok, off, 10, bitSize)
}

func (p *textParser) uint16Key(field, key string, base int) (uint16, error) {
	tok, off, err := p.need(field)
	if err != nil {
		return 0, err
	}
	v, err := p.uintValue(field, key, tok, off, base, 16)
	return uint16(v), err
}

func (p *textParser) uintValue(field, key, tok string, off, base, bitSize int) (uint64, error) {
	v, ok := strings.CutPrefix(tok, key)
	if !ok {
		return 0, p.fail(off, field, tok, "expected "+key)
	}
	if base == 16 {
		if v, ok = strings.CutPrefix(v, "0x"); !ok {
			return 0, p.fail(off, field, tok, "expected a 0x-prefixed hexadecimal number")
		}
	}
	if v == "" || v[0] == '+' || v[0] == '-' {
		return 0, p.fail(off, field, tok, "not a number")
	}
	n, err := strconv.ParseUint(v, base, bitSize)
	if err != nil {
		return 0, p.fail(off, field, tok, fmt.Sprintf("not a %d-bit unsigned number", bitSize))
	}
	return n, nil
}

// trailer parses what follows the reply tuple.
func (p *textParser) trailer() error {
	e := &p.ev.Entry
	var seen Field
	var flags Status
	once := func(f Field, field, tok string, off int) error {
		if seen&f != 0 {
			return p.fail(off, field, tok, "given twice")
		}
		seen |= f
		return nil
	}
	for {
		tok, off, ok := p.lex.next()
		if !ok {
			return nil
		}
		switch tok {
		case "[ASSURED]", "[OFFLOAD]", "[HW_OFFLOAD]":
			bit := StatusAssured
			switch tok {
			case "[OFFLOAD]":
				bit = StatusOffload
			case "[HW_OFFLOAD]":
				bit = StatusHWOffload
			}
			if flags&bit != 0 {
				return p.fail(off, "status", tok, "given twice")
			}
			flags |= bit
			e.Status |= bit
			continue
		case "[UNREPLIED]":
			return p.fail(off, "status", tok, "[UNREPLIED] belongs between the original and reply tuples")
		case "[USERSPACE]":
			return p.userspace()
		}
		if strings.HasPrefix(tok, "[start=") || strings.HasPrefix(tok, "[stop=") {
			field, f, dst := "start", FieldStart, &e.Start
			if tok[1:5] == "stop" {
				field, f, dst = "stop", FieldStop, &e.Stop
			}
			if err := once(f, field, tok, off); err != nil {
				return err
			}
			t, ok := p.parseCtime(tok[len(field)+2:])
			if !ok {
				return p.fail(off, field, tok, "expected [start=Www Mmm dd hh:mm:ss yyyy]")
			}
			*dst = t
			e.Fields |= f
			p.form.KTimestamp = true
			continue
		}
		if tok == "labels" {
			// conntrack -o labels on an entry whose labels its
			// connlabel.conf does not name.
			if err := once(FieldLabels, "labels", tok, off); err != nil {
				return err
			}
			e.Labels = e.Labels[:0]
			e.Fields |= FieldLabels
			p.form.Labels = true
			continue
		}
		key, val, ok := strings.Cut(tok, "=")
		if !ok {
			return p.fail(off, "", tok, "unexpected token")
		}
		field := key
		if key == "delta-time" {
			field = "delta_time"
		}
		var err error
		var v uint64
		switch key {
		case "mark", "secmark", "use", "id":
			f := FieldMark
			switch key {
			case "secmark":
				f = FieldSecmark
			case "use":
				f = FieldUse
			case "id":
				f = FieldID
			}
			if err = once(f, field, tok, off); err != nil {
				return err
			}
			if v, err = p.uintValue(field, key+"=", tok, off, 10, 32); err != nil {
				return err
			}
			e.Fields |= f
			switch f {
			case FieldMark:
				e.Mark = uint32(v)
			case FieldSecmark:
				e.Secmark = uint32(v)
			case FieldUse:
				e.Use = uint32(v)
			case FieldID:
				e.ID = uint32(v)
				p.form.ID = true
			}
		case "zone":
			if err = once(FieldZone, field, tok, off); err != nil {
				return err
			}
			if v, err = p.uintValue(field, "zone=", tok, off, 10, 16); err != nil {
				return err
			}
			e.Zone = uint16(v)
			e.Fields |= FieldZone
		case "delta-time":
			if err = once(FieldDeltaTime, field, tok, off); err != nil {
				return err
			}
			if e.DeltaTime, err = p.uintValue(field, "delta-time=", tok, off, 10, 64); err != nil {
				return err
			}
			e.Fields |= FieldDeltaTime
		case "secctx", "helper":
			f := FieldSecctx
			if key == "helper" {
				f = FieldHelper
			}
			if err = once(f, field, tok, off); err != nil {
				return err
			}
			if val == "" {
				return p.fail(off, field, tok, "empty")
			}
			if f == FieldSecctx {
				e.Secctx = val
			} else {
				e.Helper = val
			}
			e.Fields |= f
		case "labels":
			if err = once(FieldLabels, field, tok, off); err != nil {
				return err
			}
			labels := strings.Split(val, ",")
			for _, l := range labels {
				if l == "" {
					return p.fail(off, field, tok, "empty label name")
				}
			}
			e.Labels = labels
			e.Fields |= FieldLabels
			p.form.Labels = true
		default:
			return p.fail(off, key, tok, "unknown field")
		}
	}
}

// userspace parses conntrack -E's " [USERSPACE] portid=N progname=NAME"
// suffix, which ends the line; the program name may contain spaces.
func (p *textParser) userspace() error {
	o := &p.ev.Origin
	tok, off, err := p.need("origin.portid")
	if err != nil {
		return err
	}
	v, err := p.uintValue("origin.portid", "portid=", tok, off, 10, 32)
	if err != nil {
		return err
	}
	if v == 0 {
		return p.fail(off, "origin.portid", tok, "port id 0 is the kernel, not userspace")
	}
	o.PortID = uint32(v)
	rest, restOff := p.lex.rest()
	if rest == "" {
		return nil
	}
	name, ok := strings.CutPrefix(rest, "progname=")
	if !ok || name == "" {
		return p.fail(restOff, "origin.program", rest, "expected progname=NAME")
	}
	o.Program = name
	return nil
}
