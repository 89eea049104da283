package output

import (
	"context"
	"io"

	"github.com/ctwatch/ctwatch/internal/sink"
)

// Local is a local output, standard output or a file: a sink.Writer.
type Local struct {
	spec Spec
	w    *sink.Writer
}

// NewLocal makes the output of spec, which is Stdout or File: a file is
// opened for appending (as package sink does, refusing links and other
// users' files unless cfg allows them); Stdout writes to stdout.
func NewLocal(spec Spec, stdout io.Writer, cfg sink.Config) (*Local, error) {
	if spec.Kind == Stdout {
		return &Local{spec: spec, w: sink.New(stdout, cfg)}, nil
	}
	w, err := sink.OpenFile(spec.Raw, cfg)
	if err != nil {
		return nil, err
	}
	return &Local{spec: spec, w: w}, nil
}

// LocalWriter makes a local output of a writer the caller made, named
// name.
func LocalWriter(name string, w *sink.Writer) *Local {
	return &Local{spec: Spec{Kind: Stdout, Name: name, Raw: name}, w: w}
}

// Single returns the Set of one local output writing to w, standard
// output's.
func Single(w *sink.Writer) *Set { return NewSet("", LocalWriter("stdout", w)) }

// Spec returns what the output was made from.
func (l *Local) Spec() Spec { return l.spec }

// Writer returns the sink.Writer behind the output.
func (l *Local) Writer() *sink.Writer { return l.w }

// Put hands rec to the writer without waiting.
func (l *Local) Put(rec Record) {
	if rec.Keep {
		_, _ = l.w.WriteKeep(rec.Data)
		return
	}
	_, _ = l.w.Write(rec.Data) // it drops and counts; it never fails a record
}

// PutWait hands rec to the writer, waiting for room until ctx ends.
func (l *Local) PutWait(ctx context.Context, rec Record) {
	if rec.Keep {
		_, _ = l.w.WriteKeep(rec.Data)
		return
	}
	_, _ = l.w.WriteWait(ctx, rec.Data) // dropped and counted once ctx ends
}

// Flush waits until the records handed over are written or dropped; ctx
// is not looked at (the writer cannot be interrupted: the caller bounds
// the wait from outside, as the watch does).
func (l *Local) Flush(context.Context) error { return l.w.Flush() }

// Close flushes and closes the writer.
func (l *Local) Close() error { return l.w.Close() }

// Faults returns the writer's health changes.
func (l *Local) Faults() <-chan sink.Fault { return l.w.Faults() }

// NotifyFaults has f called after each health change the writer reports.
func (l *Local) NotifyFaults(f func()) { l.w.NotifyFaults(f) }

// Stats returns the output's counters.
func (l *Local) Stats() Stats {
	st := l.w.Stats()
	return Stats{
		Name:     l.spec.Name,
		Kind:     l.spec.Kind,
		Records:  st.Records,
		Queued:   l.w.Depth(),
		Dropped:  st.Dropped,
		Overflow: st.Overflow,
		Failed:   st.Failed,
		Bytes:    st.Bytes,
		// A write's errno: a failed reopen loses nothing.
		LastErrno: st.LastWriteErrno,
	}
}
