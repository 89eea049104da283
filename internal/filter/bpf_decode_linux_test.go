package filter

import (
	ctevents "github.com/ctwatch/ctwatch/pkg/events"
	"github.com/ctwatch/ctwatch/pkg/model"
)

// decodeMessage decodes msg with the decoder of the event socket, so that
// the programs are held to what Match sees of the same bytes.
func decodeMessage(msg []byte) (model.Event, bool, error) {
	var ev model.Event
	err := ctevents.DecodeFast(msg, &ev)
	return ev, true, err
}
