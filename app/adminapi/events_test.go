package adminapi_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminapi"
	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/events"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// TestEventsStream: GET /api/v1/events needs the admin token and streams
// each published event as an SSE "waiting" event; without an event
// source it is 501.
func TestEventsStream(t *testing.T) {
	hub := events.New()
	srv := httptest.NewServer(adminapi.New(adminops.New(vaulttest.New(t), adminops.Options{}),
		adminapi.Options{Tokens: []string{localToken}, Events: hub}))
	defer srv.Close()

	get := func(token string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+apiv1.EventsPath, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if r := get(""); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without the token: %d", r.StatusCode)
	}
	if r := get("wrong"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("with a wrong token: %d", r.StatusCode)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+apiv1.EventsPath, nil)
	req.Header.Set("Authorization", "Bearer "+localToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("stream: %d %v", resp.StatusCode, resp.Header)
	}
	for hub.Listeners() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	hub.Publish(apiv1.Event{Kind: apiv1.EventConsent, Tenant: "acme", Provider: "github"})
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "data: ") {
			break
		}
	}
	got := strings.Join(lines, "\n")
	if !strings.Contains(got, "event: waiting\ndata: {\"kind\":\"consent\",\"entity_id\":\"acme\",\"provider_name\":\"github\"") {
		t.Fatalf("stream said:\n%s", got)
	}
	cancel()
	for i := 0; i < 200 && hub.Listeners() != 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if hub.Listeners() != 0 {
		t.Fatal("the listener outlived its request")
	}

	plain := httptest.NewServer(adminapi.New(adminops.New(vaulttest.New(t), adminops.Options{}), adminapi.Options{Tokens: []string{localToken}}))
	defer plain.Close()
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, plain.URL+apiv1.EventsPath, nil)
	req.Header.Set("Authorization", "Bearer "+localToken)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNotImplemented {
		t.Fatalf("without an event source: %d", r.StatusCode)
	}
}
