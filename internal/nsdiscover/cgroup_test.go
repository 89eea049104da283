package nsdiscover

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	cid  = "3f1e9c0a5b7d4e2f8a6c1b0d9e7f5a3c2b1d0e9f8a7c6b5d4e3f2a1b0c9d8e7f"
	cid2 = "aa11bb22cc33dd44ee55ff6600778899aabbccddeeff00112233445566778899"
	uid  = "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"
	uidU = "1b2c3d4e_5f60_4a7b_8c9d_0e1f2a3b4c5d"
)

func TestParseCgroupPath(t *testing.T) {
	for _, tt := range []struct {
		name, path string
		want       Container
	}{
		{"containerd systemd burstable", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope", Container{ID: cid, PodUID: uid}},
		{"containerd systemd besteffort", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope", Container{ID: cid, PodUID: uid}},
		{"containerd systemd guaranteed", "/kubepods.slice/kubepods-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope", Container{ID: cid, PodUID: uid}},
		{"cgroupfs burstable", "/kubepods/burstable/pod" + uid + "/" + cid, Container{ID: cid, PodUID: uid}},
		{"cgroupfs guaranteed", "/kubepods/pod" + uid + "/" + cid, Container{ID: cid, PodUID: uid}},
		{"crio systemd", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/crio-" + cid + ".scope", Container{ID: cid, PodUID: uid}},
		{"crio conmon is not the container", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/crio-conmon-" + cid + ".scope", Container{PodUID: uid}},
		{"docker systemd", "/system.slice/docker-" + cid + ".scope", Container{ID: cid}},
		{"docker cgroupfs", "/docker/" + cid, Container{ID: cid}},
		{"podman", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + cid + ".scope/container", Container{ID: cid}},
		{"kind node nesting: innermost wins", "/docker/" + cid2 + "/kubepods/besteffort/pod" + uid + "/" + cid, Container{ID: cid, PodUID: uid}},
		{"pod slice without container", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice", Container{PodUID: uid}},
		{"host session", "/user.slice/user-0.slice/session-3.scope", Container{}},
		{"root", "/", Container{}},
		{"empty", "", Container{}},
		{"short id", "/docker/3f1e9c0a5b7d", Container{}},
		{"uppercase id", "/docker/" + strings.ToUpper(cid), Container{}},
		{"qos slice is no pod", "/kubepods.slice/kubepods-burstable.slice", Container{}},
		{"pod uid with dashes in a slice", "/kubepods.slice/kubepods-pod" + uid + ".slice", Container{PodUID: uid}},
		{"bad uuid", "/kubepods/pod1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5/" + cid, Container{ID: cid}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ParseCgroupPath(tt.path)); diff != "" {
				t.Errorf("ParseCgroupPath(%q) (-want +got):\n%s", tt.path, diff)
			}
		})
	}
}

func TestParseCgroup(t *testing.T) {
	for _, tt := range []struct {
		name, file string
		want       Container
	}{
		{"v2 only", "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope\n", Container{ID: cid, PodUID: uid}},
		{"v1 only", "12:pids:/kubepods/burstable/pod" + uid + "/" + cid + "\n11:cpu,cpuacct:/kubepods/burstable/pod" + uid + "/" + cid + "\n1:name=systemd:/kubepods/burstable/pod" + uid + "/" + cid + "\n", Container{ID: cid, PodUID: uid}},
		{"hybrid prefers v2", "1:name=systemd:/docker/" + cid2 + "\n0::/system.slice/docker-" + cid + ".scope\n", Container{ID: cid}},
		{"hybrid with empty v2 uses v1", "3:memory:/docker/" + cid + "\n1:name=systemd:/user.slice\n0::/\n", Container{ID: cid}},
		{"first v1 that shows something", "4:memory:/\n3:pids:/docker/" + cid + "\n2:cpu:/docker/" + cid2 + "\n", Container{ID: cid}},
		{"host", "0::/init.scope\n", Container{}},
		{"no trailing newline", "0::/docker/" + cid, Container{ID: cid}},
		{"malformed lines skipped", "garbage\n5\n0:/docker/" + cid2 + "\n0::/docker/" + cid + "\n", Container{ID: cid}},
		{"empty", "", Container{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ParseCgroup([]byte(tt.file))); diff != "" {
				t.Errorf("ParseCgroup (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseCgroup(f *testing.F) {
	f.Add([]byte("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope\n"))
	f.Add([]byte("12:pids:/kubepods/burstable/pod" + uid + "/" + cid + "\n1:name=systemd:/docker/" + cid2 + "\n"))
	f.Add([]byte("0::/system.slice/crio-" + cid + ".scope"))
	f.Add([]byte(":::\n::\n0::"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := ParseCgroup(b)
		if c.ID != "" && !isHex64(c.ID) {
			t.Fatalf("container id %q: want 64 lowercase hex digits", c.ID)
		}
		if c.PodUID != "" && !isUUID(c.PodUID) {
			t.Fatalf("pod uid %q: want a UUID", c.PodUID)
		}
		if c.ID != "" && !strings.Contains(string(b), c.ID) {
			t.Fatalf("container id %q not in the input", c.ID)
		}
		if c.PodUID != "" && !strings.Contains(strings.ReplaceAll(string(b), "_", "-"), c.PodUID) {
			t.Fatalf("pod uid %q not in the input", c.PodUID)
		}
	})
}
