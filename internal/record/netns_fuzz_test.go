package record_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/internal/record"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// decodedNS is a netns object as a consumer decodes it.
type decodedNS struct {
	Inode       uint64 `json:"inode"`
	NSID        *int32 `json:"nsid"`
	Name        string `json:"name"`
	PID         int    `json:"pid"`
	ContainerID string `json:"container_id"`
	PodUID      string `json:"pod_uid"`
	Self        bool   `json:"self"`
	Events      uint64 `json:"events"`
	Records     uint64 `json:"records"`
}

// validUTF8 returns s as encoding/json decodes it: invalid bytes become
// U+FFFD.
func validUTF8(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

// FuzzNetNSIdentity writes the records that name a namespace (an entry,
// netns_added, netns_removed and the stop record's list) in every schema
// with arbitrary identities, and checks that each record is one valid JSON
// object whose netns object says what the identity says, and that the ECS
// and OCSF records follow their references.
func FuzzNetNSIdentity(f *testing.F) {
	f.Add(uint64(4026532451), int32(1), "cni-5c1e", 4242, "ac2ea168264a", "2f9b5a3e-1c4d-4e8f-9a6b-7c3d2e1f0a9b", false, true)
	f.Add(uint64(4026531840), int32(-1), "", 1, "", "", true, true)
	f.Add(uint64(0), int32(7), "\x00\"\\\xff", 0, "\u2028", "x", false, false)
	ecsRef := loadECSReference(f)
	ocsfRef := loadOCSFRef(f)
	evs, res := trackedFlow(model.TCPSynSent)
	f.Fuzz(func(t *testing.T, inode uint64, nsid int32, name string, pid int, id, pod string, self, found bool) {
		ns := nsdiscover.NS{Inode: inode, NSID: nsid, Name: name, PID: pid, Container: nsdiscover.Container{ID: id, PodUID: pod}, Self: self}
		n := model.PeerNetNS(nsid)
		want := decodedNS{Inode: inode, Name: validUTF8(name), PID: pid, ContainerID: validUTF8(id), PodUID: validUTF8(pod), Self: self}
		if nsid >= 0 {
			want.NSID = &nsid
		}
		entryWant := want
		if !found {
			entryWant = decodedNS{NSID: &nsid}
		}
		ev := evs[0]
		ev.NetNS = n
		for _, s := range []record.Schema{record.Native, record.ECS, record.OCSF} {
			var buf bytes.Buffer
			e := record.New(record.Config{Schema: s, Log: zerolog.New(&buf), Clock: func() time.Time { return flowStart },
				Run: "run-1", Host: "node1", Version: "v1",
				NetNS: func(model.NetNS) (nsdiscover.NS, bool) { return ns, found }})
			e.Entry(&ev, &res[0])
			e.NetnsAdded(&record.NetnsAdded{NS: ns, Dumped: true, Entries: 1})
			e.NetnsRemoved(&record.NetnsRemoved{NS: ns, Ended: 1, Events: 2})
			e.Stop(&record.Totals{NetNS: []record.NetNSTotal{{NS: ns, Events: 3, Records: 4}}})
			lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
			if len(lines) != 4 {
				t.Fatalf("%s: %d records, want 4:\n%s", s, len(lines), buf.Bytes())
			}
			for i, line := range lines {
				if !json.Valid(line) {
					t.Fatalf("%s: invalid JSON: %s", s, line)
				}
				m, err := decodeRecord(line)
				if err != nil {
					t.Fatal(err)
				}
				var errs []string
				switch s {
				case record.ECS:
					errs = checkECSRecord(ecsRef, m)
				case record.OCSF:
					errs = ocsfRef.check(m)
				}
				for _, e := range errs {
					t.Errorf("%s: %s\n%s", s, e, line)
				}
				w := want
				if i == 0 {
					w = entryWant
				}
				if i == 3 {
					w.Events, w.Records = 3, 4
				}
				if diff := cmp.Diff(w, netnsOfRecord(t, s, i == 3, line)); diff != "" {
					t.Errorf("%s record %d: netns (-want +got):\n%s\n%s", s, i, diff, line)
				}
			}
		}
	})
}

// netnsOfRecord decodes the netns object of a record of schema s, or the
// first of the stop record's list.
func netnsOfRecord(t *testing.T, s record.Schema, stop bool, line []byte) decodedNS {
	t.Helper()
	var r struct {
		NetNS     json.RawMessage `json:"netns"`
		Conntrack struct {
			NetNS   json.RawMessage `json:"netns"`
			Summary struct {
				NetNS []json.RawMessage `json:"netns"`
			} `json:"summary"`
		} `json:"conntrack"`
		Unmapped struct {
			Conntrack struct {
				NetNS   json.RawMessage `json:"netns"`
				Summary struct {
					NetNS []json.RawMessage `json:"netns"`
				} `json:"summary"`
			} `json:"conntrack"`
		} `json:"unmapped"`
	}
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatal(err)
	}
	var raw json.RawMessage
	var list []json.RawMessage
	switch s {
	case record.Native:
		raw = r.NetNS
		if stop {
			if err := json.Unmarshal(r.NetNS, &list); err != nil {
				t.Fatal(err)
			}
		}
	case record.ECS:
		raw, list = r.Conntrack.NetNS, r.Conntrack.Summary.NetNS
	case record.OCSF:
		raw, list = r.Unmapped.Conntrack.NetNS, r.Unmapped.Conntrack.Summary.NetNS
	}
	if stop {
		if len(list) != 1 {
			t.Fatalf("stop record lists %d namespaces, want 1: %s", len(list), line)
		}
		raw = list[0]
	}
	var d decodedNS
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatal(fmt.Errorf("netns %s: %w", raw, err))
	}
	return d
}
