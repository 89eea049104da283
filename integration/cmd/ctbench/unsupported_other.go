//go:build integration && !linux

package main

import (
	"context"
	"errors"
	"io"
)

// errNotLinux is the error of every command on other systems: the
// benchmark measures Linux's connection tracking.
var errNotLinux = errors.New("ctbench runs on Linux only")

func runBench(context.Context, benchConfig, io.Writer, io.Writer) error { return errNotLinux }

func runGen(context.Context, []string, io.Writer, io.Writer) error { return errNotLinux }

func runFloor(context.Context, []string, io.Writer) error { return errNotLinux }

func runAllNS(context.Context, []string, io.Writer) error { return errNotLinux }
