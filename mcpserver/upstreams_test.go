//go:build unix

package mcpserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/mcpserver/upstream"
	"github.com/plexus-mcp/plexus/mcpserver/upstream/upstreamtest"
	"github.com/plexus-mcp/plexus/vault"
)

// upstreamOptions runs stdio upstreams under the test binary as guard.
func upstreamOptions(t *testing.T) Option {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return WithUpstreams(UpstreamOptions{
		BaseEnv:      upstream.BaseEnv(os.Getenv),
		Guard:        []string{exe, upstream.GuardCommand},
		ListWait:     20 * time.Second,
		StartTimeout: 30 * time.Second,
	})
}

// newUpstreamEnv is newEnv serving upstreams; they stop when the test
// ends (before the test's own servers close: cleanups run last first).
func newUpstreamEnv(t *testing.T, opts ...Option) *env {
	t.Helper()
	e := newEnv(t, append([]Option{upstreamOptions(t)}, opts...)...)
	t.Cleanup(e.srv.closeUpstreams)
	return e
}

// testUpstream is the record of the test upstream (package upstreamtest)
// as tenant's upstream name.
func testUpstream(t *testing.T, tenant, name string, creds ...vault.UpstreamCredential) vault.Upstream {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return vault.Upstream{TenantID: tenant, Name: name, Transport: vault.UpstreamStdio, Command: exe,
		Args: []string{upstreamtest.ServeCmd}, Credentials: creds}
}

func (e *env) addUpstream(u vault.Upstream) {
	e.t.Helper()
	if _, err := e.v.CreateUpstream(e.t.Context(), u); err != nil {
		e.t.Fatalf("create upstream: %v", err)
	}
}

// mcpClient is an mcp-go client of tenant with token, on 2025-11-25 (GET
// stream open) or 2026-07-28; notifications it gets go to notes.
type mcpClient struct {
	*client.Client
	mu    sync.Mutex
	notes []mcp.JSONRPCNotification
}

func (e *env) client(tenant, token, era string) *mcpClient {
	e.t.Helper()
	opts := []transport.StreamableHTTPCOption{transport.WithHTTPLogger(slog.New(slog.DiscardHandler))}
	if token != "" {
		opts = append(opts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	}
	if era == legacy {
		//lint:ignore SA1019 a 2025-11-25 client hears list_changed on its GET stream
		opts = append(opts, transport.WithContinuousListening())
	}
	tr, err := transport.NewStreamableHTTP(e.url(tenant), opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	c := &mcpClient{Client: client.NewClient(tr, client.WithProtocolVersion(era))}
	if err := c.Start(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		c.mu.Lock()
		c.notes = append(c.notes, n)
		c.mu.Unlock()
	})
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = era
	req.Params.ClientInfo = mcp.Implementation{Name: "upstream-test", Version: "1"}
	if _, err := c.Initialize(e.t.Context(), req); err != nil {
		e.t.Fatalf("initialize: %v", err)
	}
	return c
}

// notesOf returns the notifications received so far with method.
func (c *mcpClient) notesOf(method string) []mcp.JSONRPCNotification {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []mcp.JSONRPCNotification
	for _, n := range c.notes {
		if n.Method == method {
			out = append(out, n)
		}
	}
	return out
}

// waitNote waits for a notification with method.
func (c *mcpClient) waitNote(t *testing.T, method string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(c.notesOf(method)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d %s notifications, want %d", len(c.notesOf(method)), method, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *mcpClient) toolNames(t *testing.T) []string {
	t.Helper()
	res, err := c.ListTools(t.Context(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, x := range res.Tools {
		names = append(names, x.Name)
	}
	slices.Sort(names)
	return names
}

// call calls tool and returns its first text and whether it is an error.
func (c *mcpClient) call(t *testing.T, tool string, args map[string]any) (string, bool) {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	res, err := c.CallTool(t.Context(), req)
	if err != nil {
		t.Fatalf("tools/call %s: %v", tool, err)
	}
	if len(res.Content) == 0 {
		t.Fatalf("tools/call %s: no content", tool)
	}
	tc, _ := res.Content[0].(mcp.TextContent)
	return tc.Text, res.IsError
}

// TestUpstreamItemsAndForwarding (issue 11, line 1): an upstream's tools,
// resources, resource templates and prompts appear as {name}__{item};
// calls are forwarded with results, progress and log notifications,
// cancellation and errors; in both protocol eras.
func TestUpstreamItemsAndForwarding(t *testing.T) {
	e := newUpstreamEnv(t)
	e.addUpstream(testUpstream(t, "acme", "test"))
	for _, era := range []string{legacy, modern} {
		t.Run(era, func(t *testing.T) {
			c := e.client("acme", localToken, era)
			names := c.toolNames(t)
			for _, want := range []string{"plexus_whoami", "test__echo", "test__progress", "test__log"} {
				if !slices.Contains(names, want) {
					t.Fatalf("tools/list %v lacks %s", names, want)
				}
			}
			if text, isErr := c.call(t, "test__echo", map[string]any{"message": "hello " + era}); isErr || text != "hello "+era {
				t.Fatalf("echo = %q %v", text, isErr)
			}
			if text, isErr := c.call(t, "test__fail", nil); !isErr || text != "it failed" {
				t.Fatalf("fail = %q %v", text, isErr)
			}
			req := mcp.CallToolRequest{}
			req.Params.Name = "test__rpc_error"
			if _, err := c.CallTool(t.Context(), req); err == nil || !strings.Contains(err.Error(), "upstream broke") {
				t.Fatalf("rpc_error: %v", err)
			}

			// Resources, templates, prompts.
			rl, err := c.ListResources(t.Context(), mcp.ListResourcesRequest{})
			if err != nil || len(rl.Resources) != 1 || rl.Resources[0].URI != "test__test://static/one" {
				t.Fatalf("resources/list = %+v, %v", rl, err)
			}
			rr := mcp.ReadResourceRequest{}
			rr.Params.URI = "test__test://static/one"
			rres, err := c.ReadResource(t.Context(), rr)
			if err != nil || rres.Contents[0].(mcp.TextResourceContents).Text != "one" || rres.Contents[0].(mcp.TextResourceContents).URI != rr.Params.URI {
				t.Fatalf("resources/read = %+v, %v", rres, err)
			}
			tl, err := c.ListResourceTemplates(t.Context(), mcp.ListResourceTemplatesRequest{})
			if err != nil || len(tl.ResourceTemplates) != 1 || tl.ResourceTemplates[0].URITemplate.Raw() != "test__test://item/{id}" {
				t.Fatalf("templates = %+v, %v", tl, err)
			}
			rr.Params.URI = "test__test://item/7"
			rres, err = c.ReadResource(t.Context(), rr)
			if err != nil || rres.Contents[0].(mcp.TextResourceContents).Text != "item test://item/7" {
				t.Fatalf("template read = %+v, %v", rres, err)
			}
			pl, err := c.ListPrompts(t.Context(), mcp.ListPromptsRequest{})
			if err != nil || len(pl.Prompts) != 1 || pl.Prompts[0].Name != "test__greet" {
				t.Fatalf("prompts/list = %+v, %v", pl, err)
			}
			pr := mcp.GetPromptRequest{}
			pr.Params.Name = "test__greet"
			pr.Params.Arguments = map[string]string{"name": "ann"}
			pres, err := c.GetPrompt(t.Context(), pr)
			if err != nil || pres.Messages[0].Content.(mcp.TextContent).Text != "hello ann" {
				t.Fatalf("prompts/get = %+v, %v", pres, err)
			}

			// Progress, under the client's own token.
			req = mcp.CallToolRequest{}
			req.Params.Name = "test__progress"
			req.Params.Arguments = map[string]any{"steps": 3}
			req.Params.Meta = &mcp.Meta{ProgressToken: "tok-" + era}
			if _, err := c.CallTool(t.Context(), req); err != nil {
				t.Fatal(err)
			}
			c.waitNote(t, "notifications/progress", 3)
			for _, n := range c.notesOf("notifications/progress") {
				if n.Params.AdditionalFields["progressToken"] != "tok-"+era {
					t.Fatalf("progress with token %v", n.Params.AdditionalFields["progressToken"])
				}
			}

			// Log messages of the upstream reach the calling client.
			if era == legacy {
				//lint:ignore SA1019 a 2025-11-25 session sets its level once
				if err := c.SetLevel(t.Context(), mcp.SetLevelRequest{Params: mcp.SetLevelParams{Level: mcp.LoggingLevelInfo}}); err != nil {
					t.Fatal(err)
				}
			} else {
				// The level travels in each request's _meta.
				//lint:ignore SA1019 a 2026-07-28 client records the level locally
				_ = c.SetLevel(t.Context(), mcp.SetLevelRequest{Params: mcp.SetLevelParams{Level: mcp.LoggingLevelInfo}})
			}
			if _, isErr := c.call(t, "test__log", map[string]any{"message": "careful " + era}); isErr {
				t.Fatal("log failed")
			}
			c.waitNote(t, "notifications/message", 1)
			if d := c.notesOf("notifications/message")[0].Params.AdditionalFields["data"]; d != "careful "+era {
				t.Fatalf("log data %v", d)
			}
		})
	}
}

// TestUpstreamCancellation: a client's cancellation reaches the upstream.
func TestUpstreamCancellation(t *testing.T) {
	e := newUpstreamEnv(t)
	e.addUpstream(testUpstream(t, "acme", "test"))
	c := e.client("acme", localToken, legacy)
	c.call(t, "test__echo", map[string]any{"message": "warm"})
	mark := filepath.Join(t.TempDir(), "mark")
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = "test__wait"
	req.Params.Arguments = map[string]any{"mark": mark}
	if _, err := c.CallTool(ctx, req); err == nil {
		t.Fatal("wait returned")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(mark); string(b) == "cancelled" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the upstream's handler was not cancelled")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUpstreamSharedProcess (line 2): one process per upstream per
// tenant, whatever the number of sessions and eras; another tenant gets
// its own.
func TestUpstreamSharedProcess(t *testing.T) {
	e := newUpstreamEnv(t)
	e.addUpstream(testUpstream(t, "acme", "test"))
	e.addUpstream(testUpstream(t, "beta", "test"))
	pids := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 20 {
		era := legacy
		if i%2 == 1 {
			era = modern
		}
		c := e.client("acme", localToken, era)
		wg.Go(func() {
			text, _ := c.call(t, "test__pid", nil)
			mu.Lock()
			pids[text] = true
			mu.Unlock()
		})
	}
	_, tok := e.user("acme", "alice")
	alice := e.client("acme", tok, legacy)
	wg.Wait()
	text, _ := alice.call(t, "test__pid", nil)
	pids[text] = true
	if len(pids) != 1 {
		t.Fatalf("21 sessions ran in processes %v, want one", pids)
	}
	beta, _ := e.client("beta", localToken, legacy).call(t, "test__pid", nil)
	if pids[beta] {
		t.Fatalf("tenant beta shares acme's process %s", beta)
	}
	st, ok := e.srv.UpstreamState(t.Context(), "acme", "test", 0)
	if !ok || len(st.Instances) != 1 || st.Instances[0].Owner != "" || st.Instances[0].Starts != 1 || !st.Listed || st.Tools < 10 {
		t.Fatalf("state = %+v", st)
	}
}

// TestUpstreamRuntimeChanges (line 10): adding, changing and removing an
// upstream take effect without a restart and connected clients get
// list_changed; a removed upstream's process is gone.
func TestUpstreamRuntimeChanges(t *testing.T) {
	e := newUpstreamEnv(t)
	c := e.client("acme", localToken, legacy)
	if names := c.toolNames(t); slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "test__") }) {
		t.Fatalf("tools before any upstream: %v", names)
	}
	e.addUpstream(testUpstream(t, "acme", "test"))
	c.waitNote(t, string(mcp.MethodNotificationToolsListChanged), 1)
	if !slices.Contains(c.toolNames(t), "test__echo") {
		t.Fatal("no test__echo after the upstream was added")
	}
	pid, _ := strconv.Atoi(first(c.call(t, "test__pid", nil)))

	// The upstream's own list_changed comes through.
	before := len(c.notesOf(string(mcp.MethodNotificationToolsListChanged)))
	c.call(t, "test__add_tool", map[string]any{"name": "fresh"})
	c.waitNote(t, string(mcp.MethodNotificationToolsListChanged), before+1)
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(c.toolNames(t), "test__fresh") {
		if time.Now().After(deadline) {
			t.Fatal("test__fresh not listed")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Changed: restarted with the new settings.
	u := testUpstream(t, "acme", "test")
	u.Env = map[string]string{"CHANGED": "yes"}
	if _, err := e.v.UpdateUpstream(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if left := upstreamtest.WaitGone(10*time.Second, pid); len(left) > 0 {
		t.Fatalf("old process %d still runs after the change", pid)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		if env, _ := c.call(t, "test__env", nil); strings.Contains(env, "CHANGED=yes") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("changed settings not applied")
		}
		time.Sleep(50 * time.Millisecond)
	}
	pid, _ = strconv.Atoi(first(c.call(t, "test__pid", nil)))

	// Removed: items leave, clients hear it, the process stops.
	before = len(c.notesOf(string(mcp.MethodNotificationToolsListChanged)))
	if err := e.v.DeleteUpstream(t.Context(), "acme", "test"); err != nil {
		t.Fatal(err)
	}
	c.waitNote(t, string(mcp.MethodNotificationToolsListChanged), before+1)
	if left := upstreamtest.WaitGone(10*time.Second, pid); len(left) > 0 {
		t.Fatalf("process %d still runs after removal", pid)
	}
	if names := c.toolNames(t); slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "test__") }) {
		t.Fatalf("tools after removal: %v", names)
	}
	rl, err := c.ListResources(t.Context(), mcp.ListResourcesRequest{})
	if err != nil || len(rl.Resources) != 0 {
		t.Fatalf("resources after removal: %+v %v", rl, err)
	}
	tl, err := c.ListResourceTemplates(t.Context(), mcp.ListResourceTemplatesRequest{})
	if err != nil || len(tl.ResourceTemplates) != 0 {
		t.Fatalf("templates after removal: %+v %v", tl, err)
	}
	rr := mcp.ReadResourceRequest{}
	rr.Params.URI = "test__test://item/1"
	if _, err := c.ReadResource(t.Context(), rr); err == nil {
		t.Fatal("a removed template still answers")
	}
}

func first(s string, _ bool) string { return s }

// TestUpstreamPerUserCredentials (lines 1, 2): an upstream with an API key
// runs once per user, each with their own key in its environment; a user
// without the key gets the structured "API key required" result, a guest
// the sign-in result; a changed key restarts that user's process.
func TestUpstreamPerUserCredentials(t *testing.T) {
	e := newUpstreamEnv(t)
	e.addUpstream(testUpstream(t, "acme", "keyed", vault.UpstreamCredential{Kind: vault.CredentialAPIKey, Provider: "openai", Env: "TEST_SECRET"}))
	alice, aliceTok := e.user("acme", "alice")
	bob, bobTok := e.user("acme", "bob")
	ctx := t.Context()
	for id, key := range map[string]string{alice: "sk-alice-0001", bob: "sk-bob-0002"} {
		if err := e.v.PutCredential(ctx, "acme", id, vault.CredentialAPIKey, "openai", []byte(key)); err != nil {
			t.Fatal(err)
		}
	}
	ca := e.client("acme", aliceTok, legacy)
	cb := e.client("acme", bobTok, modern)
	// Each gets their own key (told by its SHA-256: the key itself never
	// comes back, even from an upstream that prints it).
	name := map[string]any{"name": "TEST_SECRET"}
	for who, c := range map[string]struct {
		cl       *mcpClient
		key, not string
	}{"alice": {ca, "sk-alice-0001", "sk-bob"}, "bob": {cb, "sk-bob-0002", "sk-alice"}} {
		env := first(c.cl.call(t, "keyed__env", nil))
		if !strings.Contains(env, "TEST_SECRET=[redacted]") || strings.Contains(env, c.key) || strings.Contains(env, c.not) {
			t.Fatalf("%s's upstream env:\n%s", who, env)
		}
		sum := sha256.Sum256([]byte(c.key))
		if got := first(c.cl.call(t, "keyed__env_sha256", name)); got != hex.EncodeToString(sum[:]) {
			t.Fatalf("%s's upstream has another key (sha256 %s)", who, got)
		}
	}
	pa, pb := first(ca.call(t, "keyed__pid", nil)), first(cb.call(t, "keyed__pid", nil))
	if pa == pb {
		t.Fatal("alice and bob share a process carrying one key")
	}
	// The local owner has no key: told how to store one.
	text, isErr := e.client("acme", localToken, legacy).call(t, "keyed__env", nil)
	var cr CredentialResult
	if !isErr || json.Unmarshal([]byte(text), &cr) != nil || cr.Error != ResultAPIKeyRequired || cr.ProviderName != "openai" {
		t.Fatalf("local owner without key: %v %s", isErr, text)
	}
	// A guest: sign in.
	text, isErr = e.client("acme", "", modern).call(t, "keyed__env", nil)
	if !isErr || !strings.Contains(text, ResultSignInRequired) {
		t.Fatalf("guest: %v %s", isErr, text)
	}
	// Alice's new key restarts her process only.
	pidA, _ := strconv.Atoi(pa)
	if err := e.v.PutCredential(ctx, "acme", alice, vault.CredentialAPIKey, "openai", []byte("sk-alice-0003")); err != nil {
		t.Fatal(err)
	}
	if left := upstreamtest.WaitGone(10*time.Second, pidA); len(left) > 0 {
		t.Fatal("alice's process kept her old key")
	}
	if sum := sha256.Sum256([]byte("sk-alice-0003")); first(ca.call(t, "keyed__env_sha256", name)) != hex.EncodeToString(sum[:]) {
		t.Fatal("alice's process does not have her new key")
	}
	if p := first(cb.call(t, "keyed__pid", nil)); p != pb {
		t.Fatal("bob's process restarted for alice's key")
	}
	st, _ := e.srv.UpstreamState(ctx, "acme", "keyed", 0)
	running := 0
	for _, in := range st.Instances {
		if in.State == upstream.StateRunning {
			running++
		}
	}
	if running != 2 {
		t.Fatalf("instances %+v", st.Instances)
	}
}

// TestUpstreamToolSettings: the tenant's tool settings apply to upstream
// tools: one by name, or all of an upstream by its tool set.
func TestUpstreamToolSettings(t *testing.T) {
	e := newUpstreamEnv(t)
	e.addUpstream(testUpstream(t, "acme", "test"))
	c := e.client("acme", localToken, legacy)
	if !slices.Contains(c.toolNames(t), "test__echo") {
		t.Fatal("no test__echo")
	}
	if err := e.v.PutToolSettings(t.Context(), "acme", vault.ToolSettings{DisabledTools: []string{"test__echo"}}); err != nil {
		t.Fatal(err)
	}
	names := c.toolNames(t)
	if slices.Contains(names, "test__echo") || !slices.Contains(names, "test__pid") {
		t.Fatalf("after disabling test__echo: %v", names)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "test__echo"
	if _, err := c.CallTool(t.Context(), req); err == nil {
		t.Fatal("a disabled upstream tool was called")
	}
	if err := e.v.PutToolSettings(t.Context(), "acme", vault.ToolSettings{DisabledToolSets: []string{"test"}}); err != nil {
		t.Fatal(err)
	}
	names = c.toolNames(t)
	if slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "test__") }) || !slices.Contains(names, "plexus_whoami") {
		t.Fatalf("after disabling tool set test: %v", names)
	}
	tools := e.srv.SourceTools("acme")
	if len(tools) == 0 || tools[0].Source != "upstream" || tools[0].SourceName != "test" || !slices.Contains(tools[0].ToolSets, "test") {
		t.Fatalf("source tools %+v", tools)
	}
}

// TestUpstreamNameCollision: an item whose name is a built-in tool's is
// refused with a clear reason; the rest of the upstream is shown.
func TestUpstreamNameCollision(t *testing.T) {
	reg := tools.NewRegistry()
	if err := reg.Register(tools.Tool{Definition: mcp.NewTool("test__echo", mcp.WithDestructiveHintAnnotation(false)),
		Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("built-in"), nil
		}}); err != nil {
		t.Fatal(err)
	}
	e := newUpstreamEnv(t, WithRegistry(reg))
	e.addUpstream(testUpstream(t, "acme", "test"))
	c := e.client("acme", localToken, legacy)
	if text, _ := c.call(t, "test__echo", nil); text != "built-in" {
		t.Fatalf("test__echo = %q, want the built-in tool", text)
	}
	if text, _ := c.call(t, "test__pid", nil); text == "" {
		t.Fatal("the rest of the upstream is missing")
	}
	st, _ := e.srv.UpstreamState(t.Context(), "acme", "test", 0)
	if len(st.Problems) != 1 || !strings.Contains(st.Problems[0], `"test__echo" is a built-in tool's name`) {
		t.Fatalf("problems %q", st.Problems)
	}
}

// TestUpstreamUnavailable: an upstream that cannot start answers with a
// tool error naming the reason, and another tenant is not held up.
func TestUpstreamUnavailable(t *testing.T) {
	e := newUpstreamEnv(t)
	u := testUpstream(t, "acme", "broken")
	u.Command = "/nonexistent/plexus-test-upstream"
	e.addUpstream(u)
	e.addUpstream(testUpstream(t, "beta", "test"))
	// The wait ends as soon as the start failed: an admin adding a broken
	// upstream hears why at once, not after the whole wait.
	began := time.Now()
	st, ok := e.srv.UpstreamState(t.Context(), "acme", "broken", 30*time.Second)
	if waited := time.Since(began); waited > 20*time.Second {
		t.Errorf("UpstreamState waited %s for an upstream that failed to start", waited)
	}
	if !ok || st.Listed || len(st.Instances) != 1 || st.Instances[0].State != upstream.StateBackoff ||
		!strings.Contains(st.Instances[0].LastError, "/nonexistent/plexus-test-upstream") {
		t.Fatalf("state %+v", st)
	}
	if text, _ := e.client("beta", localToken, legacy).call(t, "test__echo", map[string]any{"message": "fine"}); text != "fine" {
		t.Fatalf("beta: %q", text)
	}
}

// TestUpstreamShutdownStopsProcesses: the daemon's shutdown (Run's
// context) stops every upstream process.
func TestUpstreamShutdownStopsProcesses(t *testing.T) {
	e := newUpstreamEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx) }()
	e.addUpstream(testUpstream(t, "acme", "test"))
	pid, _ := strconv.Atoi(first(e.client("acme", localToken, legacy).call(t, "test__pid", nil)))
	child, _ := strconv.Atoi(first(e.client("acme", localToken, legacy).call(t, "test__spawn", nil)))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if left := upstreamtest.WaitGone(10*time.Second, pid, child); len(left) > 0 {
		t.Fatalf("processes %v survive the shutdown", left)
	}
}
