package sysctl

import (
	"errors"
	"fmt"
)

// ErrNotRead is returned by Values for a sysctl that was not asked for.
var ErrNotRead = errors.New("sysctl not read")

// Values holds sysctls read together by ReadAll, each with its own error.
// The zero Values holds none.
type Values struct {
	m map[string]result
}

type result struct {
	value string
	err   error
}

// String returns the sysctl's value as read, without its trailing newline.
func (v Values) String(name string) (string, error) {
	r, ok := v.m[name]
	if !ok {
		return "", fmt.Errorf("sysctl %s: %w", name, ErrNotRead)
	}
	return r.value, r.err
}

// Int returns the value of a sysctl holding one integer.
func (v Values) Int(name string) (int64, error) {
	s, err := v.String(name)
	if err != nil {
		return 0, err
	}
	n, err := ParseInt(s)
	if err != nil {
		return 0, fmt.Errorf("sysctl %s: %w", name, err)
	}
	return n, nil
}
