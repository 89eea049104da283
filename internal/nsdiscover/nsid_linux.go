package nsdiscover

import (
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// NoNSID is the namespace id of a namespace that has none in the
// listener's namespace (NETNSA_NSID_NOT_ASSIGNED): a socket listening to
// all namespaces receives nothing from it.
const NoNSID int32 = unix.NETNSA_NSID_NOT_ASSIGNED

// DefaultRequestTimeout bounds every rtnetlink request of an [IDs].
const DefaultRequestTimeout = 2 * time.Second

// IDs reads and assigns namespace ids over rtnetlink. The ids are those
// the namespace IDs was dialled in (the listener's) gives other
// namespaces: the ids a NETLINK_LISTEN_ALL_NSID socket there reports. An
// IDs owns one socket: use it from one goroutine.
type IDs struct {
	c       *netlink.Conn
	timeout time.Duration
}

// DialIDs opens an rtnetlink socket in the caller's namespace. Every
// request is bounded by timeout (DefaultRequestTimeout when 0).
func DialIDs(timeout time.Duration) (*IDs, error) {
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return nil, fmt.Errorf("dial rtnetlink: %w", err)
	}
	return &IDs{c: c, timeout: timeout}, nil
}

// Close closes the socket.
func (ids *IDs) Close() error { return ids.c.Close() }

// Get returns the id of the namespace open at fd, NoNSID when it has none
// (RTM_GETNSID with NETNSA_FD).
func (ids *IDs) Get(fd int) (int32, error) {
	return ids.get(unix.NETNSA_FD, uint32(fd))
}

// GetPID is Get for the namespace process pid lives in (NETNSA_PID).
func (ids *IDs) GetPID(pid int) (int32, error) {
	return ids.get(unix.NETNSA_PID, uint32(pid))
}

func (ids *IDs) get(attr uint16, v uint32) (int32, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attr, v)
	msgs, err := ids.execute(unix.RTM_GETNSID, netlink.Request, ae)
	if err != nil {
		return NoNSID, fmt.Errorf("get namespace id: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWNSID {
			continue
		}
		id, err := decodeNSID(m.Data)
		if err != nil {
			return NoNSID, fmt.Errorf("get namespace id: %w", err)
		}
		return id, nil
	}
	return NoNSID, fmt.Errorf("get namespace id: %w", errNoAnswer)
}

var errNoAnswer = errors.New("no RTM_NEWNSID in the answer")

// Assign returns the id of the namespace open at fd, first giving it one
// (RTM_NEWNSID, NETNSA_NSID -1: the kernel picks the lowest free id, as
// "ip netns set NAME auto" does) when it has none. An id already set, by
// another tool or a concurrent Assign, is kept.
func (ids *IDs) Assign(fd int) (int32, error) {
	id, err := ids.Get(fd)
	if err != nil || id != NoNSID {
		return id, err
	}
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(unix.NETNSA_FD, uint32(fd))
	ae.Int32(unix.NETNSA_NSID, NoNSID)
	_, err = ids.execute(unix.RTM_NEWNSID, netlink.Request|netlink.Acknowledge, ae)
	// EEXIST: another tool assigned one between the two requests; it
	// stands.
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return NoNSID, fmt.Errorf("assign namespace id: %w", err)
	}
	return ids.Get(fd)
}

func (ids *IDs) execute(typ netlink.HeaderType, flags netlink.HeaderFlags, ae *netlink.AttributeEncoder) ([]netlink.Message, error) {
	attrs, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	// struct rtgenmsg (family AF_UNSPEC), padded to 4 bytes, then the
	// attributes.
	data := append(make([]byte, 4, 4+len(attrs)), attrs...)
	if err := ids.c.SetDeadline(time.Now().Add(ids.timeout)); err != nil {
		return nil, err
	}
	return ids.c.Execute(netlink.Message{
		Header: netlink.Header{Type: typ, Flags: flags},
		Data:   data,
	})
}

// decodeNSID reads NETNSA_NSID out of an RTM_NEWNSID message's payload
// (struct rtgenmsg, padded to 4 bytes, then attributes).
func decodeNSID(b []byte) (int32, error) {
	if len(b) < 4 {
		return NoNSID, fmt.Errorf("nsid message of %d bytes: %w", len(b), errShort)
	}
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return NoNSID, fmt.Errorf("nsid attributes: %w", err)
	}
	id, found := NoNSID, false
	for ad.Next() {
		if ad.Type() == unix.NETNSA_NSID {
			id, found = ad.Int32(), true
		}
	}
	if err := ad.Err(); err != nil {
		return NoNSID, fmt.Errorf("nsid attributes: %w", err)
	}
	if !found {
		return NoNSID, fmt.Errorf("nsid message: %w", errNoNSIDAttr)
	}
	return id, nil
}

var (
	errShort      = errors.New("shorter than struct rtgenmsg")
	errNoNSIDAttr = errors.New("no NETNSA_NSID attribute")
)
