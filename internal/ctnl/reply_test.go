package ctnl

import (
	"encoding/binary"
	"errors"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// errMsg is the payload of an NLMSG_ERROR: the code, then the request's
// header.
func errMsg(code int32) []byte {
	return append(binary.NativeEndian.AppendUint32(nil, uint32(code)), make([]byte, NLMsgHdrLen)...)
}

func TestReplyFeed(t *testing.T) {
	const seq = 7
	stats := NFNLType(NFNLSubsysCTNetlink, IPCTNLMsgCtGetStats)
	data := rawMsg(stats, NLMFMulti, seq, []byte{0, 0, 0, 0})
	errStop := errors.New("stop")
	tests := []struct {
		name      string
		datagrams [][]byte
		stopAt    int   // the data message whose Message returns false (1-based; 0: none)
		failAt    int   // the data message whose Message fails (1-based; 0: none)
		wantData  int   // data messages passed to Message
		wantDone  bool  // Done after the last datagram
		wantErr   error // of the last Feed
	}{
		{
			name:      "multi message then acknowledgement (IPCTNL_MSG_CT_GET_STATS on Linux 6.18)",
			datagrams: [][]byte{data, rawMsg(NLMsgError, NLMFCapped, seq, errMsg(0))},
			wantData:  1, wantDone: true,
		},
		{name: "multi message alone is not the end", datagrams: [][]byte{data}, wantData: 1},
		{
			name:      "done ends a dump",
			datagrams: [][]byte{append(append([]byte(nil), data...), data...), rawMsg(NLMsgDone, NLMFMulti, seq, []byte{0, 0, 0, 0})},
			wantData:  2, wantDone: true,
		},
		{
			name:      "done without a status",
			datagrams: [][]byte{rawMsg(NLMsgDone, NLMFMulti, seq, nil)},
			wantDone:  true,
		},
		{
			name:      "messages after the end are skipped",
			datagrams: [][]byte{append(rawMsg(NLMsgDone, NLMFMulti, seq, []byte{0, 0, 0, 0}), data...)},
			wantDone:  true,
		},
		{
			name: "other sequence numbers are skipped",
			datagrams: [][]byte{
				rawMsg(NLMsgError, NLMFCapped, seq-1, errMsg(0)),
				append(rawMsg(stats, NLMFMulti, seq+1, nil), data...),
				rawMsg(NLMsgError, NLMFCapped, seq, errMsg(0)),
			},
			wantData: 1, wantDone: true,
		},
		{name: "noop skipped", datagrams: [][]byte{rawMsg(NLMsgNoop, 0, seq, nil), data}, wantData: 1},
		{
			name:      "kernel error",
			datagrams: [][]byte{rawMsg(NLMsgError, 0, seq, errMsg(-int32(syscall.EPERM)))},
			wantDone:  true, wantErr: syscall.EPERM,
		},
		{
			name:      "error in done",
			datagrams: [][]byte{rawMsg(NLMsgDone, NLMFMulti, seq, binary.NativeEndian.AppendUint32(nil, uint32(0xfffffff4)))},
			wantDone:  true, wantErr: syscall.ENOMEM,
		},
		{
			name:      "short error",
			datagrams: [][]byte{rawMsg(NLMsgError, 0, seq, []byte{0})},
			wantDone:  true, wantErr: ErrTruncated,
		},
		{name: "overrun", datagrams: [][]byte{rawMsg(NLMsgOverrun, 0, seq, nil)}, wantErr: ErrOverrun},
		{name: "truncated message", datagrams: [][]byte{data[:18]}, wantErr: ErrTruncated},
		{name: "trailing bytes", datagrams: [][]byte{append(append([]byte(nil), data...), 1, 2, 3)}, wantData: 1, wantErr: ErrTruncated},
		{name: "the caller stops", datagrams: [][]byte{append(append([]byte(nil), data...), data...)}, stopAt: 1, wantData: 1, wantDone: true},
		{name: "the caller fails", datagrams: [][]byte{data}, failAt: 1, wantData: 1, wantErr: errStop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, datagrams := 0, 0
			r := Reply{
				Seq: seq,
				Message: func(h Header, msg []byte) (bool, error) {
					n++
					if h.Type != stats || len(msg) != int(h.Len) {
						t.Errorf("message %d: header %+v of a %d-byte message", n, h, len(msg))
					}
					if n == tt.failAt {
						return false, errStop
					}
					return n != tt.stopAt, nil
				},
				Datagram: func([]byte) { datagrams++ },
			}
			var err error
			for _, d := range tt.datagrams {
				if err = r.Feed(d); err != nil {
					break
				}
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			got := []any{n, r.Done}
			if diff := cmp.Diff([]any{tt.wantData, tt.wantDone}, got); diff != "" {
				t.Errorf("data messages, done (-want +got):\n%s", diff)
			}
			if tt.wantErr == nil && datagrams != len(tt.datagrams) {
				t.Errorf("Datagram called %d times for %d datagrams", datagrams, len(tt.datagrams))
			}
		})
	}
}

// FuzzReplyFeed checks that Feed accepts or refuses any datagram with one
// of its documented errors, and passes only whole data messages of its
// sequence number on.
func FuzzReplyFeed(f *testing.F) {
	f.Add(append(rawMsg(NFNLType(NFNLSubsysCTNetlink, IPCTNLMsgCtGetStats), NLMFMulti, 1, []byte{0, 0, 0, 0}), rawMsg(NLMsgError, 0, 1, errMsg(0))...))
	f.Add(rawMsg(NLMsgDone, 0, 1, errMsg(-1)))
	f.Fuzz(func(t *testing.T, datagram []byte) {
		r := Reply{Seq: 1, Message: func(h Header, msg []byte) (bool, error) {
			if h.Seq != 1 || int(h.Len) != len(msg) || h.Type <= NLMsgOverrun && h.Type >= NLMsgNoop {
				t.Fatalf("message %+v of %d bytes passed on", h, len(msg))
			}
			return true, nil
		}}
		err := r.Feed(datagram)
		var errno syscall.Errno
		if err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrOverrun) && !errors.As(err, &errno) {
			t.Fatalf("error %v is none of ErrTruncated, ErrOverrun, an errno", err)
		}
	})
}
