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
// not an error: labels are written by number, which is said once on
// stderr unless quiet; a missing file named with --connlabel-file is. Lines the file
// cannot load are said on stderr, and the rest of the file still names
// labels.
func loadLabels(flags *flag.FlagSet, path string, quiet bool, stderr io.Writer) (*model.LabelNames, error) {
	explicit := false
	flags.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "connlabel-file" })
	names, problems, err := connlabel.Load(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		if quiet {
			return &model.LabelNames{}, nil
		}
		fmt.Fprintf(stderr, "ctwatch: no %s: connlabels are written by bit number\n", path)
		return &model.LabelNames{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--connlabel-file: %w", err)
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "ctwatch: connlabel file: %v\n", p)
	}
	return names, nil
}
