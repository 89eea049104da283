package jetstream

import (
	"fmt"

	"github.com/nats-io/nats.go"
)

// Connected returns nil while the publisher is connected to a server, or
// an error saying the connection's state (reconnecting, closed) and its
// last error.
func (p *Publisher) Connected() error {
	st := p.nc.Status()
	if st == nats.CONNECTED {
		return nil
	}
	if err := p.nc.LastError(); err != nil {
		return fmt.Errorf("not connected to %s (%v): %w", p.cfg.Target.Server, st, err)
	}
	return fmt.Errorf("not connected to %s (%v)", p.cfg.Target.Server, st)
}
