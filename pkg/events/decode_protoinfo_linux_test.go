package events

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"

	"github.com/ctwatch/ctwatch/internal/ctnl"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// TestDecodeProtoinfoExtras checks the SCTP vtags and the DCCP role, which
// the kernel sends beside the state but in destroy events
// (ctnetlink_dump_protoinfo with destroy set skips them): each value is
// read with its own presence bit, by DecodeFast and by the reference
// decoder alike.
func TestDecodeProtoinfoExtras(t *testing.T) {
	const dccp, sctp = 33, 132
	tests := []struct {
		name    string
		proto   uint8
		info    []byte
		want    func(e *model.Entry)
		wantErr error
	}{
		{
			name:  "sctp vtags",
			proto: sctp,
			info: nest(ctnl.CTAProtoinfoSCTP, leaf(ctnl.CTAProtoinfoTCPState, 3),
				leaf(ctnl.CTAProtoinfoSCTPVtagOriginal, be32(0xdeadbeef)...), leaf(ctnl.CTAProtoinfoSCTPVtagReply, be32(7)...)),
			want: func(e *model.Entry) {
				e.State, e.OrigVtag, e.ReplyVtag = 3, 0xdeadbeef, 7
				e.Fields |= model.FieldState | model.FieldOrigVtag | model.FieldReplyVtag
			},
		},
		{
			name:  "sctp reply vtag alone",
			proto: sctp,
			info:  nest(ctnl.CTAProtoinfoSCTP, leaf(ctnl.CTAProtoinfoSCTPVtagReply, be32(9)...)),
			want: func(e *model.Entry) {
				e.ReplyVtag = 9
				e.Fields |= model.FieldReplyVtag
			},
		},
		{
			name:  "sctp destroy: the state only",
			proto: sctp,
			info:  nest(ctnl.CTAProtoinfoSCTP, leaf(ctnl.CTAProtoinfoTCPState, 7)),
			want: func(e *model.Entry) {
				e.State = 7
				e.Fields |= model.FieldState
			},
		},
		{
			name:  "dccp role",
			proto: dccp,
			info:  nest(ctnl.CTAProtoinfoDCCP, leaf(ctnl.CTAProtoinfoTCPState, 4), leaf(ctnl.CTAProtoinfoDCCPRole, 1), leaf(ctnl.CTAProtoinfoDCCPHandshakeSeq, be64(9)...)),
			want: func(e *model.Entry) {
				e.State, e.DCCPRole = 4, model.DCCPRoleServer
				e.Fields |= model.FieldState | model.FieldDCCPRole
			},
		},
		{
			name:  "dccp destroy: the state only",
			proto: dccp,
			info:  nest(ctnl.CTAProtoinfoDCCP, leaf(ctnl.CTAProtoinfoTCPState, 5)),
			want: func(e *model.Entry) {
				e.State = 5
				e.Fields |= model.FieldState
			},
		},
		{
			name:  "a vtag type in a tcp nest is a window scale",
			proto: 6,
			info:  nest(ctnl.CTAProtoinfoTCP, leaf(ctnl.CTAProtoinfoTCPState, 3), leaf(ctnl.CTAProtoinfoTCPWscaleOriginal, 7)),
			want: func(e *model.Entry) {
				e.State = 3
				e.Fields |= model.FieldState
			},
		},
		{
			name:    "a vtag of the wrong size",
			proto:   sctp,
			info:    nest(ctnl.CTAProtoinfoSCTP, leaf(ctnl.CTAProtoinfoTCPState, 3), leaf(ctnl.CTAProtoinfoSCTPVtagOriginal, 1, 2)),
			wantErr: ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := entry4(tt.proto, nest(ctnl.CTAProtoinfo, tt.info))
			var fast, ref model.Event
			err := DecodeFast(rawMessage(typNew, flagCreate, 0, data), &fast)
			refErr := decodeTiMo(netlink.Message{
				Header: netlink.Header{Type: netlink.HeaderType(typNew), Flags: netlink.HeaderFlags(flagCreate)},
				Data:   data,
			}, &ref)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || refErr == nil {
					t.Fatalf("DecodeFast: %v, reference: %v; want %v from both", err, refErr, tt.wantErr)
				}
				return
			}
			if err != nil || refErr != nil {
				t.Fatalf("DecodeFast: %v, reference: %v", err, refErr)
			}
			want := decodedEntry4(t, tt.proto)
			tt.want(&want)
			if diff := cmp.Diff(want, fast.Entry, eventOpts); diff != "" {
				t.Errorf("DecodeFast (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, ref.Entry, eventOpts); diff != "" {
				t.Errorf("reference (-want +got):\n%s", diff)
			}
		})
	}
}
