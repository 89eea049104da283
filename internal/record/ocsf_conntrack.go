package record

import (
	"strconv"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The unmapped.conntrack object of the OCSF entry records, appended as
// bytes (conntrack_json.go) as ECS's conntrack object is.

// appendOCSFConntrack appends the unmapped object of an entry record:
// {"conntrack":{sequence, run, event, the entry's keys, origin,
// transition, flow, inferred}}. origin, tr and lc may be nil.
func (e *Encoder) appendOCSFConntrack(dst []byte, seq uint64, typ string, en *model.Entry, origin *model.Origin,
	tr *flow.Transition, lc *flow.Lifecycle, inferred bool) []byte {
	dst = append(dst, `{"conntrack":{"sequence":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	if e.run != "" {
		dst = append(dst, `,"run":`...)
		dst = appendJSONString(dst, e.run)
	}
	dst = append(dst, `,"event":"`...)
	dst = append(dst, typ...)
	dst = append(dst, '"')
	var eb entryBytes
	eb.format(en, false)
	dst = appendEntryKeys(dst, en, &eb)
	dst = appendFlowKeys(dst, origin, tr, lc)
	if inferred {
		dst = append(dst, `,"inferred":true`...)
	}
	return append(dst, "}}"...)
}
