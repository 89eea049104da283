package syslog

import (
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/rfc3339"
)

// Record is what a [Client] sends: one complete JSON line as the encoder
// wrote it, with the facts the header needs.
type Record struct {
	// Line is the JSON record; a trailing newline is not sent.
	Line []byte
	// Seq is the record's sequence number, unique per run.
	Seq uint64
	// Run is the run id (a UUID).
	Run string
	// Level is the record's zerolog level, which gives the severity.
	Level zerolog.Level
	// Kind, when not empty, is the MSGID (the record's type, "new",
	// "destroy", "gap"...); it is cut to 32 printable ASCII characters.
	Kind string
}

// nilValue is RFC 5424's NILVALUE.
const nilValue = '-'

// Header limits of RFC 5424 section 6.
const (
	maxHostname = 255
	maxAppName  = 48
	maxProcID   = 128
	maxMsgID    = 32
)

// Format holds what is the same in every message of one client and appends
// messages. It is read-only after [NewFormat], so goroutines may share one.
type Format struct {
	facility Facility
	// host, app and procid are the header fields, checked once.
	host, app, procid []byte
	// pen is "[ctwatch@PEN" or nil for no structured data.
	pen []byte
}

// FormatConfig is the header of every message.
type FormatConfig struct {
	// Facility of every message; Daemon when zero (kern, facility 0, is
	// the kernel's).
	Facility Facility
	// Hostname is the HOSTNAME field; "-" when empty.
	Hostname string
	// AppName is the APP-NAME field; "ctwatch" when empty.
	AppName string
	// ProcID is the PROCID field, the process id; "-" when 0.
	ProcID int
	// EnterpriseNumber, when not 0, adds the structured data element
	// [ctwatch@EnterpriseNumber seq="N" run="RUN"] to every message. RFC
	// 5424 lets only the IANA register SD-IDs without an @, and one with an
	// @ must carry the private enterprise number of whoever defines it;
	// ctwatch has none, so the default is no structured data (seq and run
	// are in the JSON record anyway) and an operator with a PEN of their
	// own can ask for the element. 32473, reserved for documentation by
	// RFC 5612, is right only in examples and tests.
	EnterpriseNumber uint32
}

// NewFormat prepares the header fields, replacing what RFC 5424 does not
// allow in them (anything but printable ASCII) with '_' and cutting them to
// their maximal lengths.
func NewFormat(c FormatConfig) *Format {
	f := &Format{facility: c.Facility}
	if f.facility == 0 || f.facility > Local7 {
		f.facility = Daemon
	}
	if c.AppName == "" {
		c.AppName = "ctwatch"
	}
	f.host = headerField(nil, c.Hostname, maxHostname)
	f.app = headerField(nil, c.AppName, maxAppName)
	procid := ""
	if c.ProcID > 0 {
		procid = strconv.Itoa(c.ProcID)
	}
	f.procid = headerField(nil, procid, maxProcID)
	if c.EnterpriseNumber != 0 {
		f.pen = strconv.AppendUint([]byte("[ctwatch@"), uint64(c.EnterpriseNumber), 10)
	}
	return f
}

// headerField appends s as an RFC 5424 header field: NILVALUE when empty,
// otherwise PRINTUSASCII (33 to 126) with others replaced by '_', at most
// max bytes.
func headerField(dst []byte, s string, max int) []byte {
	if s == "" {
		return append(dst, nilValue)
	}
	if len(s) > max {
		s = s[:max]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// TimestampLen is the length of a timestamp from [AppendTimestamp].
const TimestampLen = len("2006-01-02T15:04:05.000000Z")

// AppendTimestamp appends t in UTC as RFC 3339 with microseconds, the
// TIMESTAMP of RFC 5424 (which allows at most six fraction digits).
func AppendTimestamp(dst []byte, t time.Time) []byte { return rfc3339.Append(dst, t, 6) }

// Append appends the RFC 5424 message of r with the timestamp ts (from
// [AppendTimestamp]): <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG.
// MSG is r.Line without a trailing newline and without a BOM: RFC 5424
// makes the BOM optional (MSG-ANY), and a BOM in front of JSON breaks the
// JSON parsers of the collectors downstream (RFC 8259 forbids it).
func (f *Format) Append(dst, ts []byte, r *Record) []byte {
	pri := uint64(f.facility)*8 + uint64(SeverityOf(r.Level))
	dst = append(dst, '<')
	dst = strconv.AppendUint(dst, pri, 10)
	dst = append(dst, ">1 "...)
	dst = append(dst, ts...)
	dst = append(dst, ' ')
	dst = append(dst, f.host...)
	dst = append(dst, ' ')
	dst = append(dst, f.app...)
	dst = append(dst, ' ')
	dst = append(dst, f.procid...)
	dst = append(dst, ' ')
	dst = headerField(dst, r.Kind, maxMsgID)
	dst = append(dst, ' ')
	if f.pen == nil {
		dst = append(dst, nilValue)
	} else {
		dst = append(dst, f.pen...)
		dst = append(dst, ` seq="`...)
		dst = strconv.AppendUint(dst, r.Seq, 10)
		dst = append(dst, `" run="`...)
		dst = appendParamValue(dst, r.Run)
		dst = append(dst, `"]`...)
	}
	line := r.Line
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if len(line) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, line...)
	}
	return dst
}

// appendParamValue escapes '"', '\' and ']' as RFC 5424 section 6.3.3
// requires. A run id is a UUID and needs none of it, but the format must
// not depend on that.
func appendParamValue(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', ']':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
