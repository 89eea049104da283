//go:build !linux

package ctstat

import (
	"context"
	"errors"
	"fmt"
)

// Read is only implemented on Linux.
func Read(ctx context.Context, netnsFD int) (Reading, error) {
	return Reading{}, fmt.Errorf("read conntrack statistics: %w", errors.ErrUnsupported)
}
