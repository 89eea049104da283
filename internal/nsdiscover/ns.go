package nsdiscover

import "github.com/rs/zerolog"

// NS is the identity of one network namespace, read when it is found.
type NS struct {
	// Inode is the namespace's nsfs inode number, its identity on the
	// host ([netns.Handle.ID]).
	Inode uint64
	// NSID is the namespace's id in the listener's namespace (the one the
	// Watcher runs in), NoNSID when it has none (it could not be
	// assigned).
	NSID int32
	// Name is its name under /run/netns, "" for an unnamed namespace; of
	// several names, the first in lexical order.
	Name string
	// PID is the lowest process id living in it when it was found, 0 when
	// none did (a name holds it). For the Watcher's own namespace it is
	// the Watcher's process.
	PID int
	// Container is what PID's cgroup shows: for a Kubernetes pod the
	// lowest process is usually the sandbox ("pause") container's, so ID
	// is the sandbox's and PodUID the pod's.
	Container
	// Self marks the Watcher's own namespace, the listener's: messages
	// from it carry no namespace id unless another tool gave it one.
	Self bool
}

// MarshalZerologObject logs the identity's fields, empty ones left out.
func (n NS) MarshalZerologObject(e *zerolog.Event) {
	e.Uint64("inode", n.Inode).Int32("nsid", n.NSID)
	if n.Name != "" {
		e.Str("name", n.Name)
	}
	if n.PID != 0 {
		e.Int("pid", n.PID)
	}
	if n.ID != "" {
		e.Str("container_id", n.ID)
	}
	if n.PodUID != "" {
		e.Str("pod_uid", n.PodUID)
	}
	if n.Self {
		e.Bool("self", true)
	}
}
