package communityid_test

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/communityid"
)

// vector is one row of the specification's baseline data (see
// testdata/README.md).
type vector struct {
	Proto       uint8   `json:"proto"`
	Saddr       string  `json:"saddr"`
	Daddr       string  `json:"daddr"`
	Sport       *uint16 `json:"sport"`
	Dport       *uint16 `json:"dport"`
	CommunityID string  `json:"communityid"`

	// Seed and Encoding are set in baseline_tables.json only; the other
	// files hold one configuration each.
	Seed     *uint16 `json:"seed"`
	Encoding string  `json:"encoding"`
	Comment  string  `json:"comment"`
}

func TestBaseline(t *testing.T) {
	files := []struct {
		name     string
		seed     uint16
		encoding string
		count    int
	}{
		{"baseline_deflt.json", 0, "base64", 23},
		{"baseline_seed1.json", 1, "base64", 23},
		{"baseline_nob64.json", 0, "hex", 23},
		{"baseline_tables.json", 0, "", 48},
	}
	total := 0
	for _, file := range files {
		data, err := os.ReadFile(filepath.Join("testdata", file.name))
		if err != nil {
			t.Fatal(err)
		}
		var vs []vector
		if err := json.Unmarshal(data, &vs); err != nil {
			t.Fatalf("%s: %v", file.name, err)
		}
		if len(vs) != file.count {
			t.Fatalf("%s: %d vectors, want %d", file.name, len(vs), file.count)
		}
		for i, v := range vs {
			seed, encoding := file.seed, file.encoding
			if v.Seed != nil {
				seed, encoding = *v.Seed, v.Encoding
			}
			name := fmt.Sprintf("%s/%d/proto=%d/%s-%s", file.name, i, v.Proto, v.Saddr, v.Daddr)
			t.Run(name, func(t *testing.T) {
				f := communityid.Flow{
					Src:   netip.MustParseAddr(v.Saddr),
					Dst:   netip.MustParseAddr(v.Daddr),
					Proto: v.Proto,
				}
				if (v.Sport == nil) != (v.Dport == nil) {
					t.Fatalf("only one port in %+v", v)
				}
				if v.Sport != nil {
					f.SrcPort, f.DstPort = *v.Sport, *v.Dport
				}
				var got string
				switch encoding {
				case "base64":
					got = communityid.String(f, seed)
				case "hex":
					sum, ok := communityid.Sum(f, seed)
					if !ok {
						t.Fatalf("Sum(%+v) not ok", f)
					}
					got = "1:" + hex.EncodeToString(sum[:])
				default:
					t.Fatalf("unknown encoding %q", encoding)
				}
				if diff := cmp.Diff(v.CommunityID, got); diff != "" {
					t.Errorf("%+v seed %d (%s) (-want +got):\n%s", f, seed, v.Comment, diff)
				}
			})
			total++
		}
	}
	if total != 117 {
		t.Errorf("checked %d vectors, want 117", total)
	}
}
