package record

import (
	"math"
	"strconv"
	"time"

	"github.com/rs/zerolog"
)

// The OCSF classes the records belong to (docs/schema-ocsf.md), with their
// category: class_uid / 1000.
const (
	ocsfBaseEvent            = 0
	ocsfNetworkActivity      = 4001
	ocsfApplicationLifecycle = 6002
	ocsfApplicationError     = 6008
)

// The OCSF activity, severity and status ids the records use.
const (
	ocsfActivityUnknown = 0
	ocsfActivityOther   = 99

	// Network Activity.
	ocsfOpen    = 1
	ocsfClose   = 2
	ocsfReset   = 3
	ocsfFail    = 4
	ocsfRefuse  = 5
	ocsfTraffic = 6

	// Application Lifecycle.
	ocsfStart = 3
	ocsfStop  = 4

	// Application Error.
	ocsfGeneralError     = 1
	ocsfTranslationError = 2

	ocsfInformational = 1
	ocsfLow           = 2
	ocsfMedium        = 3
	ocsfHigh          = 4

	ocsfStatusUnknown = 0
	ocsfStatusSuccess = 1
	ocsfStatusFailure = 2
)

// ocsfStatusNames are the captions of the status ids, OCSF's "status".
var ocsfStatusNames = [...]string{ocsfStatusUnknown: "Unknown", ocsfStatusSuccess: "Success", ocsfStatusFailure: "Failure"}

// ocsfProduct is the product every record names in metadata.product (and
// the lifecycle records in app): ctwatch, which is also its vendor (D21).
const ocsfProduct = "ctwatch"

// ocsfClass is what starts every OCSF record: its classification and its
// severity.
type ocsfClass struct {
	class, activity int
	// activityName is activity_id's caption, activity_name.
	activityName string
	severity     int
}

// ocsfRecord starts a record of class c: it returns nil, and takes no
// sequence number, when the logger's level filters level out. level is
// zerolog.NoLevel for the records that have none (ctwatch parse, stats
// --json): they are always written, without metadata.log_level.
//
// The records are started with Log rather than WithLevel because OCSF has
// no top-level "level" attribute: the level goes to metadata.log_level,
// and the filtering WithLevel would do is done here.
func (e *Encoder) ocsfRecord(level zerolog.Level, c ocsfClass, t time.Time) (*zerolog.Event, uint64) {
	return e.ocsfRecordNS(level, c, t, nil)
}

// ocsfRecordNS is ocsfRecord for a record of a namespace whose identity
// is ns (nil for none): the container its process runs in is
// device.container (uid, and the pod's pod_uuid), with the container
// profile listed in metadata.profiles. OCSF's container requires a uid
// or a name: a pod known without its container has its uid only under
// unmapped.conntrack.netns.
func (e *Encoder) ocsfRecordNS(level zerolog.Level, c ocsfClass, t time.Time, ns *netnsSlot) (*zerolog.Event, uint64) {
	if level != zerolog.NoLevel && (level < e.log.GetLevel() || level < zerolog.GlobalLevel()) {
		return nil, 0
	}
	z := e.log.Log()
	if z == nil {
		return nil, 0
	}
	seq := e.nextSeq()
	if t.IsZero() {
		// OCSF requires time; a record whose source gave none (a line of
		// /proc) takes the time it was made (D4).
		t = e.clock()
	}
	z.Int("class_uid", c.class).
		Int("category_uid", c.class/1000).
		Int("activity_id", c.activity).
		Str("activity_name", c.activityName).
		Int64("type_uid", int64(c.class)*100+int64(c.activity)).
		Int("severity_id", c.severity).
		Int64("time", t.UnixMilli())
	// device, which holds the container, requires a host name, which
	// every watch has.
	container := ns != nil && ns.found && ns.ns.ID != "" && e.host != ""
	var buf [512]byte
	z.RawJSON("metadata", e.appendOCSFMetadata(buf[:0], level, seq, container))
	if e.host != "" {
		b := append(buf[:0], `{"hostname":`...)
		b = appendJSONString(b, e.host)
		b = append(b, `,"type_id":0`...)
		if container {
			b = objStr(append(b, `,"container":{`...), "uid", ns.ns.ID)
			if ns.ns.PodUID != "" {
				b = objStr(b, "pod_uuid", ns.ns.PodUID)
			}
			b = append(b, '}')
		}
		z.RawJSON("device", append(b, '}'))
	}
	return z, seq
}

// appendOCSFMetadata appends the metadata object: the OCSF version, the
// product, the sequence number modulo 2^31 (OCSF's is a 32-bit integer_t;
// unmapped.conntrack.sequence has it whole, D6), the level and the host
// profile (device and actor come from it), and the container profile when
// device.container is written.
func (e *Encoder) appendOCSFMetadata(dst []byte, level zerolog.Level, seq uint64, container bool) []byte {
	dst = append(dst, `{"version":"`+OCSFVersion+`","product":{"name":"`+ocsfProduct+`","vendor_name":"`+ocsfProduct+`"`...)
	if e.version != "" {
		dst = append(dst, `,"version":`...)
		dst = appendJSONString(dst, e.version)
	}
	dst = append(dst, `},"sequence":`...)
	dst = strconv.AppendUint(dst, seq%(1<<31), 10)
	if level != zerolog.NoLevel {
		dst = append(dst, `,"log_level":"`...)
		dst = append(dst, level.String()...)
		dst = append(dst, '"')
	}
	if container {
		return append(dst, `,"profiles":["host","container"]}`...)
	}
	return append(dst, `,"profiles":["host"]}`...)
}

// appendOCSFApp appends the app object of the lifecycle records: ctwatch
// itself.
func (e *Encoder) appendOCSFApp(dst []byte) []byte {
	dst = append(dst, `{"name":"`+ocsfProduct+`","vendor_name":"`+ocsfProduct+`"`...)
	if e.version != "" {
		dst = append(dst, `,"version":`...)
		dst = appendJSONString(dst, e.version)
	}
	return append(dst, '}')
}

// ocsfConntrack starts the unmapped.conntrack object with the keys every
// record has there: the whole sequence number, the run and the native
// event name. Finish it with ocsfUnmapped.
func (e *Encoder) ocsfConntrack(seq uint64, event string) *zerolog.Event {
	c := zerolog.Dict().Uint64("sequence", seq)
	if e.run != "" {
		c.Str("run", e.run)
	}
	return c.Str("event", event)
}

// ocsfUnmapped writes c as unmapped.conntrack and sends the record.
func ocsfUnmapped(z *zerolog.Event, c *zerolog.Event) {
	z.Dict("unmapped", zerolog.Dict().Dict("conntrack", c)).Send()
}

// ocsfStatus writes status_id and its caption.
func ocsfStatus(z *zerolog.Event, id int) {
	z.Int("status_id", id).Str("status", ocsfStatusNames[id])
}

// ocsfLong converts a counter to OCSF's long_t, a signed 64-bit integer,
// saturating rather than wrapping.
func ocsfLong(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// ocsfSum adds two counters as a long_t, saturating.
func ocsfSum(a, b uint64) int64 {
	if a+b < a {
		return math.MaxInt64
	}
	return ocsfLong(a + b)
}

// ocsfInt converts a count to OCSF's integer_t, a signed 32-bit integer,
// saturating rather than wrapping.
func ocsfInt(v uint64) int {
	if v > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(v)
}

// ocsfMillis converts a duration to OCSF's milliseconds, truncated.
func ocsfMillis(d time.Duration) int64 { return d.Milliseconds() }
