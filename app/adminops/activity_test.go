package adminops_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

// toolList is a daemon's tool list: one tool per kind of need.
func toolList(string) []apiv1.ToolInfo {
	return []apiv1.ToolInfo{
		{Name: "plexus_whoami", ToolSets: []string{"plexus"}, Enabled: true, Source: apiv1.ToolSource{Kind: apiv1.ToolSourceBuiltIn}},
		{Name: "github_whoami", ToolSets: []string{"github"}, Enabled: true, Requires: "oauth:github",
			Credentials: []apiv1.ToolCredential{{Kind: apiv1.CredentialKindOAuth, Provider: "github"}}},
		{Name: "slack_post", ToolSets: []string{"slack"}, Enabled: true, Requires: "oauth:slack",
			Credentials: []apiv1.ToolCredential{{Kind: apiv1.CredentialKindOAuth, Provider: "slack"}}},
		{Name: "weather", ToolSets: []string{"weather"}, Enabled: true, Requires: "api_key:openweathermap",
			Credentials: []apiv1.ToolCredential{{Kind: apiv1.CredentialKindAPIKey, Provider: "openweathermap", DisplayName: "OpenWeatherMap API key"}}},
	}
}

func TestToolsOverview(t *testing.T) {
	engine := &fakeConnections{}
	s, _ := newOps(t, adminops.Options{Tools: toolList, OAuth: engine})
	ctx := t.Context()
	status := func() map[string]string {
		t.Helper()
		o, err := s.ToolsOverview(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, ts := range o.Tools {
			for _, c := range ts.CredentialStatus {
				out[ts.Name] = c.Status + "/" + c.DisplayName
			}
		}
		return out
	}
	want := map[string]string{
		"github_whoami": "missing/GitHub",
		"slack_post":    "not_set_up/Slack",
		"weather":       "missing/OpenWeatherMap API key",
	}
	if got := status(); !mapsEqual(got, want) {
		t.Fatalf("before: %v, want %v", got, want)
	}
	if _, err := s.SetAPIKey(ctx, "acme", apiv1.LocalOwner, "openweathermap", "k"); err != nil {
		t.Fatal(err)
	}
	// Alice's key is not the local owner's.
	if _, err := s.SetAPIKey(ctx, "acme", "alice", "openweathermap", "k"); err != nil {
		t.Fatal(err)
	}
	want["weather"] = "connected/OpenWeatherMap API key"
	engine.status = "connected"
	want["github_whoami"] = "connected/GitHub"
	if got := status(); !mapsEqual(got, want) {
		t.Fatalf("after saving a key and connecting: %v, want %v", got, want)
	}
	engine.status = "expired"
	want["github_whoami"] = "expired/GitHub"
	if got := status(); !mapsEqual(got, want) {
		t.Fatalf("expired: %v, want %v", got, want)
	}
	o, err := s.SetToolSetEnabled(ctx, "acme", "github", false)
	if err != nil || len(o.DisabledToolSets) != 1 {
		t.Fatal(o, err)
	}
	ov, err := s.ToolsOverview(ctx, "acme")
	if err != nil || ov.Tools[1].Enabled || !ov.Tools[0].Enabled || ov.Tools[0].Source.Kind != apiv1.ToolSourceBuiltIn {
		t.Fatalf("overview %+v, %v", ov, err)
	}
	if _, err := s.ToolsOverview(ctx, "nope"); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
}

// fakeConnections is an OAuth engine whose only connection is the local
// owner's GitHub one, in state status ("" = none).
type fakeConnections struct{ status string }

func (f *fakeConnections) Connections(_ context.Context, _, userID string) ([]oauth.Connection, error) {
	if f.status == "" || userID == "alice" {
		return nil, nil
	}
	return []oauth.Connection{{Provider: "github", Status: f.status}}, nil
}

func (f *fakeConnections) Disconnect(context.Context, oauth.Owner, string) error { return nil }

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestActivity(t *testing.T) {
	log, err := audit.Open(audit.Options{Dir: filepath.Join(t.TempDir(), "audit")})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	now := time.Now()
	s, v := newOps(t, adminops.Options{Activity: log, Now: func() time.Time { return now }})
	ctx := t.Context()
	alice, err := v.GetUser(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []audit.Call{
		{Tool: "weather", User: alice.ID, Outcome: audit.OutcomeOK, Duration: 1500 * time.Microsecond},
		{Tool: "weather", Local: true, User: "owner", Outcome: audit.OutcomeNeedsKey},
		{Tool: "github_whoami", Session: "1a2b3c4d", Outcome: audit.OutcomeToolError},
	} {
		c.Tenant, c.Time = "acme", now.Add(time.Duration(i-60)*time.Minute)
		log.Record(c)
	}
	flushCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := log.Flush(flushCtx); err != nil {
		t.Fatal(err)
	}
	r, err := s.Activity(ctx, "acme", apiv1.ActivityQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Calls) != 3 || len(r.Hours) != 24 || r.Next != "" {
		t.Fatalf("%+v", r)
	}
	if c := r.Calls[2]; c.UserName != "alice" || c.DurationMS != 1.5 || c.Outcome != "ok" {
		t.Errorf("alice's call %+v", c)
	}
	if c := r.Calls[0]; c.Session != "1a2b3c4d" || c.UserID != "" || c.Outcome != "tool_error" {
		t.Errorf("guest's call %+v", c)
	}
	total := 0
	for _, h := range r.Hours {
		total += h.Calls
	}
	if total != 3 {
		t.Errorf("hours count %d calls", total)
	}
	for _, tc := range []struct {
		q apiv1.ActivityQuery
		n int
	}{
		{apiv1.ActivityQuery{Who: "local"}, 1},
		{apiv1.ActivityQuery{Who: "guest"}, 1},
		{apiv1.ActivityQuery{Who: "user:" + alice.ID}, 1},
		{apiv1.ActivityQuery{Tool: "weather"}, 2},
		{apiv1.ActivityQuery{Outcome: "needs_key"}, 1},
	} {
		r, err := s.Activity(ctx, "acme", tc.q)
		if err != nil || len(r.Calls) != tc.n {
			t.Errorf("%+v: %d calls, %v", tc.q, len(r.Calls), err)
		}
	}
	for _, tc := range []struct {
		q     apiv1.ActivityQuery
		field string
	}{
		{apiv1.ActivityQuery{Tool: "bad name"}, "tool"},
		{apiv1.ActivityQuery{Who: "someone"}, "who"},
		{apiv1.ActivityQuery{Who: "user:"}, "who"},
		{apiv1.ActivityQuery{Outcome: "meh"}, "outcome"},
		{apiv1.ActivityQuery{Cursor: "x"}, "cursor"},
		{apiv1.ActivityQuery{Limit: 1000}, "limit"},
	} {
		_, err := s.Activity(ctx, "acme", tc.q)
		fe, ok := errors.AsType[*apiv1.FieldError](err)
		if !ok || fe.Field != tc.field || !errors.Is(err, vault.ErrInvalid) {
			t.Errorf("%+v: %v, want a field error on %s", tc.q, err, tc.field)
		}
	}
	// A call recorded just now is on the page at once (Activity flushes).
	log.Record(audit.Call{Tenant: "acme", Tool: "just_now", Time: now, Outcome: audit.OutcomeOK})
	if r, err := s.Activity(ctx, "acme", apiv1.ActivityQuery{Tool: "just_now"}); err != nil || len(r.Calls) != 1 {
		t.Errorf("a call made just before: %+v, %v", r.Calls, err)
	}
	if _, err := s.Activity(ctx, "nope", apiv1.ActivityQuery{}); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("unknown tenant: %v", err)
	}
	s2, _ := newOps(t, adminops.Options{})
	if _, err := s2.Activity(ctx, "acme", apiv1.ActivityQuery{}); !errors.Is(err, adminops.ErrUnsupported) {
		t.Errorf("without a log: %v", err)
	}
}
