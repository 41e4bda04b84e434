package ui_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/ui"
	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/vault"
)

func TestActivityEmptyState(t *testing.T) {
	f := newFixture(t, withOps(t, nil))
	b := f.browser(t)
	b.login()
	if r := b.get("/ui/activity"); !strings.Contains(r.body, "You have no tenant yet.") {
		t.Fatalf("without a tenant:\n%s", r.body)
	}
	if _, err := f.v.CreateTenant(t.Context(), vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	r := b.get("/ui/activity")
	for _, want := range []string{"No tool calls yet.", "which tool, who asked, whether it worked and how long it took",
		"connect Claude Desktop on Home", "plexus_whoami", `href="/ui/#connect"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the empty Activity page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "<svg class=\"chart\"") {
		t.Error("an empty page draws a chart")
	}
}

func TestActivityPage(t *testing.T) {
	var log *audit.Log
	f := newFixture(t, withOps(t, &log))
	ctx := t.Context()
	for _, id := range []string{"acme", "beta"} {
		if _, err := f.v.CreateTenant(ctx, vault.Tenant{ID: id, Name: strings.ToUpper(id[:1]) + id[1:]}); err != nil {
			t.Fatal(err)
		}
	}
	alice, _, err := f.v.EnsureUser(ctx, "acme", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	var calls []audit.Call
	for i := range 60 {
		calls = append(calls, audit.Call{Time: now.Add(-time.Duration(60-i) * time.Minute), Tenant: "acme", Tool: "plexus_whoami",
			User: "owner-id", Local: true, Client: "Claude", Outcome: audit.OutcomeOK, Duration: 3 * time.Millisecond})
	}
	calls = append(calls,
		audit.Call{Time: now.Add(-3 * time.Hour), Tenant: "acme", Tool: "weather", User: alice.ID, Outcome: audit.OutcomeToolError, Duration: 2500 * time.Millisecond},
		audit.Call{Time: now.Add(-2 * time.Hour), Tenant: "acme", Tool: "weather", Session: "1a2b3c4d", Outcome: audit.OutcomeNeedsKey},
		audit.Call{Time: now.Add(-time.Hour), Tenant: "acme", Tool: "gone_tool", User: "owner-id", Local: true, Outcome: audit.OutcomeProtocolError, Reason: audit.ReasonUnknownTool},
		audit.Call{Time: now.Add(-26 * time.Hour), Tenant: "acme", Tool: "weather", User: alice.ID, Outcome: audit.OutcomeOK},
		audit.Call{Time: now, Tenant: "beta", Tool: "beta_secret_tool", Outcome: audit.OutcomeOK},
	)
	record(t, log, calls...)

	b := f.browser(t)
	b.login()
	r := b.get("/ui/activity")
	if r.status != http.StatusOK {
		t.Fatalf("%d\n%s", r.status, r.body)
	}
	// The chart: 24 bars, each with a <title>, drawn without style
	// attributes (the CSP forbids them); the summary in words.
	if n := strings.Count(r.body, `<g class="bar"`); n != 24 {
		t.Errorf("%d bars, want 24", n)
	}
	if n := len(regexp.MustCompile(`<g class="bar" role="img" aria-label="[^"]+"><title>[^<]+ to [^<]+: [^<]+</title>`).FindAllString(r.body, -1)); n != 24 {
		t.Errorf("%d bars with a title, want 24", n)
	}
	if styleAttrRE.MatchString(r.body) || strings.Contains(r.body, "<script>") || strings.Contains(r.body, "<style") {
		t.Error("the page has a style attribute, a style element or an inline script")
	}
	if !strings.Contains(r.body, "63 calls in the last 24 hours; 2 of them failed (3%).") || !strings.Contains(r.body, `class="bar-errors"`) {
		t.Errorf("chart summary or error bars missing:\n%s", r.body)
	}
	// The list: newest first, 50 a page, in words.
	for _, want := range []string{"You (this computer)", "via Claude", "alice@example.com", "Guest", "session 1a2b3c4d",
		"Tool error", "Needs key", "Failed", "No such tool, or switched off", "2.5 s", "3 ms", "Older calls →"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "beta_secret_tool") {
		t.Error("another tenant's call is shown")
	}
	if n := strings.Count(r.body, "<tr data-tool="); n != 50 {
		t.Errorf("%d rows on the first page, want 50", n)
	}
	older := regexp.MustCompile(`href="(/ui/activity\?before=[^"]+)"`).FindStringSubmatch(r.body)
	if older == nil {
		t.Fatal("no link to older calls")
	}
	r = b.get(strings.ReplaceAll(older[1], "&amp;", "&"))
	if n := strings.Count(r.body, "<tr data-tool="); n != 14 || strings.Contains(r.body, "Older calls") || !strings.Contains(r.body, "← Newest calls") {
		t.Errorf("second page: %d rows\n%s", n, r.body)
	}
	// Filters: by tool, person, result; the chart follows them.
	for _, tc := range []struct {
		query string
		rows  int
		want  string
	}{
		{"?tool=weather", 3, "2 calls matching these filters in the last 24 hours; 1 of them failed (50%)."},
		{"?who=guest", 1, "session 1a2b3c4d"},
		{"?who=user:" + alice.ID, 2, "alice@example.com"},
		{"?who=local&outcome=protocol_error", 1, "gone_tool"},
		{"?outcome=needs_consent", 0, "No calls match these filters."},
		// Bad values are ignored, never an error.
		{"?tool=bad%20name&who=nobody&outcome=meh&before=../../etc", 50, "Older calls"},
	} {
		r := b.get("/ui/activity" + tc.query)
		if r.status != http.StatusOK || strings.Count(r.body, "<tr data-tool=") != tc.rows || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s: %d, %d rows, want %d with %q", tc.query, r.status, strings.Count(r.body, "<tr data-tool="), tc.rows, tc.want)
		}
	}
	r = b.get("/ui/activity?tool=weather&who=user:" + alice.ID)
	for _, want := range []string{`<option value="weather" selected>`, `<option value="user:` + alice.ID + `" selected>alice@example.com</option>`,
		`<option value="guest">Guests</option>`, `<option value="needs_key">Needs key</option>`, `href="/ui/activity">Clear filters`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the filter form lacks %q", want)
		}
	}
}

// fakeActivity answers with a fixed response.
type fakeActivity struct {
	res      apiv1.ActivityResponse
	auditErr error
}

func (f fakeActivity) Activity(context.Context, string, apiv1.ActivityQuery) (apiv1.ActivityResponse, error) {
	return f.res, nil
}

func (fakeActivity) ListUsers(context.Context, string) ([]apiv1.User, error) { return nil, nil }

func (f fakeActivity) Audit(context.Context, apiv1.AuditQuery) (apiv1.AuditResponse, error) {
	return apiv1.AuditResponse{}, f.auditErr
}

// TestActivityChanges: under the calls, the page lists the newest
// changes and sign-ins of every kind, in words, newest first, and never a
// tool call among them.
func TestActivityChanges(t *testing.T) {
	var log *audit.Log
	f := newFixture(t, withOps(t, &log))
	if _, err := f.v.CreateTenant(t.Context(), vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	owner, err := f.v.EnsureLocalOwner(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	b := f.browser(t)
	b.login()
	now := f.clock.Now()
	at := func(min int) time.Time { return now.Add(-time.Duration(min) * time.Minute) }
	var calls []audit.Call
	for i := range 30 { // more than the list shows: only the newest 20
		calls = append(calls, audit.Call{Kind: audit.KindAdmin, Time: at(100 + i), Actor: "ui", Action: "POST /ui/tenants", Outcome: audit.OutcomeOK})
	}
	calls = append(calls,
		audit.Call{Kind: audit.KindAdmin, Time: at(1), Actor: "ui", Action: "POST /ui/providers/github/delete", Outcome: audit.OutcomeOK},
		audit.Call{Kind: audit.KindAdmin, Time: at(2), Actor: "admin_token", Action: "DELETE /api/v1/tenants/{id}", Target: "id=old", Tenant: "old", Outcome: audit.OutcomeFailed},
		audit.Call{Kind: audit.KindCredential, Time: at(3), Actor: "vault", Tenant: "acme", User: owner.ID, Action: "credential_changed", Target: "api_key/weather", Outcome: audit.OutcomeOK},
		audit.Call{Kind: audit.KindLogin, Time: at(4), Actor: "link", Action: "ui_login_link", Outcome: audit.OutcomeDenied, Reason: "bad_link"},
		audit.Call{Kind: audit.KindLogin, Time: at(6), Actor: "unlock_page", Action: "unlock_passphrase", Outcome: audit.OutcomeDenied, Reason: "wrong_passphrase"},
		audit.Call{Kind: audit.KindAdmin, Time: at(8), Actor: "ui", Action: "POST /ui/tenants", Outcome: audit.OutcomeDenied},
		audit.Call{Kind: audit.KindLogin, Time: at(7), Actor: "audit", Action: "not_recorded", Outcome: audit.OutcomeDenied, Target: "480 refused or failed requests"},
		audit.Call{Kind: audit.KindToolCall, Time: at(5), Tenant: "acme", Tool: "plexus_whoami", Local: true, Outcome: audit.OutcomeOK},
	)
	record(t, log, calls...)
	r := b.get("/ui/activity")
	wantStatus(t, "activity", r, http.StatusOK)
	wantIn(t, "changes", r.body, "Changes and sign-ins",
		"Remove OAuth provider github", "You, in this window",
		"Delete tenant old", "An admin API client", "tenant old",
		"Stored or removed an API key for weather", "tenant acme", "You (this computer)",
		"Open this window with a sign-in link", "Unlock Plexus with its passphrase", "The unlock page", "Someone not signed in to this window",
		"Too many refused requests to keep one by one: 480 refused or failed requests", "Refused", "Failed")
	list := r.body[strings.Index(r.body, "Changes and sign-ins"):]
	if n := strings.Count(list, "<tr>"); n != 20+1 { // 20 rows and the head
		t.Errorf("%d rows in the changes list, want 20\n%s", n, list)
	}
	if strings.Contains(list, vault.LocalOwnerHostUserID) {
		t.Error("the local owner is named by its id")
	}
	if strings.Contains(list, "plexus_whoami") {
		t.Error("a tool call is listed among the changes")
	}
	if i, j := strings.Index(list, "Remove OAuth provider github"), strings.Index(list, "sign-in link"); i < 0 || j < i {
		t.Error("the changes are not newest first")
	}
}

func TestActivityNotRecordedNotice(t *testing.T) {
	now := time.Now()
	res := apiv1.ActivityResponse{NotRecorded: 12, Calls: []apiv1.ActivityCall{{Time: now, Tool: "t", Outcome: "ok", Local: true}}}
	for i := range 24 {
		res.Hours = append(res.Hours, apiv1.ActivityHour{Start: now.Truncate(time.Hour).Add(time.Duration(i-23) * time.Hour)})
	}
	res.Hours[23].Calls = 1
	// The changes cannot be read: the page shows the calls without them.
	f := newFixture(t, func(o *ui.Options) { o.Activity = fakeActivity{res: res, auditErr: errors.New("disk stuck")} })
	if _, err := f.v.CreateTenant(t.Context(), vault.Tenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	b := f.browser(t)
	b.login()
	r := b.get("/ui/activity")
	if r.status != http.StatusOK || strings.Contains(r.body, "Changes and sign-ins") {
		t.Errorf("with the changes unreadable: %d", r.status)
	}
	if !strings.Contains(r.body, "12 calls since Plexus started are missing here") {
		t.Errorf("no notice:\n%s", r.body)
	}
	if !strings.Contains(r.body, fmt.Sprintf("%s to now: 1 call, no errors", now.Truncate(time.Hour).Format("15:04"))) {
		t.Errorf("the current hour's title is wrong")
	}
}
