package origins

import (
	"fmt"
	"io"
	"os"

	"github.com/ctwatch/ctwatch/internal/netns"
)

// netlinkTable reads a namespace's /proc/net/netlink. /proc/net shows the
// namespace of the thread that opens it, and an open file stays bound to
// that namespace: so the file is opened once, on a thread switched into the
// namespace, and read again from its start after that, with no further
// switch.
type netlinkTable struct {
	ns *netns.Handle
	f  *os.File
}

func (t *netlinkTable) read() ([]byte, error) {
	if t.f == nil {
		// Do is nil-safe: the caller's own namespace needs no switch.
		err := t.ns.Do(func() error {
			var err error
			t.f, err = os.Open("/proc/thread-self/net/netlink")
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("open the namespace's /proc/net/netlink: %w", err)
		}
	}
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("read /proc/net/netlink: %w", err)
	}
	b, err := io.ReadAll(t.f)
	if err != nil {
		return nil, fmt.Errorf("read /proc/net/netlink: %w", err)
	}
	return b, nil
}

func (t *netlinkTable) close() error {
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	return err
}
