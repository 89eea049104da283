package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/internal/doctor"
)

func TestWriteDoctorText(t *testing.T) {
	rep := doctor.Report{
		Checks: []doctor.Check{
			{Name: "privileges", Status: doctor.OK, Found: "Fine."},
			{Name: "events", Status: doctor.Fail, Found: "Off.", Fix: "Turn it on."},
			{Name: "accounting", Status: doctor.Warn, Found: "Off.", Fix: "Turn it on."},
		},
		Status: doctor.Fail,
	}
	want := `OK    privileges      Fine.
FAIL  events          Off. Fix: Turn it on.
WARN  accounting      Off. Fix: Turn it on.
doctor: fail (3 checks, 1 warnings, 1 failures)
`
	var b bytes.Buffer
	writeDoctorText(&b, rep)
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDoctorBadNamespace(t *testing.T) {
	if err := runDoctor(context.Background(), []string{"--netns", "ctwatch-no-such-namespace"}, io.Discard, io.Discard); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing namespace: error %v, want fs.ErrNotExist", err)
	}
}

// TestDoctorLive checks the test's own namespace (read-only): the report is
// complete, and the error matches its status.
func TestDoctorLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ctnetlink needs CAP_NET_ADMIN")
	}
	var out bytes.Buffer
	err := runDoctor(context.Background(), []string{"--json"}, &out, io.Discard)
	var rep doctor.Report
	if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
		t.Fatalf("%v: %s", jerr, out.Bytes())
	}
	if len(rep.Checks) != 12 {
		t.Errorf("%d checks, want 12", len(rep.Checks))
	}
	if (rep.Status == doctor.Fail) != errors.Is(err, errSilent) {
		t.Errorf("status %v with error %v", rep.Status, err)
	}
	for _, c := range rep.Checks {
		if c.Name == "privileges" && c.Status != doctor.OK {
			t.Errorf("privileges %v as root: %s", c.Status, c.Found)
		}
		if c.Name == "conntrack" && c.Status != doctor.OK {
			t.Errorf("conntrack %v: %s", c.Status, c.Found)
		}
	}
}
