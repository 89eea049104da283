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
