package record

import (
	"strconv"

	"github.com/ctwatch/ctwatch/internal/flow"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The unmapped.conntrack object of the OCSF entry records, appended as
// bytes (conntrack_json.go) as ECS's conntrack object is.

// appendOCSFConntrack appends the unmapped object of an entry record:
// {"conntrack":{sequence, run, event, netns, the entry's keys, origin,
// transition, flow, inferred, inferred_reason}}. origin, tr, lc and ns may
// be nil; inferredReason is empty for a record that is not an inferred end.
func (e *Encoder) appendOCSFConntrack(dst []byte, seq uint64, typ string, en *model.Entry, origin *model.Origin,
	tr *flow.Transition, lc *flow.Lifecycle, ns *netnsSlot, inferredReason string) []byte {
	dst = append(dst, `{"conntrack":{"sequence":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	if e.run != "" {
		dst = append(dst, `,"run":`...)
		dst = appendJSONString(dst, e.run)
	}
	dst = append(dst, `,"event":"`...)
	dst = append(dst, typ...)
	dst = append(dst, '"')
	if ns != nil {
		dst = objRaw(dst, "netns", ns.json)
	}
	var eb entryBytes
	eb.format(en, false)
	dst = appendEntryKeys(dst, en, &eb)
	dst = appendFlowKeys(dst, origin, tr, lc)
	if inferredReason != "" {
		dst = append(dst, `,"inferred":true`...)
		dst = objStr(dst, "inferred_reason", inferredReason)
	}
	return append(dst, "}}"...)
}
