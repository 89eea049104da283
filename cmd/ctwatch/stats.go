package main

import (
	"context"
	"errors"
	"io"
)

func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("stats: not implemented yet")
}
