package nsdiscover

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// inotifyEvent is one record read from an inotify descriptor.
type inotifyEvent struct {
	wd   int32
	mask uint32
	name string
}

var errInotifyShort = errors.New("inotify record cut short")

// parseInotify splits what one read of an inotify descriptor returned into
// its records (struct inotify_event, then a NUL-padded name of len bytes).
func parseInotify(b []byte, f func(inotifyEvent)) error {
	for len(b) > 0 {
		if len(b) < unix.SizeofInotifyEvent {
			return fmt.Errorf("%w: %d bytes left", errInotifyShort, len(b))
		}
		ev := inotifyEvent{
			wd:   int32(binary.NativeEndian.Uint32(b[0:])),
			mask: binary.NativeEndian.Uint32(b[4:]),
		}
		n := binary.NativeEndian.Uint32(b[12:])
		b = b[unix.SizeofInotifyEvent:]
		if uint64(n) > uint64(len(b)) {
			return fmt.Errorf("%w: name of %d bytes, %d left", errInotifyShort, n, len(b))
		}
		name := b[:n]
		for len(name) > 0 && name[len(name)-1] == 0 {
			name = name[:len(name)-1]
		}
		ev.name = string(name)
		b = b[n:]
		f(ev)
	}
	return nil
}
