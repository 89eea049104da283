package record

import (
	"time"

	"github.com/ctwatch/ctwatch/pkg/model"
)

// SetDeltaTime sets e's DeltaTime as conntrack-tools computes it for an
// entry with a start timestamp: the whole seconds of the stop time (or of
// now, while the entry lives) minus the whole seconds of the start time. A
// negative result (a clock stepped back) is 0. Entries without a start time
// are left alone.
func SetDeltaTime(e *model.Entry, now time.Time) {
	if !e.Fields.Has(model.FieldStart) {
		return
	}
	end := now.Unix()
	if e.Fields.Has(model.FieldStop) && e.Stop.UnixNano() != 0 {
		end = e.Stop.Unix()
	}
	var d uint64
	if s := e.Start.Unix(); end > s {
		d = uint64(end - s)
	}
	e.DeltaTime = d
	e.Fields |= model.FieldDeltaTime
}
