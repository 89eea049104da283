package events

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ctwatch/ctwatch/pkg/model"
)

func TestParseTypes(t *testing.T) {
	tests := []struct {
		in      string
		want    Types
		wantErr error
	}{
		{in: "new", want: TypeNew},
		{in: "new,update,destroy", want: AllTypes},
		{in: "destroy, new", want: TypeNew | TypeDestroy},
		{in: "update,update", want: TypeUpdate},
		{in: "", wantErr: ErrInvalidTypes},
		{in: "new,", wantErr: ErrInvalidTypes},
		{in: "snapshot", wantErr: ErrInvalidTypes},
		{in: "unknown", wantErr: ErrInvalidTypes},
		{in: "NEW", wantErr: ErrInvalidTypes},
		{in: "expect", want: ExpectTypes},
		{in: "new,expect-new", want: TypeNew | TypeExpectNew},
		{in: "expect-destroy, destroy", want: TypeDestroy | TypeExpectDestroy},
		{in: "expect-new,expect-destroy", want: ExpectTypes},
		{in: "expect-update", wantErr: ErrInvalidTypes},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTypes(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseTypes(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseTypes(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestTypesHasAndString(t *testing.T) {
	tests := []struct {
		t    Types
		has  []model.EventType
		want string
	}{
		{t: 0, want: ""},
		{t: TypeNew | TypeDestroy, has: []model.EventType{model.EventNew, model.EventDestroy}, want: "new,destroy"},
		{t: AllTypes, has: []model.EventType{model.EventNew, model.EventUpdate, model.EventDestroy}, want: "new,update,destroy"},
		{t: ExpectTypes, want: "expect"},
		{t: TypeNew | TypeExpectDestroy, has: []model.EventType{model.EventNew}, want: "new,expect-destroy"},
		{t: TypeExpectNew, want: "expect-new"},
	}
	for _, tt := range tests {
		var has []model.EventType
		for et := model.EventUnknown; et <= model.EventSnapshot; et++ {
			if tt.t.Has(et) {
				has = append(has, et)
			}
		}
		if diff := cmp.Diff(tt.has, has); diff != "" {
			t.Errorf("%#x.Has (-want +got):\n%s", uint8(tt.t), diff)
		}
		if got := tt.t.String(); got != tt.want {
			t.Errorf("%#x.String() = %q, want %q", uint8(tt.t), got, tt.want)
		}
	}
}

func FuzzParseTypes(f *testing.F) {
	for _, s := range []string{"new", "new,update,destroy", " destroy , new", "", ",", "snapshot", "expect", "expect-new,new"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTypes(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidTypes) {
				t.Errorf("error %v does not wrap ErrInvalidTypes", err)
			}
			return
		}
		if got == 0 || got&^(AllTypes|ExpectTypes) != 0 {
			t.Fatalf("ParseTypes(%q) = %#x", s, uint8(got))
		}
		again, err := ParseTypes(got.String())
		if err != nil || again != got {
			t.Errorf("round trip of %q: %#x, %v", s, uint8(again), err)
		}
	})
}
