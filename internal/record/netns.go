package record

import (
	"github.com/ctwatch/ctwatch/internal/nsdiscover"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// The namespace identity of the records of a watch of several namespaces
// (Config.NetNS): the object "netns" (native; conntrack.netns in ECS,
// unmapped.conntrack.netns in OCSF) with inode, nsid, name, pid,
// container_id, pod_uid and self, empty ones left out. Every entry record
// carries one, so it is rendered once per namespace and kept: a record
// costs the hook's lookup and a comparison of what it returned with what
// was rendered, and a namespace whose identity changed (its id, a name
// given later, a container found) is rendered again.

// netnsSlots is the number of namespaces whose rendered identity the
// encoder keeps, a power of two. A node with more namespaces than slots
// renders again those that share one when their records interleave: it
// costs CPU, never an allocation (a slot's buffer is reused).
const netnsSlots = 256

// netnsSlot is one namespace's identity as last rendered.
type netnsSlot struct {
	// used is set once the slot holds a rendering.
	used bool
	// key is the namespace as the event named it, found and ns what the
	// hook returned for it.
	key   model.NetNS
	found bool
	ns    nsdiscover.NS
	// json is the identity object.
	json []byte
}

// netnsCache holds the rendered identities, indexed by the namespace's
// id. Only the encoder's lock holder uses it.
type netnsCache [netnsSlots]netnsSlot

// netnsIndex returns the slot of a namespace: the local namespace has
// slot 0, a peer with id n slot n+1 (ids are small dense integers), both
// modulo the cache's size.
func netnsIndex(n model.NetNS) int {
	if !n.Peer {
		return 0
	}
	return int((uint32(n.NSID) + 1) & (netnsSlots - 1))
}

// netnsOf returns the rendered identity of namespace n, nil when the
// encoder has no hook (one namespace is watched). It is called with e.mu
// held and does not allocate once every slot in use has grown its buffer.
func (e *Encoder) netnsOf(n model.NetNS) *netnsSlot {
	if e.netns == nil {
		return nil
	}
	ns, found := e.netns(n)
	s := &e.netnsCache[netnsIndex(n)]
	if s.used && s.key == n && s.found == found && s.ns == ns {
		return s
	}
	s.used, s.key, s.found, s.ns = true, n, found, ns
	s.json = appendNetnsIdentity(s.json[:0], n, ns, found)
	return s
}

// appendNetnsIdentity appends the identity object of namespace n: what the
// hook found (ns), or when it found nothing, {"nsid":N} for a peer (a
// namespace the discovery does not know yet) and {"self":true} for the
// receiving socket's own, which the events name without an id.
func appendNetnsIdentity(dst []byte, n model.NetNS, ns nsdiscover.NS, found bool) []byte {
	dst = append(dst, '{')
	if !found {
		if n.Peer {
			dst = objInt(dst, "nsid", int64(n.NSID))
		} else {
			dst = objBool(dst, "self", true)
		}
		return append(dst, '}')
	}
	if ns.Inode != 0 {
		dst = objUint(dst, "inode", ns.Inode)
	}
	if ns.NSID >= 0 { // nsdiscover.NoNSID (-1): it has none
		dst = objInt(dst, "nsid", int64(ns.NSID))
	}
	if ns.Name != "" {
		dst = objStr(dst, "name", ns.Name)
	}
	if ns.PID != 0 {
		dst = objInt(dst, "pid", int64(ns.PID))
	}
	if ns.ID != "" {
		dst = objStr(dst, "container_id", ns.ID)
	}
	if ns.PodUID != "" {
		dst = objStr(dst, "pod_uid", ns.PodUID)
	}
	if ns.Self {
		dst = objBool(dst, "self", true)
	}
	return append(dst, '}')
}
