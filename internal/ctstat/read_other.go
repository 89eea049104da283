//go:build !linux

package ctstat

import (
	"context"
	"errors"
	"fmt"

	"github.com/ctwatch/ctwatch/internal/netns"
)

// Read is only implemented on Linux.
func Read(ctx context.Context, ns *netns.Handle) (Reading, error) {
	return Reading{}, fmt.Errorf("read conntrack statistics: %w", errors.ErrUnsupported)
}

// Reader is only implemented on Linux.
type Reader struct{}

// NewReader is only implemented on Linux.
func NewReader(ns *netns.Handle) *Reader { return &Reader{} }

// Read is only implemented on Linux.
func (rd *Reader) Read(ctx context.Context) (Reading, error) { return Read(ctx, nil) }

// Close is only implemented on Linux.
func (rd *Reader) Close() error { return nil }
