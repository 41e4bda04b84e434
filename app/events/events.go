// Package events carries the daemon's "something waits for you" events
// (apiv1.Event: a consent link or an API-key link made for the local
// owner) to whoever listens: the desktop window, through the admin API's
// events stream. It is a small in-memory fan-out: publishing never
// blocks, a slow listener loses events rather than stalling the tool call
// that published them, and the number of listeners is bounded.
package events

import (
	"context"
	"errors"
	"sync"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

// MaxListeners bounds the listeners at a time (windows of one person).
const MaxListeners = 8

// buffer is how many events a listener may fall behind before it loses
// the newest.
const buffer = 16

// ErrTooManyListeners is returned by Listen when MaxListeners listen.
var ErrTooManyListeners = errors.New("too many event listeners")

// Hub fans events out to listeners. The zero value is not usable; use
// New. Safe for concurrent use.
type Hub struct {
	mu        sync.Mutex
	listeners map[chan apiv1.Event]struct{}
	dropped   int
}

// New returns an empty hub.
func New() *Hub { return &Hub{listeners: map[chan apiv1.Event]struct{}{}} }

// Publish hands e to every listener that has room; it never blocks.
func (h *Hub) Publish(e apiv1.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.listeners {
		select {
		case ch <- e:
		default:
			h.dropped++
		}
	}
}

// Listen returns the events published from now until ctx ends; the
// channel is closed then.
func (h *Hub) Listen(ctx context.Context) (<-chan apiv1.Event, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.listeners) >= MaxListeners {
		return nil, ErrTooManyListeners
	}
	ch := make(chan apiv1.Event, buffer)
	h.listeners[ch] = struct{}{}
	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.listeners, ch)
		close(ch)
	})
	return ch, nil
}

// Listeners is the number of listeners now.
func (h *Hub) Listeners() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.listeners)
}

// Dropped is how many deliveries were lost to full listeners.
func (h *Hub) Dropped() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dropped
}
