// This file serves the events stream (GET /api/v1/events) that the
// desktop window listens to.

package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
)

// EventSource gives the events the stream sends; *events.Hub satisfies
// it. Listen's channel closes when ctx ends.
type EventSource interface {
	Listen(ctx context.Context) (<-chan apiv1.Event, error)
}

// serveEvents streams events as Server-Sent Events until the client goes
// away (or the daemon stops): "event: waiting" with the event's JSON as
// data, and a comment line every apiv1.EventsHeartbeat. Events carry no
// secret (see apiv1.Event).
func (a *api) serveEvents(w http.ResponseWriter, r *http.Request) error {
	if a.events == nil {
		return fmt.Errorf("the events stream: %w", adminops.ErrUnsupported)
	}
	rc := http.NewResponseController(w)
	ch, err := a.events.Listen(r.Context())
	if err != nil {
		return &requestError{status: http.StatusServiceUnavailable, msg: "too many event listeners; try again later"}
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(s string) bool {
		if _, err := io.WriteString(w, s); err != nil {
			return false
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
		return true
	}
	if !send(": plexus events\n\n") {
		return nil
	}
	tick := time.NewTicker(a.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-tick.C:
			if !send(": heartbeat\n\n") {
				return nil
			}
		case e, ok := <-ch:
			if !ok {
				return nil
			}
			data, err := json.Marshal(e)
			if err != nil {
				continue
			}
			if !send("event: waiting\ndata: " + string(data) + "\n\n") {
				return nil
			}
		}
	}
}
