//go:build !linux

package sysctl

import (
	"errors"
	"fmt"
)

// Read is only implemented on Linux.
func Read(nsFD int, name string) (string, error) {
	return "", fmt.Errorf("sysctl %s: %w", name, errors.ErrUnsupported)
}

// ReadInt is only implemented on Linux.
func ReadInt(nsFD int, name string) (int64, error) {
	return 0, fmt.Errorf("sysctl %s: %w", name, errors.ErrUnsupported)
}

// Write is only implemented on Linux.
func Write(nsFD int, name, value string) error {
	return fmt.Errorf("sysctl %s: %w", name, errors.ErrUnsupported)
}

// ReadAll is only implemented on Linux.
func ReadAll(nsFD int, names ...string) (Values, error) {
	return Values{}, fmt.Errorf("read sysctls: %w", errors.ErrUnsupported)
}
