package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// describe returns the descriptions' strings.
func describe(c prometheus.Collector) []string {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	var out []string
	for d := range ch {
		out = append(out, d.String())
	}
	return out
}

// collect returns the descriptions' strings of the collected metrics.
func collect(c prometheus.Collector) []string {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	var out []string
	for m := range ch {
		out = append(out, m.Desc().String())
	}
	return out
}
