package record

import "github.com/rs/zerolog"

func (e *Encoder) nativeOutputError(o *OutputError) {
	z := e.nativeRecord(zerolog.ErrorLevel, "output_error")
	if z == nil {
		return
	}
	z.Str("op", o.Op)
	if o.Path != "" {
		z.Str("path", o.Path)
	}
	z.Err(o.Err)
	if o.Errno != 0 {
		z.Str("errno", errnoName(o.Errno))
	}
	z.Str("hint", o.Hint).Bool("torn", o.Torn).Uint64("lost_total", o.LostTotal).Send()
}

func (e *Encoder) nativeOutputRecovered(o *OutputRecovered) {
	z := e.nativeRecord(zerolog.InfoLevel, "output_recovered")
	if z == nil {
		return
	}
	z.Str("op", o.Op)
	if o.Path != "" {
		z.Str("path", o.Path)
	}
	if o.Errno != 0 {
		z.Str("errno", errnoName(o.Errno))
	}
	z.Uint64("lost", o.Lost).Uint64("lost_total", o.LostTotal).Send()
}

func (e *Encoder) nativeNetnsGone(n *NetnsGone) {
	action := "stop"
	if n.Wait {
		action = "wait"
	}
	e.nativeRecord(zerolog.WarnLevel, "netns_gone").
		Str("netns", n.NetNS).
		Uint64("inode", n.Inode).
		Uint64("flows_ended", n.FlowsEnded).
		Str("action", action).
		Str("hint", netnsGoneHint(n.Wait)).
		Send()
}
