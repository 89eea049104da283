package model

import (
	"strconv"
	"strings"
	"time"
)

// ParseExpectText parses one line of conntrack -E expect (with or without
// -o timestamp) or conntrack -L expect, as AppendExpectText prints it, and
// returns the event (EventSnapshot for a line without an event type) and
// the options that print it back as it was. These are the lines on which
// ParseText fails with ErrExpectation.
//
// The line does not say the master's protocol; it is the expected
// connection's when the master's keys fit it, and otherwise the first
// protocol whose keys they are (TCP for ports, ICMP or ICMPv6 for
// type/code/id, GRE for keys).
func ParseExpectText(line string) (ExpectEvent, TextOptions, error) {
	line = strings.TrimRight(line, "\r\n")
	if i := strings.IndexAny(line, "\r\n"); i >= 0 {
		return ExpectEvent{}, TextOptions{}, &SyntaxError{Column: i + 1, Field: "line", Msg: "contains a line break"}
	}
	p := expectParser{textParser: textParser{lex: lexer{line: line}}}
	err := p.parse()
	// An expectation line has no expanded form of IPv6 addresses; one
	// read in that form prints back compressed, as conntrack prints it.
	p.form.ExpandIPv6 = false
	return p.ev, p.form, err
}

// expectParser reuses textParser's lexer, key and address parsing; its
// Entry is scratch.
type expectParser struct {
	textParser
	ev ExpectEvent
}

func (p *expectParser) parse() error {
	x := &p.ev.Expect
	if err := p.timestamp(); err != nil {
		return err
	}
	tok, off, err := p.need("timeout")
	if err != nil {
		return err
	}
	p.ev.Type = parseEventTag(tok)
	if p.ev.Type != EventSnapshot {
		if tok, off, err = p.need("timeout"); err != nil {
			return err
		}
	}
	if !isDigits(tok) {
		return p.fail(off, "timeout", tok, "not a number of seconds")
	}
	v, err := strconv.ParseUint(tok, 10, 32)
	if err != nil {
		return p.fail(off, "timeout", tok, "not a number of seconds in 0..4294967295")
	}
	x.Timeout = uint32(v)
	x.Fields |= ExpectFieldTimeout
	n, err := p.uintKey("protonum", "proto=", 8)
	if err != nil {
		return err
	}
	x.Proto = Proto(n)

	if err := p.tuple(&x.Tuple, "tuple", "src=", "dst=", x.Proto); err != nil {
		return err
	}
	if err := p.tuple(&x.Mask, "mask", "mask-src=", "mask-dst=", x.Proto); err != nil {
		return err
	}
	x.Fields |= ExpectFieldMask
	x.MasterProto = x.Proto
	if err := p.tuple(&x.Master, "master", "master-src=", "master-dst=", masterProto); err != nil {
		return err
	}
	x.Fields |= ExpectFieldMaster
	x.Family = p.family
	return p.trailer()
}

// timestamp parses conntrack's "[%-8ld.%-6ld]" prefix of an expectation
// event, if the line has one: whole seconds and microseconds, each
// left-aligned and padded with spaces.
func (p *expectParser) timestamp() error {
	p.lex.skipSpace()
	off := p.lex.pos
	rest := p.lex.line[off:]
	if len(rest) < 2 || rest[0] != '[' || rest[1] < '0' || rest[1] > '9' {
		return nil
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return p.fail(off, "time", rest, "invalid [seconds.micros] timestamp")
	}
	tok := rest[:end+1]
	secStr, usecStr, ok := strings.Cut(rest[1:end], ".")
	secStr = strings.TrimRight(secStr, " ")
	usecStr = strings.TrimRight(usecStr, " ")
	if !ok || !isDigits(secStr) || !isDigits(usecStr) || len(usecStr) > 6 {
		return p.fail(off, "time", tok, "invalid [seconds.micros] timestamp")
	}
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil || sec > 1<<40 {
		return p.fail(off, "time", tok, "invalid [seconds.micros] timestamp")
	}
	usec, _ := strconv.ParseInt(usecStr, 10, 64)
	p.ev.Time = time.Unix(sec, usec*1000).UTC()
	p.form.Timestamp = true
	p.lex.pos = off + end + 1
	return nil
}

// masterProto stands for the master's protocol, told from its keys.
const masterProto Proto = 0xff

// tuple parses one tuple with the address keys srcKey and dstKey and the
// protocol keys of proto; for masterProto it tells the master's protocol
// from the keys and sets Expect.MasterProto.
func (p *expectParser) tuple(t *Tuple, name, srcKey, dstKey string, proto Proto) error {
	tok, off, err := p.need(name + ".src")
	if err != nil {
		return err
	}
	if t.Src, err = p.addr(name+".src", srcKey, tok, off); err != nil {
		return err
	}
	if tok, off, err = p.need(name + ".dst"); err != nil {
		return err
	}
	if t.Dst, err = p.addr(name+".dst", dstKey, tok, off); err != nil {
		return err
	}
	if proto == masterProto {
		x := &p.ev.Expect
		next, _, _ := p.lex.peek()
		switch {
		case strings.HasPrefix(next, "sport="):
			if !x.Proto.HasPorts() {
				x.MasterProto = ProtoTCP
			}
		case strings.HasPrefix(next, "type="):
			if !x.Proto.IsICMP() {
				x.MasterProto = ProtoICMP
				if p.family == FamilyIPv6 {
					x.MasterProto = ProtoICMPv6
				}
			}
		case strings.HasPrefix(next, "srckey="):
			x.MasterProto = ProtoGRE
		default:
			if x.Proto.HasPorts() || x.Proto.IsICMP() || x.Proto == ProtoGRE {
				x.MasterProto = 0
			}
		}
		proto = x.MasterProto
	}
	return p.tupleProtoKeys(t, name, proto)
}

// trailer parses what follows the master tuple: zone, flags, class and
// helper, each optional, in the order libnetfilter_conntrack prints them.
func (p *expectParser) trailer() error {
	x := &p.ev.Expect
	const (
		atZone = iota
		atFlags
		atClass
		atHelper
		atEnd
	)
	at := atZone
	for {
		tok, off, ok := p.lex.next()
		if !ok {
			return nil
		}
		key, val, hasKey := strings.Cut(tok, "=")
		switch {
		case hasKey && key == "zone" && at <= atZone:
			v, err := p.uintValue("zone", "zone=", tok, off, 10, 16)
			if err != nil {
				return err
			}
			x.Zone = uint16(v)
			x.Fields |= ExpectFieldZone
			at = atFlags
		case !hasKey && at <= atFlags:
			var flags ExpectFlags
			for name := range strings.SplitSeq(tok, ",") {
				f, ok := ParseExpectFlag(name)
				if !ok {
					return p.fail(off, "flags", tok, "not a list of PERMANENT, INACTIVE and USERSPACE")
				}
				// libnetfilter_conntrack prints each flag once, in
				// bit order.
				if f <= flags {
					return p.fail(off, "flags", tok, "flags out of order or given twice")
				}
				flags |= f
			}
			x.Flags = flags
			x.Fields |= ExpectFieldFlags
			at = atClass
		case hasKey && key == "class" && at <= atClass:
			v, err := p.uintValue("class", "class=", tok, off, 10, 32)
			if err != nil {
				return err
			}
			x.Class = uint32(v)
			x.Fields |= ExpectFieldClass
			at = atHelper
		case hasKey && key == "helper" && at <= atHelper:
			if val == "" {
				return p.fail(off, "helper", tok, "empty")
			}
			x.Helper = val
			x.Fields |= ExpectFieldHelper
			at = atEnd
		default:
			return p.fail(off, key, tok, "unexpected token")
		}
	}
}
