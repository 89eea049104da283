package record

import "github.com/rs/zerolog"

// The classes of the records about the output's health and the watched
// namespace.
var (
	ecsOutputErrorClass     = ecsClass{"alert", ecsNetwork, ecsInfo, "conntrack-output-error"}
	ecsOutputRecoveredClass = ecsClass{"event", ecsNetwork, ecsInfo, "conntrack-output-recovered"}
	ecsNetnsGoneClass       = ecsClass{"alert", ecsNetwork, ecsInfo, "conntrack-netns-gone"}
)

func (e *Encoder) ecsOutputError(o *OutputError) {
	z := e.ecsRecord(zerolog.ErrorLevel, &ecsOutputErrorClass, &ecsEventExtra{outcome: ecsFailure}, o.Hint)
	if z == nil {
		return
	}
	if o.Err != nil {
		ed := zerolog.Dict().Str("message", o.Err.Error())
		if o.Errno != 0 {
			ed.Str("code", errnoName(o.Errno))
		}
		z.Dict("error", ed)
	}
	d := zerolog.Dict().Str("op", o.Op)
	if o.Path != "" {
		d.Str("path", o.Path)
	}
	d.Bool("torn", o.Torn).Uint64("lost_total", o.LostTotal)
	z.Dict("conntrack", e.ecsConntrack("output_error").Dict("output_error", d))
	z.Send()
}

func (e *Encoder) ecsOutputRecovered(o *OutputRecovered) {
	z := e.ecsRecord(zerolog.InfoLevel, &ecsOutputRecoveredClass, &ecsEventExtra{outcome: ecsSuccess}, "")
	if z == nil {
		return
	}
	d := zerolog.Dict().Str("op", o.Op)
	if o.Path != "" {
		d.Str("path", o.Path)
	}
	if o.Errno != 0 {
		d.Str("errno", errnoName(o.Errno))
	}
	d.Uint64("lost", o.Lost).Uint64("lost_total", o.LostTotal)
	z.Dict("conntrack", e.ecsConntrack("output_recovered").Dict("output_recovered", d))
	z.Send()
}

func (e *Encoder) ecsNetnsGone(n *NetnsGone) {
	z := e.ecsRecord(zerolog.WarnLevel, &ecsNetnsGoneClass, nil, netnsGoneHint(n.Wait))
	if z == nil {
		return
	}
	action := "stop"
	if n.Wait {
		action = "wait"
	}
	z.Dict("conntrack", e.ecsConntrack("netns_gone").
		Dict("netns", zerolog.Dict().Str("name", n.NetNS).Uint64("inode", n.Inode)).
		Dict("netns_gone", zerolog.Dict().Uint64("flows_ended", n.FlowsEnded).Str("action", action)))
	z.Send()
}
