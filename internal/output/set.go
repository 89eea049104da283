package output

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/sink"
)

// Output is one destination of the stream: a *Local or a *Remote.
type Output interface {
	// Spec returns what the output was made from.
	Spec() Spec
	// Put takes a record without waiting: queued, or dropped and counted.
	Put(Record)
	// PutWait takes a record of a table dump: it waits for room rather
	// than drop it, until ctx ends (then it drops and counts it as Put
	// would).
	PutWait(ctx context.Context, r Record)
	// Flush waits until the records put before are out, or ctx ends.
	Flush(ctx context.Context) error
	// Close stops the output; what it could not deliver is counted.
	Close() error
	// Faults returns the channel of its health changes.
	Faults() <-chan sink.Fault
	// NotifyFaults has f called (it must not block) after each health
	// change is reported on Faults.
	NotifyFaults(f func())
	// Stats returns its counters.
	Stats() Stats
}

// Set is the stream's outputs: the writer the encoder writes to, which
// hands every record to every output. Write and WriteLevel are called by
// one goroutine at a time (the encoder's lock, or the watch loop for text
// lines); the other methods by any.
type Set struct {
	outs []Output
	run  string

	// next is what Mark said of the record about to be written; marked
	// says Mark was called since the last write.
	next   Record
	marked bool
	// own numbers the records written without a Mark: conntrack -E text
	// lines, which have no sequence number of their own.
	own uint64

	// failing says, by output, whether its last fault was a failure.
	failing []atomic.Bool

	// wait, while set (Wait), makes every record wait for room in each
	// output until its context ends.
	wait atomic.Pointer[waiting]
}

// waiting is the context the records written under Wait wait within.
type waiting struct{ ctx context.Context }

// NewSet returns the Set of outs, whose records carry the run id run.
func NewSet(run string, outs ...Output) *Set {
	return &Set{outs: outs, run: run, failing: make([]atomic.Bool, len(outs))}
}

// Outputs returns the outputs, in the order given.
func (s *Set) Outputs() []Output { return s.outs }

// Mark tells the Set the sequence number of the record the encoder is about
// to write, and whether no output may drop it (record.Config.Mark).
func (s *Set) Mark(seq uint64, keep bool) {
	s.next = Record{Seq: seq, Keep: keep}
	s.marked = true
}

// Write hands the record p to every output, at info level.
func (s *Set) Write(p []byte) (int, error) {
	return s.WriteLevel(zerolog.InfoLevel, p)
}

// WriteLevel hands the record p, of level l, to every output. It never
// fails, and outside Wait it never waits for an output: one that is behind
// drops and counts. zerolog calls it for each record.
func (s *Set) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r := s.next
	if !s.marked {
		s.own++
		r = Record{Seq: s.own}
	}
	s.marked = false
	r.Data, r.Run, r.Level = p, s.run, l
	if wt := s.wait.Load(); wt != nil {
		for _, o := range s.outs {
			o.PutWait(wt.ctx, r)
		}
		return len(p), nil
	}
	for _, o := range s.outs {
		o.Put(r)
	}
	return len(p), nil
}

// Wait makes the records written from now until end is called wait for
// room in every output (Output.PutWait) instead of being dropped, until
// ctx ends: the watch brackets a table dump's records with it. A dump is
// pulled by ctwatch, so waiting for output slows the dump down (the kernel
// keeps the rest of it) and loses nothing, whereas a live event that
// waited would overflow the event socket. Records written meanwhile by
// other goroutines (the health monitor's) wait too. Calls do not nest.
func (s *Set) Wait(ctx context.Context) (end func()) {
	s.wait.Store(&waiting{ctx: ctx})
	return func() { s.wait.Store(nil) }
}

// DrainFaults calls handle with each health change the outputs have
// reported, each naming its output in Fault.Path, without waiting for
// more: the watch loop calls it on every turn.
func (s *Set) DrainFaults(handle func(sink.Fault)) {
	for i, o := range s.outs {
		for {
			select {
			case f := <-o.Faults():
				s.failing[i].Store(f.Err != nil)
				handle(f)
				continue
			default:
			}
			break
		}
	}
}

// NotifyFaults has f called after any output reports a health change: the
// watch loop has it end its wait, so that DrainFaults runs at once. f must
// not block.
func (s *Set) NotifyFaults(f func()) {
	for _, o := range s.outs {
		o.NotifyFaults(f)
	}
}

// Failing returns the names of the outputs that fail now.
func (s *Set) Failing() []string {
	var names []string
	for i := range s.failing {
		if s.failing[i].Load() {
			names = append(names, s.outs[i].Spec().Name)
		}
	}
	return names
}

// Stats returns each output's counters, in order.
func (s *Set) Stats() []Stats {
	st := make([]Stats, len(s.outs))
	for i, o := range s.outs {
		st[i] = o.Stats()
		st[i].Failing = s.failing[i].Load()
	}
	return st
}

// Total returns the counters summed over the outputs, named "".
func (s *Set) Total() Stats {
	var t Stats
	for _, st := range s.Stats() {
		t.Records += st.Records
		t.Queued += st.Queued
		t.QueueBytes += st.QueueBytes
		t.Dropped += st.Dropped
		t.Overflow += st.Overflow
		t.Refused += st.Refused
		t.Failed += st.Failed
		t.Retries += st.Retries
		t.Reconnects += st.Reconnects
		t.Bytes += st.Bytes
		t.Lag = max(t.Lag, st.Lag)
		t.Failing = t.Failing || st.Failing
	}
	return t
}

// Reopen makes every file output reopen its file (SIGHUP).
func (s *Set) Reopen() {
	for _, o := range s.outs {
		if l, ok := o.(*Local); ok {
			l.w.Reopen()
		}
	}
}

// Done returns a channel closed when output has become impossible for
// good: standard output's reader went away (EPIPE) and there is no other
// output. With other outputs, the watch goes on for them.
func (s *Set) Done() <-chan struct{} {
	if len(s.outs) == 1 {
		if l, ok := s.outs[0].(*Local); ok {
			return l.w.Done()
		}
	}
	return nil // never
}

// Err returns why Done was closed, or nil.
func (s *Set) Err() error {
	if len(s.outs) == 1 {
		if l, ok := s.outs[0].(*Local); ok {
			return l.w.Err()
		}
	}
	return nil
}

// Depth returns the records waiting in every output.
func (s *Set) Depth() int { return s.Total().Queued }

// Flush waits until every output has its records out, or ctx ends; it
// returns their errors joined.
func (s *Set) Flush(ctx context.Context) error {
	errs := make([]error, len(s.outs))
	var wg sync.WaitGroup
	for i, o := range s.outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = o.Flush(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close closes every output.
func (s *Set) Close() error {
	var errs []error
	for _, o := range s.outs {
		errs = append(errs, o.Close())
	}
	return errors.Join(errs...)
}
