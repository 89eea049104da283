package main

import (
	"context"
	"errors"
	"io"
)

func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("doctor: not implemented yet")
}
