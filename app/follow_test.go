package app

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

type fakeAttention struct {
	mu     sync.Mutex
	raised int
	notes  []string
	got    chan struct{}
}

func (f *fakeAttention) Raise() { f.mu.Lock(); f.raised++; f.mu.Unlock() }
func (f *fakeAttention) Notify(title, body string) {
	f.mu.Lock()
	f.notes = append(f.notes, title+" | "+body)
	f.mu.Unlock()
	f.got <- struct{}{}
}

// TestFollow: each event raises the window and notifies; a broken stream
// is followed again; Follow ends with ctx.
func TestFollow(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	calls := 0
	waiting := func(ctx context.Context, fn func(apiv1.Event)) error {
		calls++
		if calls == 1 {
			return errors.New("plexus daemon: Plexus is locked (HTTP 503)")
		}
		fn(apiv1.Event{Kind: apiv1.EventConsent, Tenant: "personal", Provider: "github", Tool: "github_list_repos", Client: "Claude"})
		<-ctx.Done()
		return nil
	}
	a := &fakeAttention{got: make(chan struct{}, 4)}
	done := make(chan struct{})
	go func() { Follow(ctx, waiting, a, nil); close(done) }()
	select {
	case <-a.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not end with ctx")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.raised != 1 || len(a.notes) != 1 || calls != 2 {
		t.Fatalf("raised %d, notes %v, calls %d", a.raised, a.notes, calls)
	}
	if want := "Claude wants your github account | Claude (tenant personal) wants to use your github account to run github_list_repos."; !strings.HasPrefix(a.notes[0], want) {
		t.Fatalf("note %q", a.notes[0])
	}
}

func TestMessage(t *testing.T) {
	title, body := Message(apiv1.Event{Kind: apiv1.EventAPIKey, Provider: "weather"})
	if title != "An app needs your weather key" || !strings.Contains(body, "type it in Plexus") {
		t.Fatalf("%q %q", title, body)
	}
}
