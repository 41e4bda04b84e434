package events

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

func TestHub(t *testing.T) {
	h := New()
	h.Publish(apiv1.Event{Kind: apiv1.EventConsent}) // nobody listens: nothing happens
	ctx, cancel := context.WithCancel(t.Context())
	a, err := h.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := h.Listen(t.Context())
	h.Publish(apiv1.Event{Kind: apiv1.EventConsent, Provider: "github"})
	for _, ch := range []<-chan apiv1.Event{a, b} {
		select {
		case e := <-ch:
			if e.Provider != "github" {
				t.Fatalf("got %+v", e)
			}
		case <-time.After(time.Second):
			t.Fatal("no event")
		}
	}
	cancel()
	for range 100 {
		if h.Listeners() == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok := <-a; ok || h.Listeners() != 1 {
		t.Fatal("the cancelled listener is still there")
	}
	// A listener that does not read loses events; Publish never blocks.
	done := make(chan struct{})
	go func() {
		for range buffer * 3 {
			h.Publish(apiv1.Event{Kind: apiv1.EventAPIKey})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a slow listener")
	}
	if h.Dropped() < buffer {
		t.Fatalf("dropped %d", h.Dropped())
	}
	// Bounded.
	for range MaxListeners - 1 {
		if _, err := h.Listen(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.Listen(t.Context()); !errors.Is(err, ErrTooManyListeners) {
		t.Fatalf("listener %d: %v", MaxListeners+1, err)
	}
}
