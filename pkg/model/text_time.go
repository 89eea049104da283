package model

import (
	"strconv"
	"strings"
	"time"
)

// parseCtime parses the inside of "[start=...]" including the closing
// bracket.
func (p *textParser) parseCtime(s string) (time.Time, bool) {
	s, ok := strings.CutSuffix(s, "]")
	if !ok {
		return time.Time{}, false
	}
	loc := p.loc
	if loc == nil {
		loc = time.UTC
	}
	t, err := time.ParseInLocation(ctimeLayout, s, loc)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// parseEventTimestamp parses "[seconds.fraction]" with at most six
// fractional digits.
func parseEventTimestamp(tok string) (time.Time, bool) {
	in, ok := strings.CutPrefix(tok, "[")
	if !ok {
		return time.Time{}, false
	}
	if in, ok = strings.CutSuffix(in, "]"); !ok {
		return time.Time{}, false
	}
	secStr, fracStr, ok := strings.Cut(in, ".")
	// conntrack prints microseconds; more digits would not survive a
	// round trip through the text form.
	if !ok || !isDigits(secStr) || !isDigits(fracStr) || len(fracStr) > 6 {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil || sec > 1<<40 {
		return time.Time{}, false
	}
	frac, _ := strconv.ParseInt(fracStr, 10, 64)
	for i := len(fracStr); i < 9; i++ {
		frac *= 10
	}
	return time.Unix(sec, frac).UTC(), true
}

// parseSpacePaddedTimestamp parses the "[seconds.micros" of an expectation
// event's "[%-8ld.%-6ld]" prefix, whose fraction is a whole number of
// microseconds rather than a decimal fraction.
func parseSpacePaddedTimestamp(tok string) (time.Time, bool) {
	secStr, usecStr, ok := strings.Cut(strings.TrimPrefix(tok, "["), ".")
	if !ok || !isDigits(secStr) || !isDigits(usecStr) || len(usecStr) > 6 {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil || sec > 1<<40 {
		return time.Time{}, false
	}
	usec, _ := strconv.ParseInt(usecStr, 10, 64)
	return time.Unix(sec, usec*1000).UTC(), true
}
