package record

import (
	"time"

	"github.com/rs/zerolog"
)

// ecsClass is how ECS classifies a record kind: event.kind, event.category
// and event.type (JSON arrays, empty for none) and event.action
// ("conntrack-" and the native event name, hyphenated).
type ecsClass struct {
	kind, category, types, action string
}

// The categories and types the ECS records use, as JSON arrays.
const (
	ecsNetwork       = `["network"]`
	ecsConfiguration = `["configuration"]`
	ecsInfo          = `["info"]`
)

// ecsEventExtra holds the event.* values that depend on the record rather
// than on its kind; zero values are omitted.
type ecsEventExtra struct {
	// outcome is event.outcome, reason event.reason.
	outcome, reason string
	// start and end are event.start and event.end; startRaw and endRaw,
	// when set, are the same times already formatted (AppendTime), so
	// that a time an entry record also writes under conntrack is
	// formatted once.
	start, end       time.Time
	startRaw, endRaw []byte
	// duration is event.duration, in nanoseconds, when hasDuration.
	duration    time.Duration
	hasDuration bool
	// original is event.original.
	original string
}

// The event.outcome values.
const (
	ecsSuccess = "success"
	ecsFailure = "failure"
	ecsUnknown = "unknown"
)

// ecsVersionJSON is the ecs object, the same in every record.
var ecsVersionJSON = []byte(`{"version":"` + ECSVersion + `"}`)

// ecsOpen starts an ECS record of the given level, or returns nil when the
// logger's level filters it out. The record is begun without zerolog's own
// level key, which is not an ECS field: the level goes into log.level
// (ecsHead). zerolog.NoLevel is a record without a level (ctwatch parse's),
// which no level filters.
func (e *Encoder) ecsOpen(level zerolog.Level) *zerolog.Event {
	if level != zerolog.NoLevel && (level < e.log.GetLevel() || level < zerolog.GlobalLevel()) {
		return nil
	}
	return e.log.Log()
}

// ecsHead writes the keys every ECS record starts with: @timestamp, ecs,
// log (unless level is zerolog.NoLevel), message (when not empty), event
// (the class, x, the record's sequence number, module and dataset), host
// and observer. It takes the record's sequence number, so call it once per
// record, on a z that is not nil.
func (e *Encoder) ecsHead(z *zerolog.Event, at time.Time, level zerolog.Level, c *ecsClass, x *ecsEventExtra, message string) {
	var buf [512]byte
	z.RawJSON("@timestamp", AppendTime(buf[:0], at))
	z.RawJSON("ecs", ecsVersionJSON)
	if level != zerolog.NoLevel {
		b := append(buf[:0], '{')
		b = objStr(b, "level", level.String())
		z.RawJSON("log", append(b, '}'))
	}
	if message != "" {
		z.Str("message", message)
	}
	b := append(buf[:0], '{')
	b = objStr(b, "kind", c.kind)
	if c.category != "" {
		b = append(objKey(b, "category"), c.category...)
	}
	if c.types != "" {
		b = append(objKey(b, "type"), c.types...)
	}
	b = objStr(b, "action", c.action)
	if x != nil {
		if x.outcome != "" {
			b = objStr(b, "outcome", x.outcome)
		}
		if x.reason != "" {
			b = objStr(b, "reason", x.reason)
		}
	}
	b = objUint(b, "sequence", e.nextSeq())
	b = append(b, `,"module":"ctwatch","dataset":"ctwatch.conntrack"`...)
	if x != nil {
		switch {
		case x.startRaw != nil:
			b = objRaw(b, "start", x.startRaw)
		case !x.start.IsZero():
			b = objTime(b, "start", x.start)
		}
		switch {
		case x.endRaw != nil:
			b = objRaw(b, "end", x.endRaw)
		case !x.end.IsZero():
			b = objTime(b, "end", x.end)
		}
		if x.hasDuration {
			b = objInt(b, "duration", int64(x.duration))
		}
		if x.original != "" {
			b = objStr(b, "original", x.original)
		}
	}
	z.RawJSON("event", append(b, '}'))
	b = append(buf[:0], '{')
	b = objStr(b, "name", e.host)
	z.RawJSON("host", append(b, '}'))
	b = append(buf[:0], `{"product":"ctwatch"`...)
	if e.version != "" {
		b = objStr(b, "version", e.version)
	}
	b = append(b, `,"type":"sensor"`...)
	b = objStr(b, "hostname", e.host)
	z.RawJSON("observer", append(b, '}'))
}

// ecsConntrack starts the conntrack object of a record: the native event
// name and the run, which every record carries.
func (e *Encoder) ecsConntrack(event string) *zerolog.Event {
	return zerolog.Dict().Str("event", event).Str("run", e.run)
}

// ecsError writes error.message.
func ecsError(z *zerolog.Event, err error) {
	if err == nil {
		return
	}
	z.Dict("error", zerolog.Dict().Str("message", err.Error()))
}

// ecsContainer writes what ECS has of a namespace's identity ns (nil for
// none): container.id, the container the namespace's process runs in
// (for a pod, its sandbox's), and for a Kubernetes pod orchestrator.type
// and orchestrator.resource.type and .id, the pod's UID (ECS 9.4.0:
// "Unique ID of the resource being acted upon").
func ecsContainer(z *zerolog.Event, ns *netnsSlot) {
	if ns == nil || !ns.found {
		return
	}
	var buf [192]byte
	if ns.ns.ID != "" {
		b := objStr(append(buf[:0], '{'), "id", ns.ns.ID)
		z.RawJSON("container", append(b, '}'))
	}
	if ns.ns.PodUID != "" {
		b := append(buf[:0], `{"type":"kubernetes","resource":{"type":"pod"`...)
		b = objStr(b, "id", ns.ns.PodUID)
		z.RawJSON("orchestrator", append(b, '}', '}'))
	}
}
