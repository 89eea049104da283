package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// maxLineLen bounds one input line; a longer line is reported and skipped
// without stopping the rest of the input.
const maxLineLen = 64 << 10

// Bounds of the error stream: a file of garbage fails on every line, and
// one message a line would repeat itself by the million. Per file, at most
// maxKindReports failures of one kind (a field, a long line, bad JSON) and
// maxFileReports in all are reported one by one; the rest are counted, and
// the counts reported at the end of the file. A message is cut after
// maxMessage bytes.
const (
	maxKindReports = 10
	maxFileReports = 100
	maxMessage     = 300
)

func runParse(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("parse", stderr)
	format := fs.String("format", "json", "output format: json or text")
	schema := fs.String("schema", "native", "record schema with --format json: native, ecs (Elastic Common Schema 9.4), ocsf (OCSF 1.8.0)")
	hostName := fs.String("host-name", "", "the host name every record carries (default: the kernel's host name)")
	textOpts := fs.String("text-opts", "", "with --format text, print this form instead of each line's own: a list of extended, timestamp, id, ktimestamp, labels, proc")
	labelFile := connlabelFlag(fs)
	tz := fs.String("tz", "Local", "time zone conntrack printed [start=...] and [stop=...] in (an IANA name, Local or UTC)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sch, err := record.ParseSchema(*schema)
	if err != nil {
		return usageError{fmt.Errorf("--schema: %w", err)}
	}
	host, err := hostname(*hostName)
	if err != nil {
		return err
	}
	run, err := newRunID()
	if err != nil {
		return err
	}
	if *format != "json" && *format != "text" {
		return usageError{fmt.Errorf("--format: want json or text, not %q", *format)}
	}
	var forced *model.TextOptions
	if *textOpts != "" {
		if *format != "text" {
			return usageError{errors.New("--text-opts applies to --format text only")}
		}
		o, err := model.ParseTextOptions(*textOpts)
		if err != nil {
			return usageError{fmt.Errorf("--text-opts: %w", err)}
		}
		forced = &o
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return usageError{fmt.Errorf("--tz: %w", err)}
	}
	if forced != nil {
		forced.Location = loc
	}

	// The lines of conntrack carry names already; the file names the
	// numbers of ctwatch's records written without one.
	names, _, err := loadLabels(fs, *labelFile, stderr)
	if err != nil {
		return err
	}

	out := bufio.NewWriter(stdout)
	p := &parser{
		labels: names,
		loc:    loc,
		text:   *format == "text",
		forced: forced,
		out:    out,
		rec:    record.New(record.Config{Schema: sch, Log: zerolog.New(out), Run: run, Host: host, Version: version}),
		stderr: stderr,
	}
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, name := range files {
		if ctx.Err() != nil {
			break
		}
		if err := p.file(ctx, name); err != nil {
			fmt.Fprintf(stderr, "ctwatch: parse: %v\n", err)
			p.fileErrors++
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	fmt.Fprintf(stderr, "ctwatch: parse: %d records (%d of them expectations), %d lines skipped (blank, comment or summary), %d ctwatch records without an entry skipped (start, stats, stop, ...), %d lines failed (%d of them expectations in /proc's form, which is not supported), %d files unreadable\n",
		p.records, p.expectRecords, p.skipped, p.meta, p.failed, p.expectations, p.fileErrors)
	if p.failed > 0 || p.fileErrors > 0 {
		return errSilent
	}
	return nil
}

// parser converts lines of text or JSON records into output records.
type parser struct {
	labels *model.LabelNames
	loc    *time.Location
	text   bool
	forced *model.TextOptions
	out    *bufio.Writer
	rec    *record.Encoder
	stderr io.Writer

	buf                                                      []byte
	records, skipped, meta, failed, expectations, fileErrors int
	// expectRecords counts the records of expectation lines.
	expectRecords int

	// Of the file being parsed: failures reported, by kind and in all,
	// and those left unreported, by kind, in the order first seen.
	reported       map[string]int
	reportedAll    int
	unreported     map[string]int
	unreportedKeys []string
}

// file parses one named input ("-" is standard input). It returns soon
// after ctx is done, whatever the input: a file of one endless line, a
// pipe that stays silent.
func (p *parser) file(ctx context.Context, name string) error {
	f := os.Stdin
	display := "<stdin>"
	if name != "-" {
		var err error
		if f, err = os.Open(name); err != nil {
			return err
		}
		defer f.Close()
		display = name
	}
	// A read from a pipe or FIFO waits for its writer: the deadline ends
	// it. (A regular file's reads do not wait, and take no deadline.)
	stopRead := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	defer stopRead()
	p.reported, p.reportedAll = map[string]int{}, 0
	p.unreported, p.unreportedKeys = map[string]int{}, nil
	defer p.reportUnreported(display)

	br := bufio.NewReaderSize(f, maxLineLen)
	for lineNo := 1; ; lineNo++ {
		if lineNo%4096 == 0 && ctx.Err() != nil {
			return nil
		}
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Each turn reads up to maxLineLen bytes: /dev/zero has no
			// newline, and the stop request must end the skip.
			for errors.Is(err, bufio.ErrBufferFull) && ctx.Err() == nil {
				_, err = br.ReadSlice('\n')
			}
			if ctx.Err() != nil {
				return nil
			}
			p.failed++
			p.report(display, lineNo, "long line", fmt.Sprintf("line longer than %d bytes", maxLineLen))
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s:%d: read: %w", display, lineNo, err)
			}
			continue
		}
		if len(line) > 0 {
			p.line(display, lineNo, line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			return fmt.Errorf("%s:%d: read: %w", display, lineNo, err)
		}
	}
}

// report writes the failure of a line on stderr, unless too many of its
// kind, or of the file, were reported already: then it is counted for
// reportUnreported.
func (p *parser) report(file string, lineNo int, kind, msg string) {
	if p.reported[kind] >= maxKindReports || p.reportedAll >= maxFileReports {
		if p.unreported[kind] == 0 {
			p.unreportedKeys = append(p.unreportedKeys, kind)
		}
		p.unreported[kind]++
		return
	}
	p.reported[kind]++
	p.reportedAll++
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "..."
	}
	fmt.Fprintf(p.stderr, "ctwatch: parse: %s:%d: %s\n", file, lineNo, msg)
}

// reportUnreported writes, at the end of a file, how many failures of each
// kind were not reported one by one.
func (p *parser) reportUnreported(file string) {
	for _, kind := range p.unreportedKeys {
		fmt.Fprintf(p.stderr, "ctwatch: parse: %s: %d more lines failed (%s), not shown\n", file, p.unreported[kind], kind)
	}
}

// failureKind names the kind of a line's failure, to bound the reports of
// each: the field a text or JSON line failed at.
func failureKind(err error) string {
	var se *model.SyntaxError
	var je *record.JSONError
	switch {
	case errors.Is(err, model.ErrExpectation):
		return "expectation"
	case errors.As(err, &se):
		return "field " + se.Field
	case errors.As(err, &je) && je.Field != "":
		return "JSON field " + je.Field
	case errors.As(err, &je):
		return "not JSON"
	}
	return "other"
}

func (p *parser) line(file string, lineNo int, line []byte) {
	line = bytes.TrimRight(line, "\r\n")
	s := string(line)
	if model.IsSkippable(s) {
		p.skipped++
		return
	}
	var (
		ev   model.Event
		form model.TextOptions
		err  error
	)
	if line[0] == '{' {
		ev, err = record.ParseJSON(line)
		form = model.TextOptions{Timestamp: true, ID: true, Location: p.loc}
	} else {
		ev, form, err = model.ParseText(s, p.loc)
		if errors.Is(err, model.ErrExpectation) {
			if p.expectLine(s) {
				return
			}
		}
	}
	if errors.Is(err, record.ErrNotEntryRecord) {
		x, xerr := record.ParseExpectJSON(line)
		if xerr == nil {
			p.expect(&x, model.TextOptions{Timestamp: true})
			return
		}
		if errors.Is(xerr, record.ErrNotEntryRecord) {
			// ctwatch's own start, stats, gap, stop ... records: a log
			// of ctwatch's read back whole, not a failure.
			p.meta++
			return
		}
		err = xerr
	}
	if err != nil {
		p.failed++
		if errors.Is(err, model.ErrExpectation) {
			p.expectations++
		}
		p.report(file, lineNo, failureKind(err), err.Error())
		return
	}
	p.records++
	p.labels.Rename(ev.Entry.Labels)
	if !p.text {
		p.rec.Event(&ev)
		return
	}
	if p.forced != nil {
		form = *p.forced
	}
	p.buf = model.AppendText(p.buf[:0], &ev, &form)
	p.buf = append(p.buf, '\n')
	p.out.Write(p.buf)
}

// expectLine writes the record of an expectation line of conntrack -E
// expect or -L expect, and reports whether it was one; /proc's form of
// expectations is not, and fails as the expectation ParseText says it is.
func (p *parser) expectLine(s string) bool {
	ev, form, err := model.ParseExpectText(s)
	if err != nil {
		return false
	}
	p.expect(&ev, form)
	return true
}

// expect writes an expectation read from a line as a record, or as the
// line conntrack prints in form (or the forced one).
func (p *parser) expect(ev *model.ExpectEvent, form model.TextOptions) {
	p.records++
	p.expectRecords++
	if !p.text {
		p.rec.ExpectEvent(ev)
		return
	}
	if p.forced != nil {
		form = *p.forced
	}
	p.buf = p.rec.AppendExpectText(p.buf[:0], ev, &form)
	p.out.Write(p.buf)
}
