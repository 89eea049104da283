package watch

import (
	"errors"
	"fmt"

	"github.com/ctwatch/ctwatch/internal/filter"
)

// compileKernelFilter builds the kernel filter's program (Config.KernelFilter)
// into w.kprog. A program too large for the kernel is not an error: the
// watch filters in userspace only and w.kerr says why, for the start
// record.
func (w *Watch) compileKernelFilter() error {
	cfg := &w.cfg
	if !cfg.KernelFilter || cfg.Filter.Empty() {
		return nil
	}
	prog, err := cfg.kernelScope().BPF()
	switch {
	case errors.Is(err, filter.ErrProgramTooLarge):
		w.kerr = err
		return nil
	case err != nil:
		return fmt.Errorf("compile the kernel filter: %w", err)
	}
	w.kprog = prog
	return nil
}

// kernelScope is the part of Filter the kernel may filter on: all of it
// with KernelFilterChanging, else Filter.Stable.
func (c *Config) kernelScope() *filter.Filter {
	if c.KernelFilterChanging {
		return c.Filter
	}
	return c.Filter.Stable()
}
