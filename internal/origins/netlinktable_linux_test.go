package origins

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNetlinkTableReadsAgain: the table is read through one open file, from
// its start each time, and shows sockets made after it was opened.
func TestNetlinkTableReadsAgain(t *testing.T) {
	tbl := &netlinkTable{} // the caller's namespace
	defer tbl.close()
	before, err := tbl.read()
	if err != nil {
		t.Fatal(err)
	}
	fd := netfilterSocket(t)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	after, err := tbl.read()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"before": before, "after": after} {
		if !bytes.HasPrefix(b, []byte("sk")) {
			t.Errorf("table read %s the socket does not start with its header: %.40q", name, b)
		}
	}
	found := false
	for _, ino := range parseNetlinkTable(after, unix.NETLINK_NETFILTER) {
		found = found || ino == st.Ino
	}
	if !found {
		t.Errorf("the socket made after the file was opened (inode %d) is not in the table read again", st.Ino)
	}
	if err := tbl.close(); err != nil || tbl.f != nil {
		t.Errorf("close: %v, file %v; want nil, nil", err, tbl.f)
	}
}
