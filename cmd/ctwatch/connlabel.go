package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"

	"github.com/ctwatch/ctwatch/internal/connlabel"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// connlabelFlag defines --connlabel-file on fs.
func connlabelFlag(fs *flag.FlagSet) *string {
	return fs.String("connlabel-file", connlabel.DefaultPath, "name connlabels from this file, as conntrack -o labels does (bit numbers where it has no name); a missing default file means numbers")
}

// loadLabels reads the connlabel file at path. A missing default file is
// not an error: labels are written by number, and note says so, for the
// caller to say once; a missing file named with --connlabel-file is an
// error. Lines the file cannot load are said on stderr, and the rest of
// the file still names labels.
func loadLabels(flags *flag.FlagSet, path string, stderr io.Writer) (names *model.LabelNames, note string, err error) {
	explicit := false
	flags.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "connlabel-file" })
	names, problems, err := connlabel.Load(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return &model.LabelNames{}, fmt.Sprintf("no %s: connlabels were written by bit number", path), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("--connlabel-file: %w", err)
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "ctwatch: connlabel file: %v\n", p)
	}
	return names, "", nil
}
