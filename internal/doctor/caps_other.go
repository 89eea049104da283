//go:build !linux

package doctor

import "errors"

// EffectiveCaps is only implemented on Linux.
func EffectiveCaps() Caps { return Caps{Err: errors.ErrUnsupported} }
