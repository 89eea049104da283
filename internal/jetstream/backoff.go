package jetstream

import (
	"math/rand/v2"
	"time"
)

// Bounds of the backoff between reconnect attempts and between retry rounds.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// backoff returns the delay before attempt n (0 for the first retry):
// exponential from minBackoff, capped at maxBackoff, with jitter drawn from
// its upper half so that a fleet restarted together does not retry in step.
func backoff(n int) time.Duration {
	d := maxBackoff
	if n < 20 {
		d = min(minBackoff<<n, maxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}
