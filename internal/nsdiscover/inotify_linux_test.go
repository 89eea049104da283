package nsdiscover

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func inotifyRecord(wd int32, mask uint32, name string, pad int) []byte {
	b := make([]byte, unix.SizeofInotifyEvent, unix.SizeofInotifyEvent+len(name)+pad)
	binary.NativeEndian.PutUint32(b[0:], uint32(wd))
	binary.NativeEndian.PutUint32(b[4:], mask)
	binary.NativeEndian.PutUint32(b[12:], uint32(len(name)+pad))
	b = append(b, name...)
	return append(b, make([]byte, pad)...)
}

func TestParseInotify(t *testing.T) {
	var b []byte
	b = append(b, inotifyRecord(1, unix.IN_CREATE, "netns", 3)...)
	b = append(b, inotifyRecord(2, unix.IN_DELETE, "ctw-1", 11)...)
	b = append(b, inotifyRecord(-1, unix.IN_Q_OVERFLOW, "", 0)...)
	var got []inotifyEvent
	if err := parseInotify(b, func(ev inotifyEvent) { got = append(got, ev) }); err != nil {
		t.Fatal(err)
	}
	want := []inotifyEvent{{1, unix.IN_CREATE, "netns"}, {2, unix.IN_DELETE, "ctw-1"}, {-1, unix.IN_Q_OVERFLOW, ""}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(inotifyEvent{})); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for _, cut := range []int{3, unix.SizeofInotifyEvent + 2} {
		if err := parseInotify(b[:cut], func(inotifyEvent) {}); !errors.Is(err, errInotifyShort) {
			t.Errorf("parse of %d bytes = %v, want errInotifyShort", cut, err)
		}
	}
}

func FuzzParseInotify(f *testing.F) {
	f.Add(inotifyRecord(1, unix.IN_CREATE, "netns", 3))
	f.Add(append(inotifyRecord(2, unix.IN_DELETE, "a", 15), 1, 2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		err := parseInotify(b, func(ev inotifyEvent) { total += unix.SizeofInotifyEvent + len(ev.name) })
		if err == nil && total > len(b) {
			t.Fatalf("records of %d bytes from %d", total, len(b))
		}
	})
}
