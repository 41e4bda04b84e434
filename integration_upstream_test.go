package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/mcpserver/upstream/upstreamtest"
)

// callText calls tool through c and returns its first text.
func callText(ctx context.Context, t *testing.T, c *client.Client, tool string) string {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	res, err := c.CallTool(ctx, req)
	if err != nil || len(res.Content) == 0 {
		t.Fatalf("%s: %v %+v", tool, err, res)
	}
	text := res.Content[0].(mcp.TextContent).Text
	if res.IsError {
		t.Fatalf("%s: %s", tool, text)
	}
	return text
}

// runIn runs a plexus command with stdin.
func (in *instance) runIn(stdin string, args ...string) (string, string, error) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := in.command(ctx, args...)
	var out, errb strings.Builder
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// TestUpstreamThroughTheBinary (issue 11, lines 1 and 2) drives the whole
// path as a user does: an API key typed into the CLI, an upstream mounted
// with `plexus admin upstream add --env-from-key`, Claude Desktop windows
// (`plexus stdio`) calling its tools. The key reaches the upstream's
// environment and nothing else (not an argument list, not a log, not the
// file in the clear); the daemon's master key does not reach it; every
// window shares one process; SIGTERM and kill -9 of the daemon both leave
// no process behind.
func TestUpstreamThroughTheBinary(t *testing.T) {
	in := newInstance(t)
	_, _ = in.serve()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const key = "sk-integration-canary-8842"
	admin := func(stdin string, args ...string) string {
		t.Helper()
		out, stderr, err := in.runIn(stdin, append([]string{"admin", "--data", in.dataDir}, args...)...)
		if err != nil {
			t.Fatalf("admin %v: %v\n%s%s", args, err, out, stderr)
		}
		return out
	}
	admin("", "tenant", "create", "--entity-id", "acme", "--name", "Acme")
	admin(key+"\n", "connections", "set-api-key", "--entity-id", "acme", "--provider-name", "openai", "--api-key", "-")
	out := admin("", "upstream", "add", "--entity-id", "acme", "--name", "test",
		"--command", exe+" "+upstreamtest.ServeCmd, "--env-from-key", "TEST_SECRET=openai")
	if !strings.Contains(out, "Added upstream test to acme") || !strings.Contains(out, "tools,") {
		t.Fatalf("upstream add said:\n%s", out)
	}
	if out := admin("", "tools", "list", "--entity-id", "acme"); !strings.Contains(out, "test__echo") || !strings.Contains(out, "upstream test") {
		t.Fatalf("tools list:\n%s", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var pids []string
	var env string
	for range 3 { // three Claude Desktop windows
		c := in.stdioClient(ctx, t, "acme")
		pids = append(pids, callText(ctx, t, c, "test__pid"))
		env = callText(ctx, t, c, "test__env")
	}
	if pids[0] != pids[1] || pids[1] != pids[2] {
		t.Fatalf("windows ran in processes %v, want one", pids)
	}
	// The key is in the upstream's environment, and never comes back.
	if !strings.Contains(env, "TEST_SECRET=[redacted]") || strings.Contains(env, key) {
		t.Fatalf("the key is not in the upstream's environment, or came back:\n%s", env)
	}
	if strings.Contains(env, "PLEXUS_MASTER_KEY") {
		t.Fatalf("the master key reached the upstream:\n%s", env)
	}
	c := in.stdioClient(ctx, t, "acme")
	child, _ := strconv.Atoi(callText(ctx, t, c, "test__spawn"))
	callText(ctx, t, c, "test__stderr") // prints the key to its stderr
	upstreamPID, _ := strconv.Atoi(pids[0])

	var shown apiv1.UpstreamBody
	if err := json.Unmarshal([]byte(admin("", "--json", "upstream", "show", "--entity-id", "acme", "--name", "test")), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Upstream.Status == nil || len(shown.Upstream.Status.Instances) != 1 {
		t.Fatalf("upstream show: %+v", shown.Upstream)
	}
	guard := shown.Upstream.Status.Instances[0].PID
	for _, p := range []int{guard, upstreamPID, child} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if err != nil {
			t.Fatalf("pid %d: %v", p, err)
		}
		if strings.Contains(string(b), key) {
			t.Fatalf("the key is in the argument list of pid %d", p)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(admin("", "upstream", "log", "--entity-id", "acme", "--name", "test"), "secret is [redacted]") {
		if time.Now().After(deadline) {
			t.Fatal("the upstream's stderr is not in its log")
		}
		time.Sleep(100 * time.Millisecond)
	}
	logOut := admin("", "upstream", "log", "--entity-id", "acme", "--name", "test")
	if strings.Contains(logOut, key) {
		t.Fatal("the key is in the upstream's log")
	}
	if strings.Contains(in.logs.String(), key) {
		t.Fatal("the key is in the daemon's log")
	}
	if db, err := os.ReadFile(in.dataDir + "/plexus.db"); err != nil || strings.Contains(string(db), key) {
		t.Fatalf("the key is in the vault file in the clear (%v)", err)
	}

	// SIGTERM: the daemon stops its upstreams on the way out.
	rt, err := localclient.ReadRuntime(in.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(rt.PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if left := upstreamtest.WaitGone(20*time.Second, rt.PID, guard, upstreamPID, child); len(left) > 0 {
		t.Fatalf("after SIGTERM, processes %v are left", left)
	}

	// kill -9: the guard sees its pipe close and ends the upstream's group.
	_, _ = in.serve()
	c = in.stdioClient(ctx, t, "acme")
	upstreamPID, _ = strconv.Atoi(callText(ctx, t, c, "test__pid"))
	child, _ = strconv.Atoi(callText(ctx, t, c, "test__spawn"))
	if err := json.Unmarshal([]byte(admin("", "--json", "upstream", "show", "--entity-id", "acme", "--name", "test")), &shown); err != nil {
		t.Fatal(err)
	}
	guard = shown.Upstream.Status.Instances[0].PID
	dead := in.killDaemon(t)
	if left := upstreamtest.WaitGone(15*time.Second, dead, guard, upstreamPID, child); len(left) > 0 {
		t.Fatalf("after kill -9 of the daemon, processes %v are left", left)
	}
}
