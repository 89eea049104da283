package connlabel

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// DefaultPath is where libnetfilter_conntrack, and with it conntrack-tools,
// reads label names from.
const DefaultPath = "/etc/xtables/connlabel.conf"

const (
	// maxBits is libnetfilter_conntrack's MAX_BITS: the bits it reads.
	maxBits = 1024
	// pieceLen is what one fgets into libnetfilter_conntrack's 1024-byte
	// buffer reads at most.
	pieceLen = 1023
	// maxFileSize bounds the file read: a connlabel.conf names at most
	// 1024 bits, and a larger file is not one.
	maxFileSize = 16 << 20
)

// LineError is a line of the file that was not loaded as it reads, or
// loaded but cannot do what it seems to (Loaded).
type LineError struct {
	// File is the file's name as given.
	File string
	// Line is the line's number, from 1.
	Line int
	// Field is the part of the line at fault: "bit" or "name".
	Field string
	// Msg says what is wrong.
	Msg string
	// Loaded is true when the line was loaded nonetheless (a bit past
	// the kernel's 127, the first piece of a line cut in pieces).
	Loaded bool
}

func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// Load reads the file at path with Parse. A file that cannot be opened or
// read is an error (wrapping fs.ErrNotExist when it is missing); lines of
// the file that do not load are not: they are returned as problems, and
// the table holds the rest.
func Load(path string) (*model.LabelNames, []*LineError, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read connlabel file: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads a connlabel.conf from r as libnetfilter_conntrack does (see
// the package documentation), file naming it in problems. The error is
// that of reading r only; the lines that do not load are the problems, in
// the order of the file.
func Parse(r io.Reader, file string) (*model.LabelNames, []*LineError, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read connlabel file %s: %w", file, err)
	}
	if len(data) > maxFileSize {
		return nil, nil, fmt.Errorf("read connlabel file %s: larger than %d bytes", file, maxFileSize)
	}
	p := parser{file: file, names: new(model.LabelNames)}
	line := 1
	for len(data) > 0 {
		n := min(len(data), pieceLen)
		if i := bytes.IndexByte(data[:n], '\n'); i >= 0 {
			n = i + 1
		}
		// Cut: the line goes on past this piece (a line of exactly 1023
		// bytes leaves only its newline for the next piece, which cuts
		// nothing off).
		cut := data[n-1] != '\n' && n < len(data) && data[n] != '\n'
		p.piece(line, data[:n], cut)
		if data[n-1] == '\n' {
			line++
		}
		p.continued = cut
		data = data[n:]
	}
	return p.names, p.problems, nil
}

type parser struct {
	file     string
	names    *model.LabelNames
	problems []*LineError
	// lineOf is the line that named each bit, and nameLine that used
	// each name, for the reports of later lines.
	lineOf   map[int]int
	nameLine map[string]int
	// continued is true when the previous piece was cut from a longer
	// line and this one is its rest.
	continued bool
}

func (p *parser) report(line int, field, msg string, loaded bool) {
	p.problems = append(p.problems, &LineError{File: p.file, Line: line, Field: field, Msg: msg, Loaded: loaded})
}

// piece handles one fgets piece; cut is true when it is the first 1023
// bytes of a longer line.
func (p *parser) piece(line int, s []byte, cut bool) {
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if len(s) > 0 && s[0] == '#' {
		return
	}
	bit, rest, ok := strtoul(s)
	if !ok {
		if t := bytes.TrimLeft(s, " \t\n\v\f\r"); len(t) > 0 && t[0] != '#' {
			what := fmt.Sprintf("%q is not a number", firstWord(t))
			if p.continued {
				what = "the rest of a line longer than 1023 bytes, read as a line of its own, does not start with a number"
			}
			p.report(line, "bit", what, false)
		}
		return
	}
	if bit >= maxBits {
		p.report(line, "bit", fmt.Sprintf("%q is not a bit from 0 to %d", firstWord(bytes.TrimLeft(s, " \t\n\v\f\r")), maxBits-1), false)
		return
	}
	b := int(bit)
	if first, dup := p.lineOf[b]; dup {
		p.report(line, "bit", fmt.Sprintf("bit %d is named on line %d already (as %q)", b, first, p.names.Name(b)), false)
		return
	}
	name, ok := trimLabel(rest)
	if !ok {
		p.report(line, "name", fmt.Sprintf("bit %d has no name", b), false)
		return
	}
	if !sane(name) {
		p.report(line, "name", fmt.Sprintf("%q holds characters other than ASCII letters, digits, spaces and '-'", name), false)
		return
	}
	if first, dup := p.nameLine[name]; dup {
		other, _ := p.names.Bit(name)
		p.report(line, "name", fmt.Sprintf("%q names bit %d already (line %d)", name, other, first), false)
		return
	}
	p.names.Add(b, name)
	if p.lineOf == nil {
		p.lineOf, p.nameLine = make(map[int]int), make(map[string]int)
	}
	p.lineOf[b], p.nameLine[name] = line, line
	if cut {
		p.report(line, "name", fmt.Sprintf("the line is longer than 1023 bytes: bit %d is named %q, from its first 1023 bytes, as libnetfilter_conntrack reads it", b, name), true)
	}
	if b >= model.MaxLabelBits {
		p.report(line, "bit", fmt.Sprintf("bit %d is past the kernel's %d: loaded, but no entry can carry it", b, model.MaxLabelBits-1), true)
	}
}

// firstWord is s up to its first white space, for a report.
func firstWord(s []byte) string {
	if i := bytes.IndexAny(s, " \t\n\v\f\r"); i >= 0 {
		s = s[:i]
	}
	return string(s)
}

// strtoul is C's strtoul(s, &end, 0) on a 64-bit host: it returns the
// value, what follows the number, and false when s holds no number (end
// == s). An out-of-range value is math.MaxUint64, and a negative one is
// negated modulo 2^64, as C does.
func strtoul(s []byte) (uint64, []byte, bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base := uint64(10)
	switch {
	case i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && digit(s[i+2], 16):
		base = 16
		i += 2
	case i < len(s) && s[i] == '0':
		base = 8
	}
	start := i
	var v uint64
	overflow := false
	for ; i < len(s) && digit(s[i], base); i++ {
		d := digitValue(s[i])
		if v > (math.MaxUint64-d)/base {
			overflow = true
		}
		v = v*base + d
	}
	if i == start {
		return 0, s, false
	}
	switch {
	case overflow:
		v = math.MaxUint64
	case neg:
		v = -v
	}
	return v, s[i:], true
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// isSpacePosix is labels.c's is_space_posix: isspace without '\n'.
func isSpacePosix(c byte) bool {
	return c == ' ' || c == '\f' || c == '\r' || c == '\t' || c == '\v'
}

func digitValue(c byte) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case c >= 'a' && c <= 'z':
		return uint64(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return uint64(c-'A') + 10
	}
	return math.MaxUint64
}

func digit(c byte, base uint64) bool {
	return digitValue(c) < base
}

// trimLabel is labels.c's trim_label: the text up to the first newline,
// without the white space at either end; false when nothing is left.
func trimLabel(s []byte) (string, bool) {
	for len(s) > 0 && isSpacePosix(s[0]) {
		s = s[1:]
	}
	if i := bytes.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	for len(s) > 1 && isSpacePosix(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return string(s), len(s) > 0
}

// sane is labels.c's label_is_sane: ASCII letters, digits, space and '-'.
func sane(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || c == '-') {
			return false
		}
	}
	return true
}
