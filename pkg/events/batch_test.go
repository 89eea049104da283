package events

import (
	"sync"
	"testing"

	"github.com/ctwatch/ctwatch/pkg/model"
)

func TestBatchRelease(t *testing.T) {
	var pool sync.Pool
	b := &Batch{Seq: 9, Events: make([]model.Event, 2, 8), Failures: []DecodeFailure{{Err: ErrTruncated, Raw: []byte{1}}}, pool: &pool}
	b.Release()
	if b.Seq != 0 || len(b.Events) != 0 || cap(b.Events) != 8 || len(b.Failures) != 0 {
		t.Errorf("released batch: seq %d, %d events (cap %d), %d failures", b.Seq, len(b.Events), cap(b.Events), len(b.Failures))
	}
	// A batch of no pool (built by a test, say) is simply dropped.
	(&Batch{}).Release()
	var nilBatch *Batch
	nilBatch.Release()
}
