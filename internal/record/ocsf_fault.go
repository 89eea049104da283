package record

import "github.com/rs/zerolog"

// The OCSF schema's records about the output's health and the watched
// namespace: a failure is an Application Error (General Error) as the
// other warnings are, a recovery a Base Event of activity Other.

func (e *Encoder) ocsfOutputError(o *OutputError) {
	z, seq := e.ocsfError(zerolog.ErrorLevel, ocsfGeneralError, "General Error", ocsfHigh)
	if z == nil {
		return
	}
	if o.Errno != 0 {
		z.Str("status_code", errnoName(o.Errno))
	}
	if o.Err != nil {
		z.Str("status_detail", o.Err.Error())
	}
	z.Str("message", o.Hint)
	d := zerolog.Dict().Str("op", o.Op)
	if o.Path != "" {
		d.Str("path", o.Path)
	}
	d.Bool("torn", o.Torn).Uint64("lost_total", o.LostTotal)
	ocsfUnmapped(z, e.ocsfConntrack(seq, "output_error").Dict("output_error", d))
}

func (e *Encoder) ocsfOutputRecovered(o *OutputRecovered) {
	z, seq := e.ocsfOther(zerolog.InfoLevel, "Output Recovered", ocsfInformational)
	if z == nil {
		return
	}
	ocsfStatus(z, ocsfStatusSuccess)
	z.Int("count", ocsfInt(o.Lost))
	d := zerolog.Dict().Str("op", o.Op)
	if o.Path != "" {
		d.Str("path", o.Path)
	}
	if o.Errno != 0 {
		d.Str("errno", errnoName(o.Errno))
	}
	d.Uint64("lost", o.Lost).Uint64("lost_total", o.LostTotal)
	ocsfUnmapped(z, e.ocsfConntrack(seq, "output_recovered").Dict("output_recovered", d))
}

func (e *Encoder) ocsfNetnsGone(n *NetnsGone) {
	z, seq := e.ocsfError(zerolog.WarnLevel, ocsfGeneralError, "General Error", ocsfMedium)
	if z == nil {
		return
	}
	action := "stop"
	if n.Wait {
		action = "wait"
	}
	z.Str("message", netnsGoneHint(n.Wait)).Int("count", ocsfInt(n.FlowsEnded))
	ocsfUnmapped(z, e.ocsfConntrack(seq, "netns_gone").
		Dict("netns", zerolog.Dict().Str("name", n.NetNS).Uint64("inode", n.Inode)).
		Dict("netns_gone", zerolog.Dict().Uint64("flows_ended", n.FlowsEnded).Str("action", action)))
}
