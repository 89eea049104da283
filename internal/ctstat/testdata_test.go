package ctstat

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ctwatch/ctwatch/internal/ctnl"
)

// Captured replies live in testdata as one datagram per line, in hex, with
// '#' comments: what the kernel sent, byte for byte.

func readHexDatagrams(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		d, err := hex.DecodeString(line)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, d)
	}
	return out
}

// firstSeq returns the sequence number of a capture's first message: the
// request's.
func firstSeq(t testing.TB, datagrams [][]byte) uint32 {
	t.Helper()
	if len(datagrams) == 0 || len(datagrams[0]) < ctnl.NLMsgHdrLen {
		t.Fatal("empty capture")
	}
	return binary.NativeEndian.Uint32(datagrams[0][8:12])
}

// parseConntrackS parses conntrack-tools' `conntrack -S` output, the
// independent witness of what the captured per-CPU replies hold.
func parseConntrackS(t testing.TB, path string) []CPU {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cpus []CPU
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		var c CPU
		for _, kv := range fields {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("%s: bad field %q", path, kv)
			}
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				t.Fatalf("%s: bad value %q", path, kv)
			}
			if k == "cpu" {
				c.ID = uint16(n)
				continue
			}
			found := false
			for i := range NumCounters {
				if i.String() == k {
					c.Stats[i], found = n, true
				}
			}
			if !found {
				t.Fatalf("%s: unknown counter %q", path, k)
			}
		}
		cpus = append(cpus, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cpus
}
