//go:build integration

package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// runAllNS is "ctbench allns", the stand-in for ctwatch watch --all-netns
// until that exists (-allnetns-standin): one events.Subscriber with
// AllNetNS and the nsdiscover Watcher that gives every namespace an id,
// writing one line per event in the form of ctwatch's records as far as
// the harness reads them ("event", and "netns" with inode, nsid and name)
// and a netns_added line per namespace found. It has no flow tracker, no
// filter and no record encoder: it measures what ctwatch's socket and
// namespace discovery cost over N namespaces, not ctwatch.
func runAllNS(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ctbench allns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "file to write the records to")
	bufSize := fs.Int("buffer", 8<<20, "receive buffer in bytes")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if *out == "" {
		return fmt.Errorf("%w: allns needs -out", errUsage)
	}
	f, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 64<<10)

	sub, err := events.Subscribe(events.Config{AllNetNS: true, BufferSize: *bufSize})
	if err != nil {
		return err
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watcher := nsdiscover.New(nsdiscover.Config{Log: zerolog.New(stderr).Level(zerolog.WarnLevel)})
	runErr := make(chan error, 1)
	go func() { runErr <- watcher.Run(ctx) }()

	var line []byte
	appendNS := func(b []byte, ns nsdiscover.NS) []byte {
		b = append(b, `"netns":{"inode":`...)
		b = strconv.AppendUint(b, ns.Inode, 10)
		b = append(b, `,"nsid":`...)
		b = strconv.AppendInt(b, int64(ns.NSID), 10)
		if ns.Name != "" {
			b = append(b, `,"name":"`...)
			b = append(b, ns.Name...)
			b = append(b, '"')
		}
		if ns.Self {
			b = append(b, `,"self":true`...)
		}
		return append(b, '}')
	}
	batch := events.NewBatch()
	wevents := watcher.Events()
	for {
		// The watcher's news first, between reads: one goroutine writes.
		for drained := false; !drained; {
			select {
			case ev, ok := <-wevents:
				if !ok {
					// The watcher stopped: at the stop, or it says why.
					wevents = nil
					if err := <-runErr; err != nil {
						return fmt.Errorf("namespace watcher: %w", err)
					}
					if ctx.Err() == nil {
						return errors.New("namespace watcher stopped")
					}
					runErr <- nil
					continue
				}
				if ev.Handle != nil {
					ev.Handle.Close()
				}
				kind := "netns_added"
				if ev.Kind != nsdiscover.Added {
					kind = "netns_removed"
				}
				line = append(append(append(line[:0], `{"event":"`...), kind...), `",`...)
				line = append(appendNS(line, ev.NS), "}\n"...)
				if _, err := w.Write(line); err != nil {
					return fmt.Errorf("write output: %w", err)
				}
			default:
				drained = true
			}
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		if ctx.Err() != nil {
			break
		}
		if err := sub.Receive(batch, true); err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		for i := range batch.Events {
			ev := &batch.Events[i]
			var typ string
			switch ev.Type {
			case model.EventNew:
				typ = "new"
			case model.EventUpdate:
				typ = "update"
			case model.EventDestroy:
				typ = "destroy"
			default:
				continue
			}
			ns := nsdiscover.NS{Self: true}
			if ev.NetNS.Peer {
				var ok bool
				if ns, ok = watcher.Lookup(ev.NetNS.NSID); !ok {
					ns = nsdiscover.NS{NSID: ev.NetNS.NSID}
				}
			}
			line = append(append(append(line[:0], `{"event":"`...), typ...), `",`...)
			line = append(appendNS(line, ns), "}\n"...)
			if _, err := w.Write(line); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	cancel()
	if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("namespace watcher: %w", err)
	}
	return nil
}
