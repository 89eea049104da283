package nsdiscover

import (
	"bytes"
	"strings"
)

// Container is what a process's cgroup path says about the container it
// runs in. Either field may be empty: a host process has neither, a
// Docker container no pod.
type Container struct {
	// ID is the container runtime's container id: 64 lowercase hex
	// digits.
	ID string
	// PodUID is the Kubernetes pod's UID, a UUID in its canonical
	// lowercase form (8-4-4-4-12 hex digits).
	PodUID string
}

// ParseCgroup reads a /proc/PID/cgroup file ("HIERARCHY:CONTROLLERS:PATH"
// lines) and returns the container its paths show. The cgroup v2 line
// ("0::PATH") is preferred; otherwise the first v1 line that shows
// anything is used. Unknown layouts and malformed lines yield nothing,
// never an error: the identity is best effort.
func ParseCgroup(b []byte) Container {
	var v1 Container
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		hier, rest, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		ctrl, path, ok := bytes.Cut(rest, []byte{':'})
		if !ok {
			continue
		}
		c := ParseCgroupPath(string(path))
		if string(hier) == "0" && len(ctrl) == 0 {
			if c != (Container{}) {
				return c
			}
			continue
		}
		if v1 == (Container{}) {
			v1 = c
		}
	}
	return v1
}

// ParseCgroupPath returns the container a cgroup path shows, in the
// layouts of:
//
//   - containerd under Kubernetes with the systemd driver:
//     /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<UID>.slice/cri-containerd-<ID>.scope
//     (the pod UID with '_' for '-', as systemd unit names need);
//   - Kubernetes with the cgroupfs driver (containerd, CRI-O, Docker):
//     /kubepods/burstable/pod<UID>/<ID>;
//   - CRI-O with the systemd driver: .../crio-<ID>.scope;
//   - Docker: /system.slice/docker-<ID>.scope, or /docker/<ID>;
//   - Podman: .../libpod-<ID>.scope.
//
// The innermost component naming a container wins, as does the innermost
// naming a pod. A conmon (CRI-O's monitor, crio-conmon-<ID>.scope) is not
// the container and names none.
func ParseCgroupPath(path string) Container {
	var c Container
	for path != "" {
		i := strings.LastIndexByte(path, '/')
		comp := path[i+1:]
		if i < 0 {
			path = ""
		} else {
			path = path[:i]
		}
		if c.ID == "" {
			c.ID = containerID(comp)
		}
		if c.PodUID == "" {
			c.PodUID = podUID(comp)
		}
		if c.ID != "" && c.PodUID != "" {
			break
		}
	}
	return c
}

// scopePrefixes are the systemd scope names runtimes give a container.
var scopePrefixes = []string{"cri-containerd-", "crio-", "docker-", "libpod-"}

// containerID returns the container id one path component names: the bare
// id (cgroupfs layouts) or a runtime's scope for it.
func containerID(comp string) string {
	if isHex64(comp) {
		return comp
	}
	base, ok := strings.CutSuffix(comp, ".scope")
	if !ok {
		return ""
	}
	for _, p := range scopePrefixes {
		if id, ok := strings.CutPrefix(base, p); ok && isHex64(id) {
			return id
		}
	}
	return ""
}

// podUID returns the pod UID one path component names: "pod<UID>"
// (cgroupfs) or "kubepods[-QOS]-pod<UID_>.slice" (systemd, '_' for '-').
func podUID(comp string) string {
	if uid, ok := strings.CutPrefix(comp, "pod"); ok && isUUID(uid) {
		return uid
	}
	base, ok := strings.CutSuffix(comp, ".slice")
	if !ok || !strings.HasPrefix(base, "kubepods-") {
		return ""
	}
	i := strings.LastIndex(base, "-pod")
	if i < 0 {
		return ""
	}
	uid := strings.ReplaceAll(base[i+len("-pod"):], "_", "-")
	if !isUUID(uid) {
		return ""
	}
	return uid
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

// isUUID reports whether s is a UUID in lowercase canonical form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHexDigit(s[i]) {
				return false
			}
		}
	}
	return true
}

func isHexDigit(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }
