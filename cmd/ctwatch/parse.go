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

func runParse(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("parse", "parse [flags] [FILE...]", stderr)
	format := fs.String("format", "json", "output format: json or text")
	textOpts := fs.String("text-opts", "", "with --format text, print this form instead of each line's own: a list of extended, timestamp, id, ktimestamp, proc")
	tz := fs.String("tz", "Local", "time zone conntrack printed [start=...] and [stop=...] in (an IANA name, Local or UTC)")
	if err := parseFlags(fs, args); err != nil {
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

	out := bufio.NewWriter(stdout)
	p := &parser{
		loc:    loc,
		text:   *format == "text",
		forced: forced,
		out:    out,
		rec:    record.New(record.Config{Log: zerolog.New(out)}),
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
	fmt.Fprintf(stderr, "ctwatch: parse: %d records, %d lines skipped (blank, comment or summary), %d lines failed (%d of them expectations, which are not supported), %d files unreadable\n",
		p.records, p.skipped, p.failed, p.expectations, p.fileErrors)
	if p.failed > 0 || p.fileErrors > 0 {
		return errSilent
	}
	return nil
}

// parser converts lines of text or JSON records into output records.
type parser struct {
	loc    *time.Location
	text   bool
	forced *model.TextOptions
	out    *bufio.Writer
	rec    *record.Encoder
	stderr io.Writer

	buf                                                []byte
	records, skipped, failed, expectations, fileErrors int
}

// file parses one named input ("-" is standard input).
func (p *parser) file(ctx context.Context, name string) error {
	r := io.Reader(os.Stdin)
	display := "<stdin>"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		r, display = f, name
	}
	br := bufio.NewReaderSize(r, maxLineLen)
	for lineNo := 1; ; lineNo++ {
		if lineNo%4096 == 0 && ctx.Err() != nil {
			return nil
		}
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			p.failed++
			fmt.Fprintf(p.stderr, "ctwatch: parse: %s:%d: line longer than %d bytes\n", display, lineNo, maxLineLen)
			if err == io.EOF {
				return nil
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
			return fmt.Errorf("%s:%d: read: %w", display, lineNo, err)
		}
	}
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
	}
	if err != nil {
		p.failed++
		if errors.Is(err, model.ErrExpectation) {
			p.expectations++
		}
		fmt.Fprintf(p.stderr, "ctwatch: parse: %s:%d: %v\n", file, lineNo, err)
		return
	}
	p.records++
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
