package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

// Waiting follows the daemon's "something waits for you" events
// (localclient.Client.Events): it calls fn for each until ctx ends (nil)
// or the stream breaks (an error).
type Waiting func(ctx context.Context, fn func(apiv1.Event)) error

// Attention is what the window does when something waits for the person:
// come to the front, and tell them what.
type Attention interface {
	Raise()
	Notify(title, body string)
}

// Follow listens to waiting until ctx ends and, for each event, raises the
// window and sends a notification. A broken stream (the daemon restarted,
// or is locked and has no events yet) is followed again after a pause
// that grows from 1s to 30s. Nothing is shown when no window is open: the
// link is in the chat anyway.
func Follow(ctx context.Context, waiting Waiting, a Attention, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pause := time.Second
	for ctx.Err() == nil {
		started := time.Now()
		err := waiting(ctx, func(e apiv1.Event) {
			title, body := Message(e)
			log.Info("Something waits for the person at the window", "kind", e.Kind, "tenant", e.Tenant, "provider", e.Provider)
			a.Raise()
			a.Notify(title, body)
		})
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > time.Minute {
			pause = time.Second // it worked for a while: a fresh break
		}
		log.Debug("Events stream ended; following it again", "error", err, "in", pause)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		pause = min(pause*2, 30*time.Second)
	}
}

// Message says in words what waits, for a notification.
func Message(e apiv1.Event) (title, body string) {
	who := e.Client
	if who == "" {
		who = "An app"
	}
	where := ""
	if e.Tenant != "" {
		where = " (tenant " + e.Tenant + ")"
	}
	switch e.Kind {
	case apiv1.EventAPIKey:
		return who + " needs your " + e.Provider + " key",
			who + where + " asked for your " + e.Provider + " API key. Open the link in your chat to type it in Plexus."
	default:
		tool := ""
		if e.Tool != "" {
			tool = " to run " + e.Tool
		}
		return who + " wants your " + e.Provider + " account",
			who + where + " wants to use your " + e.Provider + " account" + tool + ". Open the link in your chat to approve it."
	}
}
