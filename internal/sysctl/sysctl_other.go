//go:build !linux

package sysctl

import (
	"errors"
	"fmt"

	"github.com/ctwatch/ctwatch/internal/netns"
)

// Read is only implemented on Linux.
func Read(ns *netns.Handle, name string) (string, error) {
	return "", fmt.Errorf("sysctl %s: %w", name, errors.ErrUnsupported)
}

// ReadInt is only implemented on Linux.
func ReadInt(ns *netns.Handle, name string) (int64, error) {
	return 0, fmt.Errorf("sysctl %s: %w", name, errors.ErrUnsupported)
}

// Write is only implemented on Linux.
func Write(ns *netns.Handle, name, value string) error {
	return fmt.Errorf("sysctl %s: %w", name, errors.ErrUnsupported)
}

// ReadAll is only implemented on Linux.
func ReadAll(ns *netns.Handle, names ...string) (Values, error) {
	return Values{}, fmt.Errorf("read sysctls: %w", errors.ErrUnsupported)
}
