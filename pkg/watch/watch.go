package watch

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// ErrOutputGone is returned by Run when output became impossible for good,
// such as when the reader of `ctwatch watch | head` went away.
var ErrOutputGone = errors.New("output is gone")

// shutdownFlush bounds the final flush, so that a stop takes at most about a
// second even when output is blocked.
const shutdownFlush = 700 * time.Millisecond

// Watch is one run of the watch pipeline.
type Watch struct {
	cfg      Config
	counters Counters
	origins  *events.Origins

	// Owned by the loop goroutine.
	textBuf []byte
	last    lossReading
}

// lossReading is the loss counters at the last check.
type lossReading struct{ kernel, queue, output, enobufs uint64 }

// New returns a watch; Run starts it.
func New(cfg Config) *Watch {
	cfg.withDefaults()
	return &Watch{cfg: cfg, origins: events.NewOrigins(cfg.NS)}
}

// Counters returns the watch's running totals, which any goroutine may read
// while it runs.
func (w *Watch) Counters() *Counters { return &w.counters }

// Run watches until ctx ends or output is gone for good (ErrOutputGone),
// and returns the final counters. A stop flushes the output, bounded to
// well under a second, and writes a "stop" record with the totals.
func (w *Watch) Run(ctx context.Context) (Summary, error) {
	cfg := &w.cfg
	fd := 0
	if cfg.NS != nil {
		fd = cfg.NS.FD()
	}
	sub, err := events.Subscribe(events.Config{
		NetNS:      fd,
		Types:      cfg.Types,
		BufferSize: cfg.BufferSize,
		Clock:      cfg.Clock,
	})
	if err != nil {
		return Summary{}, fmt.Errorf("subscribe to conntrack events: %w", err)
	}
	defer sub.Close()
	w.logStart(sub)

	// The reader stops on its own context, after the loop decided to stop,
	// so that the loop can drain what it already read.
	readerCtx, stopReader := context.WithCancel(context.Background())
	defer stopReader()
	batches := make(chan *events.Batch, cfg.QueueLen)
	readerErr := make(chan error, 1)
	go func() { readerErr <- sub.Run(readerCtx, batches) }()

	w.startupDump(ctx, fd)

	loss := time.NewTicker(cfg.LossInterval)
	defer loss.Stop()
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case b, ok := <-batches:
			if !ok {
				// The reader stopped on its own: a socket failure.
				runErr = <-readerErr
				if runErr != nil {
					runErr = fmt.Errorf("read conntrack events: %w", runErr)
				}
				break loop
			}
			w.batch(b)
		case <-loss.C:
			w.checkLoss(sub)
		case <-cfg.Reopen:
			cfg.Out.Reopen()
		case <-cfg.Out.Done():
			runErr = fmt.Errorf("%w: %w", ErrOutputGone, cfg.Out.Err())
			break loop
		}
	}

	stopReader()
	for b := range batches {
		w.batch(b)
	}
	if err := <-readerErr; err != nil && runErr == nil {
		runErr = fmt.Errorf("read conntrack events: %w", err)
	}
	w.checkLoss(sub)
	sum := w.summary()
	w.record(zerolog.InfoLevel, "stop").EmbedObject(sum).Send()
	w.flush()
	// Records dropped by the final flush are only in the summary.
	w.counters.LostOutput.Store(cfg.Out.Stats().Dropped)
	return w.summary(), runErr
}

// summary is the counters with the tracker's.
func (w *Watch) summary() Summary {
	return w.counters.Summary()
}

// flush writes out what the sink holds, giving up after shutdownFlush.
func (w *Watch) flush() {
	done := make(chan struct{})
	go func() {
		// The error is already counted in the sink's stats.
		_ = w.cfg.Out.Flush()
		close(done)
	}()
	t := time.NewTimer(shutdownFlush)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// logStart writes the "start" record.
func (w *Watch) logStart(sub *events.Subscriber) {
	cfg := &w.cfg
	ns := "self"
	if cfg.NS != nil {
		ns = cfg.NS.String()
	}
	filterDesc := "any"
	if cfg.Filter != nil {
		filterDesc = cfg.Filter.String()
	}
	format := "json"
	if cfg.Format == FormatText {
		format = "text"
	}
	w.record(zerolog.InfoLevel, "start").
		Str("version", cfg.Version).
		Str("netns", ns).
		Str("events", cfg.Types.String()).
		Int("buffer_requested", cfg.BufferSize).
		Int("buffer_size", sub.BufferSize()).
		Str("filter", filterDesc).
		Str("format", format).
		Str("updates", cfg.Updates.String()).
		Send()
}

// record starts a record of the given level and event name, with the
// current time.
func (w *Watch) record(level zerolog.Level, event string) *zerolog.Event {
	var buf [40]byte
	return w.cfg.Log.WithLevel(level).
		RawJSON("time", model.AppendJSONTime(buf[:0], w.cfg.Clock())).
		Str("event", event)
}

// startupDump streams the table into the tracker and, with Snapshot, into
// snapshot records. A failed dump is reported and the watch goes on: the
// live stream does not depend on it.
func (w *Watch) startupDump(ctx context.Context, fd int) {
	cfg := &w.cfg
	start := cfg.Clock()
	dctx, cancel := context.WithTimeout(ctx, cfg.DumpTimeout)
	defer cancel()
	var n uint64
	err := events.Dump(dctx, fd, func(ev *model.Event) bool {
		n++
		if cfg.Snapshot {
			w.entry(ev)
		}
		return true
	})
	w.counters.Snapshot.Store(n)
	level := zerolog.InfoLevel
	if err != nil {
		level = zerolog.WarnLevel
	}
	w.record(level, "dump").Err(err).
		Uint64("entries", n).
		Float64("duration_s", cfg.Clock().Sub(start).Seconds()).
		Send()
}

// batch handles one batch from the reader and releases it.
func (w *Watch) batch(b *events.Batch) {
	for i := range b.Failures {
		w.decodeFailure(&b.Failures[i])
	}
	for i := range b.Events {
		ev := &b.Events[i]
		if int(ev.Type) < len(w.counters.Received) {
			w.counters.Received[ev.Type].Add(1)
		}
		w.event(ev)
	}
	b.Release()
}

// event handles one live event.
func (w *Watch) event(ev *model.Event) {
	cfg := &w.cfg
	if ev.Type == model.EventUpdate && cfg.Updates == UpdatesNone {
		w.counters.Suppressed.Add(1)
		return
	}
	w.entry(ev)
}

// entry writes an entry record if the filter selects it.
func (w *Watch) entry(ev *model.Event) {
	cfg := &w.cfg
	if cfg.Filter != nil && !cfg.Filter.Match(ev) {
		w.counters.Filtered.Add(1)
		return
	}
	if ev.Origin.PortID != 0 && ev.Origin.Program == "" {
		ev.Origin.PID, ev.Origin.Program = w.origins.Resolve(ev.Origin.PortID)
	}
	w.counters.Written.Add(1)
	if cfg.Format == FormatText {
		if ev.Entry.Fields.Has(model.FieldStart) {
			// conntrack-tools prints the age of entries that carry
			// their start time.
			events.SetDeltaTime(&ev.Entry, cfg.Clock())
		}
		w.textBuf = model.AppendText(w.textBuf[:0], ev, &cfg.Text)
		w.textBuf = append(w.textBuf, '\n')
		// The sink never fails a record: it drops and counts.
		_, _ = cfg.Out.Write(w.textBuf)
		return
	}
	cfg.Log.Info().EmbedObject(ev).Send()
}

// decodeFailure reports a message that could not be decoded; its bytes go
// into the record only at debug level.
func (w *Watch) decodeFailure(f *events.DecodeFailure) {
	w.counters.DecodeErrors.Add(1)
	rec := w.record(zerolog.WarnLevel, "decode_error").Err(f.Err).Int("bytes", len(f.Raw))
	if w.cfg.Log.GetLevel() <= zerolog.DebugLevel {
		rec = rec.Str("raw_hex", hex.EncodeToString(f.Raw))
	}
	rec.Send()
}

// checkLoss writes a gap record for each loss counter that grew.
func (w *Watch) checkLoss(sub *events.Subscriber) {
	st := sub.Stats()
	now := lossReading{
		kernel:  st.KernelDrops,
		queue:   st.QueueDropped,
		output:  w.cfg.Out.Stats().Dropped,
		enobufs: st.ENOBUFS,
	}
	last := w.last
	w.last = now
	w.counters.LostKernel.Store(now.kernel)
	w.counters.LostQueue.Store(now.queue)
	w.counters.LostOutput.Store(now.output)
	if now.kernel > last.kernel || now.enobufs > last.enobufs {
		w.gap("kernel", now.kernel-last.kernel, now.kernel,
			"the socket's receive buffer overflowed: raise --buffer-size").
			Uint64("enobufs", now.enobufs-last.enobufs).Send()
	}
	if now.queue > last.queue {
		w.gap("queue", now.queue-last.queue, now.queue,
			"ctwatch's processing fell behind its socket reader: raise --queue-len or filter in the kernel with --events").Send()
	}
	if now.output > last.output {
		w.gap("output", now.output-last.output, now.output,
			"the output could not keep up and records were dropped: write to a faster destination").Send()
	}
}

// gap starts a gap record: lost events (kernel, queue) or records (output)
// since the last one.
func (w *Watch) gap(stage string, lost, total uint64, hint string) *zerolog.Event {
	w.counters.Gaps.Add(1)
	return w.record(zerolog.WarnLevel, "gap").
		Str("stage", stage).
		Uint64("lost", lost).
		Uint64("lost_total", total).
		Str("hint", hint)
}
