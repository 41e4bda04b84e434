package mcpserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/mcpserver/examples"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// activityEnv is a credEnv whose calls go to a real audit.Log in a temp
// directory, with two more tools: one that fails, one that panics.
func activityEnv(t *testing.T) (*credEnv, *audit.Log, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "audit")
	log, err := audit.Open(audit.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	ce := newCredEnv(t, nil, WithCallRecorder(log))
	for _, tl := range []tools.Tool{
		{Definition: mcp.NewTool("always_fails", mcp.WithString("q")), Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultError("it failed"), nil
		}},
		{Definition: mcp.NewTool("panics"), Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			panic("boom")
		}},
	} {
		if err := ce.srv.registry.Register(tl); err != nil {
			t.Fatal(err)
		}
	}
	ce.start() // rebuild tenant servers with the extra tools
	return ce, log, dir
}

func flushLog(t *testing.T, l *audit.Log) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCallsAreRecorded: every tools/call ends in one record saying who
// called what and how it ended; arguments are stored masked (a value
// under a secret-named key never reaches the file); a guest is named by
// its session fingerprint, never its session id.
func TestCallsAreRecorded(t *testing.T) {
	ce, log, dir := activityEnv(t)
	ctx := t.Context()
	const secretArg = "SECRET-ARGUMENT-canary-6a2f"
	aliceID, aliceTok := ce.user("acme", "alice")
	alice := caller{tenant: "acme", token: aliceTok, sid: ce.initialize("acme", aliceTok)}
	guestSID := ce.initialize("acme", "")
	guest := caller{tenant: "acme", sid: guestSID}
	local := caller{tenant: "acme", token: localToken}

	toolText(t, ce.callAs(alice, tools.WhoamiName, ""))                        // ok
	toolText(t, ce.callAs(alice, "always_fails", `{"token":"`+secretArg+`"}`)) // tool error
	credResult(t, ce.callAs(guest, examples.WeatherName, `{"city":"Paris"}`))  // needs key
	credResult(t, ce.callAs(local, examples.GitHubWhoamiName, ""))             // needs consent
	wantRPCError(t, ce.callAs(alice, "panics", ""), 200, "panic")              // protocol error
	wantRPCError(t, ce.callAs(alice, "no_such_tool", ""), 200, "not found")    // unknown
	if _, err := ce.v.GetToolSettings(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if err := ce.v.PutToolSettings(ctx, "acme", vault.ToolSettings{DisabledTools: []string{tools.WhoamiName}}); err != nil {
		t.Fatal(err)
	}
	wantRPCError(t, ce.callAs(alice, tools.WhoamiName, ""), 200, "not found") // switched off
	toolText(t, ce.callAs(caller{tenant: "beta", token: localToken}, "always_fails", ""))
	flushLog(t, log)

	p, err := log.Query(ctx, audit.Query{Tenant: "acme", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		tool    string
		outcome audit.Outcome
		user    string
		local   bool
		guest   bool
		reason  string
	}
	want := []rec{
		{tools.WhoamiName, audit.OutcomeProtocolError, aliceID, false, false, audit.ReasonUnknownTool},
		{"no_such_tool", audit.OutcomeProtocolError, aliceID, false, false, audit.ReasonUnknownTool},
		{"panics", audit.OutcomeProtocolError, aliceID, false, false, ""},
		{examples.GitHubWhoamiName, audit.OutcomeNeedsConsent, "", true, false, ""},
		{examples.WeatherName, audit.OutcomeNeedsKey, "", false, true, ""},
		{"always_fails", audit.OutcomeToolError, aliceID, false, false, ""},
		{tools.WhoamiName, audit.OutcomeOK, aliceID, false, false, ""},
	}
	if len(p.Calls) != len(want) {
		t.Fatalf("%d calls recorded, want %d: %+v", len(p.Calls), len(want), p.Calls)
	}
	for i, w := range want {
		c := p.Calls[i]
		client := "test"
		if w.local {
			client = "" // a stateless call names no client
		}
		if c.Tool != w.tool || c.Outcome != w.outcome || c.Local != w.local || c.Reason != w.reason || c.Client != client ||
			(!w.local && c.User != w.user) || (w.local && c.User == "") || (w.guest != (c.User == "")) {
			t.Errorf("call %d = %+v, want %+v", i, c, w)
		}
		if c.Time.IsZero() || c.Duration < 0 {
			t.Errorf("call %d: time %v, duration %v", i, c.Time, c.Duration)
		}
	}
	if g := p.Calls[4]; g.Session != tools.SessionFingerprint(guestSID) || g.ArgsBytes != len(`{"city":"Paris"}`) ||
		string(g.Args) != `{"city":"Paris"}` {
		t.Errorf("guest call = %+v (args %s)", g, g.Args)
	}
	if f := p.Calls[5]; string(f.Args) != `{"token":"[masked]"}` {
		t.Errorf("masked args = %s", f.Args)
	}
	if p, _ := log.Query(ctx, audit.Query{Tenant: "beta"}); len(p.Calls) != 1 {
		t.Errorf("beta has %d calls, want 1", len(p.Calls))
	}

	// The stored bytes hold no argument, session id or token.
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("audit dir: %v %v", ents, err)
	}
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{secretArg, guestSID, alice.sid, aliceTok, localToken} {
			if bytes.Contains(raw, []byte(s)) {
				t.Errorf("%s holds %q", e.Name(), s)
			}
		}
	}
}

// TestFullQueueDoesNotSlowCalls: with the audit log's writer unable to
// keep up (its queue full), calls still answer, and the drops are counted.
func TestFullQueueDoesNotSlowCalls(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	log, err := audit.Open(audit.Options{Dir: dir, QueueSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	// Fill the queue and keep it full: the writer may take one item, so
	// top it up right before each call.
	e := newEnv(t, WithCallRecorder(log))
	sid := e.initialize("acme", localToken)
	for range 50 {
		for log.Record(audit.Call{Tenant: "filler"}) {
		}
		whoami(t, e.legacyCall("acme", localToken, sid, tools.WhoamiName, ""))
	}
	if st := log.Stats(); st.Dropped == 0 {
		t.Fatalf("stats %+v: nothing was dropped", st)
	}
}

func TestOutcomeOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  *mcp.CallToolResult
		err  error
		want audit.Outcome
	}{
		{"ok", mcp.NewToolResultText("x"), nil, audit.OutcomeOK},
		{"tool error", mcp.NewToolResultError("x"), nil, audit.OutcomeToolError},
		{"go error", nil, errors.New("x"), audit.OutcomeProtocolError},
		{"no result", nil, nil, audit.OutcomeProtocolError},
		{"consent", authResult("github", "http://x"), nil, audit.OutcomeNeedsConsent},
		{"sign in", signInResult(tools.Caller{TenantID: "acme"}, "github"), nil, audit.OutcomeNeedsConsent},
		{"key", credentialToolResult(CredentialResult{Error: ResultAPIKeyRequired}), nil, audit.OutcomeNeedsKey},
	} {
		if got := outcomeOf(tc.res, tc.err); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if b, n := argsJSON(map[string]any{"a": strings.Repeat("x", 10)}); n != len(`{"a":"xxxxxxxxxx"}`) || string(b) != `{"a":"xxxxxxxxxx"}` {
		t.Errorf("argsJSON = %s, %d", b, n)
	}
	if b, n := argsJSON(map[string]any{"a": strings.Repeat("x", audit.MaxRawArgsBytes)}); b != nil || n != audit.MaxRawArgsBytes+8 {
		t.Errorf("argsJSON of long args = %d bytes, %d", len(b), n)
	}
}

// BenchmarkRecordingCost compares tools/call on two servers over the same
// vault, one recording every call in an audit.Log, alternately in chunks
// of 50 calls on one connection each, and reports the ratio of their
// times (recorded/plain; 1 = no cost):
//
//	go test -run '^$' -bench RecordingCost -benchtime 4000x ./mcpserver/
//
// The args variant calls with arguments (kept by the recorder, masked by
// the writer against the vault's secrets, off the call's goroutine).
func BenchmarkRecordingCost(b *testing.B) {
	b.Run("no-args", func(b *testing.B) { benchRecording(b, tools.WhoamiName, `{}`) })
	b.Run("args", func(b *testing.B) {
		benchRecording(b, examples.WeatherName, `{"city":"Paris sk-bench-secret-0123456789 and more words to scan"}`)
	})
}

func benchRecording(b *testing.B, tool, args string) {
	v := vaulttest.New(b)
	if _, err := v.CreateTenant(b.Context(), vault.Tenant{ID: "acme", Name: "acme"}); err != nil {
		b.Fatal(err)
	}
	owner, err := v.EnsureLocalOwner(b.Context(), "acme")
	if err != nil {
		b.Fatal(err)
	}
	if err := v.PutCredential(b.Context(), "acme", owner.ID, vault.CredentialAPIKey, "other", []byte("sk-bench-secret-0123456789")); err != nil {
		b.Fatal(err)
	}
	secrets := func(ctx context.Context) audit.Secrets {
		set, err := v.Secrets(ctx)
		if err != nil {
			b.Error(err)
		}
		return set
	}
	log, err := audit.Open(audit.Options{Dir: filepath.Join(b.TempDir(), "audit"), Secrets: secrets})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { log.Close() })
	serve := func(opts ...Option) func() {
		mux := http.NewServeMux()
		New(v, append([]Option{WithLocalToken(localToken)}, opts...)...).Routes(mux)
		hs := httptest.NewServer(mux)
		b.Cleanup(hs.Close)
		body := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `,` + modernMeta + `}}`
		return func() {
			hr, _ := http.NewRequest(http.MethodPost, hs.URL+"/acme/mcp", strings.NewReader(body))
			hr.Header.Set("Content-Type", "application/json")
			hr.Header.Set("Accept", "application/json, text/event-stream")
			hr.Header.Set("Authorization", "Bearer "+localToken)
			hr.Header.Set("Mcp-Protocol-Version", modern)
			hr.Header.Set("Mcp-Method", "tools/call")
			hr.Header.Set("Mcp-Name", tool)
			resp, err := hs.Client().Do(hr)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	plain, recorded := serve(), serve(WithCallRecorder(log))
	plain()
	recorded()
	var tp, tr time.Duration
	for i := 0; i < b.N; i += 100 {
		start := time.Now()
		for range 50 {
			plain()
		}
		tp += time.Since(start)
		start = time.Now()
		for range 50 {
			recorded()
		}
		tr += time.Since(start)
	}
	b.ReportMetric(float64(tr)/float64(tp), "recorded/plain")
	b.ReportMetric(float64(tp.Nanoseconds())/float64(b.N/2), "plain-ns/call")
	b.ReportMetric(float64(tr.Nanoseconds())/float64(b.N/2), "recorded-ns/call")
	if err := log.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if st := log.Stats(); st.Dropped != 0 {
		b.Errorf("dropped %d calls", st.Dropped)
	}
}

// BenchmarkRecordMiddleware is what recording adds to one call, without
// the HTTP path around it: the outermost middleware's bookkeeping and the
// queueing (the writer runs on its own goroutine, so this is the call's
// share).
func BenchmarkRecordMiddleware(b *testing.B) {
	log, err := audit.Open(audit.Options{Dir: filepath.Join(b.TempDir(), "audit"), QueueSize: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { log.Close() })
	s := &Server{now: time.Now, recorder: log}
	h := s.observeToolCalls("acme")(func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("ok"), nil
	})
	ctx := tools.WithCaller(b.Context(), tools.Caller{TenantID: "acme", UserID: "u", Local: true})
	req := mcp.CallToolRequest{}
	req.Params.Name = tools.WhoamiName
	req.Params.Arguments = map[string]any{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
