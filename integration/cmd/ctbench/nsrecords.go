//go:build integration

package main

import (
	"bytes"
	"io"
	"strconv"
)

// The records of ctwatch watch --all-netns: each names its namespace in a
// "netns" object, {"inode":N,"nsid":N,"name":"..."} (name only for the
// namespaces under /run/netns), which is how the netns part counts the
// records of its own namespaces among those of every other namespace on
// the machine.

var (
	netnsObject  = []byte(`"netns":{`)
	netnsName    = []byte(`"name":"`)
	netnsInode   = []byte(`"inode":`)
	netnsAddedEv = []byte(`"event":"netns_added"`)
)

// recordNetNS returns the name and inode of the namespace a ctwatch record
// names; ok is false when it has no netns object.
func recordNetNS(line []byte) (name string, inode uint64, ok bool) {
	i := bytes.Index(line, netnsObject)
	if i < 0 {
		return "", 0, false
	}
	obj := line[i+len(netnsObject):]
	// The object is flat: it ends at its first closing brace.
	if end := bytes.IndexByte(obj, '}'); end >= 0 {
		obj = obj[:end]
	}
	if j := bytes.Index(obj, netnsName); j >= 0 {
		v := obj[j+len(netnsName):]
		if end := bytes.IndexByte(v, '"'); end >= 0 {
			name = string(v[:end])
		}
	}
	if j := bytes.Index(obj, netnsInode); j >= 0 {
		v := obj[j+len(netnsInode):]
		end := 0
		for end < len(v) && v[end] >= '0' && v[end] <= '9' {
			end++
		}
		inode, _ = strconv.ParseUint(string(v[:end]), 10, 64)
	}
	return name, inode, true
}

// nsRecordCounts are the records of an all-netns output that belong to the
// benchmark's namespaces.
type nsRecordCounts struct {
	// PerNS maps a namespace's name to its records by kind.
	PerNS map[string]eventCounts
	// Unnamed counts entry records of one of the namespaces, known by its
	// inode, that did not carry its name.
	Unnamed int
	// Unattributed counts entry records with no netns object at all: in
	// an all-netns output every record must say where it came from.
	Unattributed int
}

// countNetNSRecords counts the records of ctwatch's all-netns output that
// belong to the namespaces named in names (name to inode), by namespace and
// kind; records of other namespaces are left out.
func countNetNSRecords(r io.Reader, names map[string]uint64) (nsRecordCounts, error) {
	byInode := make(map[uint64]string, len(names))
	for n, ino := range names {
		byInode[ino] = n
	}
	c := nsRecordCounts{PerNS: make(map[string]eventCounts, len(names))}
	add := func(name string, k eventKind) {
		e := c.PerNS[name]
		e.add(k)
		c.PerNS[name] = e
	}
	err := eachLine(r, func(line []byte) {
		if line == nil {
			return // no record of ours is that long
		}
		k := classifyCtwatch(line)
		name, ino, ok := recordNetNS(line)
		switch _, ours := names[name]; {
		case !ok:
			if k != kindOther {
				c.Unattributed++
			}
		case ours:
			add(name, k)
		case name == "" && byInode[ino] != "":
			add(byInode[ino], k)
			if k != kindOther {
				c.Unnamed++
			}
		}
	})
	return c, err
}

// netnsAdded returns the names among names for which data (ctwatch's
// output so far) has a netns_added record: the namespaces ctwatch watches.
func netnsAdded(data []byte, names map[string]uint64) map[string]bool {
	added := make(map[string]bool)
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if !bytes.Contains(line, netnsAddedEv) {
			continue
		}
		name, ino, ok := recordNetNS(line)
		if !ok {
			continue
		}
		if _, ours := names[name]; ours {
			added[name] = true
			continue
		}
		for n, i := range names {
			if i == ino {
				added[n] = true
			}
		}
	}
	return added
}
