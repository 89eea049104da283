//go:build integration

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// recordFormat is the form of a monitor's output, which decides how its
// records are told apart.
type recordFormat uint8

const (
	// formatCtwatch is ctwatch's JSON: one record a line, "event":"new",
	// "update" or "destroy" for entry events, other names for the rest
	// (start, dump, stats, gap, ...); destroys inferred after a loss carry
	// "inferred":true and were not received.
	formatCtwatch recordFormat = iota
	// formatConntrack is conntrack -E's text: " [NEW] tcp 6 ...".
	formatConntrack
	// formatUlogd is ulogd2's JSON output plugin: "ct.event": 1 (NEW),
	// 2 (UPDATE) or 4 (DESTROY).
	formatUlogd
	// formatFloor is the floor reader's summary: one JSON object of
	// counts, written when it stops.
	formatFloor
)

// eventKind is what one output line is.
type eventKind uint8

const (
	kindOther eventKind = iota
	kindNew
	kindUpdate
	kindDestroy
	// kindInferred is a destroy ctwatch inferred from a dump after a loss:
	// it reports a flow's end, but not an event the monitor received.
	kindInferred
)

// eventCounts are a monitor's records by kind.
type eventCounts struct {
	New      int `json:"new"`
	Update   int `json:"update"`
	Destroy  int `json:"destroy"`
	Inferred int `json:"inferred,omitempty"`
	Other    int `json:"other"`
}

// Events is the number of entry events received: NEW, UPDATE and DESTROY.
func (c eventCounts) Events() int { return c.New + c.Update + c.Destroy }

// plus is c and d summed kind by kind.
func (c eventCounts) plus(d eventCounts) eventCounts {
	return eventCounts{
		New:      c.New + d.New,
		Update:   c.Update + d.Update,
		Destroy:  c.Destroy + d.Destroy,
		Inferred: c.Inferred + d.Inferred,
		Other:    c.Other + d.Other,
	}
}

// add counts one line of kind k.
func (c *eventCounts) add(k eventKind) {
	switch k {
	case kindNew:
		c.New++
	case kindUpdate:
		c.Update++
	case kindDestroy:
		c.Destroy++
	case kindInferred:
		c.Inferred++
	default:
		c.Other++
	}
}

// subscribed returns the counts of the event types whose conntrack groups
// are in groups (the Groups column of /proc/net/netlink): what a monitor
// subscribed that way is expected to receive.
func (c eventCounts) subscribed(groups uint32) eventCounts {
	var s eventCounts
	if groups&(1<<0) != 0 {
		s.New = c.New
	}
	if groups&(1<<1) != 0 {
		s.Update = c.Update
	}
	if groups&(1<<2) != 0 {
		s.Destroy = c.Destroy
	}
	return s
}

// classify says what one output line of format f is.
func classify(f recordFormat, line []byte) eventKind {
	switch f {
	case formatCtwatch:
		return classifyCtwatch(line)
	case formatConntrack:
		return classifyConntrack(line)
	case formatUlogd:
		return classifyUlogd(line)
	}
	return kindOther
}

var (
	ctwatchEvent    = []byte(`"event":"`)
	ctwatchInferred = []byte(`"inferred":true`)
)

func classifyCtwatch(line []byte) eventKind {
	// The first "event" key is the record's own: the encoder writes it
	// before any nested object.
	i := bytes.Index(line, ctwatchEvent)
	if i < 0 {
		return kindOther
	}
	rest := line[i+len(ctwatchEvent):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return kindOther
	}
	var k eventKind
	switch string(rest[:end]) {
	case "new":
		k = kindNew
	case "update":
		k = kindUpdate
	case "destroy":
		k = kindDestroy
	default:
		return kindOther
	}
	if bytes.Contains(line, ctwatchInferred) {
		return kindInferred
	}
	return k
}

func classifyConntrack(line []byte) eventKind {
	// The type comes first, right-aligned in 9 columns ("    [NEW] "),
	// after a "[seconds.micro]" stamp with -o timestamp: it is within the
	// first 40 bytes whatever the options.
	head := line[:min(len(line), 40)]
	switch {
	case bytes.Contains(head, []byte("[NEW] ")):
		return kindNew
	case bytes.Contains(head, []byte("[UPDATE] ")):
		return kindUpdate
	case bytes.Contains(head, []byte("[DESTROY] ")):
		return kindDestroy
	}
	return kindOther
}

var ulogdEvent = []byte(`"ct.event": `)

func classifyUlogd(line []byte) eventKind {
	i := bytes.Index(line, ulogdEvent)
	if i < 0 {
		return kindOther
	}
	rest := line[i+len(ulogdEvent):]
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	// NFCT_T_NEW, NFCT_T_UPDATE and NFCT_T_DESTROY of
	// libnetfilter_conntrack.
	switch string(rest[:end]) {
	case "1":
		return kindNew
	case "2":
		return kindUpdate
	case "4":
		return kindDestroy
	}
	return kindOther
}

// ctwatchBuffer returns the receive buffer ctwatch asked for, from the
// buffer_requested key of its start record, its output's first record.
func ctwatchBuffer(r io.Reader) (int64, error) {
	var start struct {
		Event  string `json:"event"`
		Buffer int64  `json:"buffer_requested"`
	}
	if err := json.NewDecoder(r).Decode(&start); err != nil {
		return 0, fmt.Errorf("start record: %w", err)
	}
	if start.Event != "start" {
		return 0, fmt.Errorf("first record is %q, want the start record", start.Event)
	}
	return start.Buffer, nil
}

// countRecords counts the records of a monitor's output by kind.
func countRecords(f recordFormat, r io.Reader) (eventCounts, error) {
	if f == formatFloor {
		var c eventCounts
		if err := json.NewDecoder(r).Decode(&c); err != nil {
			return eventCounts{}, fmt.Errorf("floor summary: %w", err)
		}
		return c, nil
	}
	var c eventCounts
	err := eachLine(r, func(line []byte) {
		if line == nil {
			c.Other++
			return
		}
		c.add(classify(f, line))
	})
	return c, err
}

// eachLine calls fn with each line of r up to its end, the newline
// included, reading through a 1 MiB buffer without copying; a line longer
// than that is no record of ours: fn gets nil for it, and the rest of it
// is skipped. The line is valid only during the call.
func eachLine(r io.Reader, fn func(line []byte)) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			fn(nil)
		} else if len(line) > 0 {
			fn(line)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read output: %w", err)
		}
	}
}

// formatCount writes n with thousands separators: 200,000.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b []byte
	for i, r := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, r)
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}
