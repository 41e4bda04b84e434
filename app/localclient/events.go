// This file holds Client's reader of the daemon's events stream, which
// the desktop window follows.

package localclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

// maxEventLine bounds one line of the events stream.
const maxEventLine = 64 << 10

// ErrStreamStalled is returned by Events when the stream went quiet for
// three heartbeats (a daemon that stopped answering without closing).
var ErrStreamStalled = errors.New("the events stream went quiet")

// Events follows the daemon's events stream (GET /api/v1/events) and
// calls fn for each event, until ctx ends (nil) or the stream breaks (an
// error; the caller connects again). A locked daemon answers 503: an
// *APIError.
func (c *Client) Events(ctx context.Context, fn func(apiv1.Event)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.BaseURL, "/")+apiv1.EventsPath, nil)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	// The same transport (with its identity check), without the client's
	// overall timeout: the stream is meant to stay open.
	hc := &http.Client{}
	if c.HTTP != nil {
		hc.Transport = c.HTTP.Transport
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("events: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxEventLine))
		return apiError(resp.StatusCode, data)
	}
	// A stream quiet for three heartbeats is dead.
	watchdog := time.AfterFunc(3*apiv1.EventsHeartbeat, func() { cancel(ErrStreamStalled) })
	defer watchdog.Stop()
	err = readEvents(resp.Body, func() { watchdog.Reset(3 * apiv1.EventsHeartbeat) }, fn)
	switch {
	case errors.Is(context.Cause(ctx), ErrStreamStalled):
		return ErrStreamStalled
	case ctx.Err() != nil:
		return nil
	case err == nil:
		return errors.New("events: the daemon closed the stream")
	}
	return fmt.Errorf("events: %w", err)
}

// readEvents parses a Server-Sent Events stream: blocks of "field: value"
// lines ended by a blank line; it calls fn for each "waiting" event whose
// data is an apiv1.Event, and alive for every line. Comments, other
// events, unknown fields and data that does not decode are skipped. It
// returns at the end of r (nil) or on a read error or an overlong line.
func readEvents(r io.Reader, alive func(), fn func(apiv1.Event)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxEventLine)
	var event string
	var data strings.Builder
	for sc.Scan() {
		if alive != nil {
			alive()
		}
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			if event == "waiting" && data.Len() > 0 {
				var e apiv1.Event
				if json.Unmarshal([]byte(data.String()), &e) == nil && e.Kind != "" {
					fn(e)
				}
			}
			event = ""
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			event = value
		case "data":
			if data.Len()+len(value) > maxEventLine {
				return errors.New("event data too large")
			}
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
	return sc.Err()
}
