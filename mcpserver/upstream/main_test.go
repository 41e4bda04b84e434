//go:build unix

package upstream

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/upstream/upstreamtest"
)

// The test binary doubles as the guard (GuardCommand), as a stdio MCP
// server with tools for every supervision case (testUpstreamCmd), and as
// a stand-in daemon that a test kills with SIGKILL (fakeDaemonCmd).
const (
	testUpstreamCmd = upstreamtest.ServeCmd
	fakeDaemonCmd   = "__fake-daemon"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case GuardCommand:
			os.Exit(RunGuard(os.Args[2:]))
		case fakeDaemonCmd:
			runFakeDaemon()
			os.Exit(0)
		}
		upstreamtest.Main()
	}
	os.Exit(m.Run())
}

// runFakeDaemon starts one guarded upstream, has it spawn a grandchild,
// prints "PIDS <upstream> <grandchild>" and waits to be killed.
func runFakeDaemon() {
	exe, _ := os.Executable()
	in := New(Config{
		Name: "fake", Transport: TransportStdio, Command: exe, Args: []string{testUpstreamCmd},
		Guard:   []string{exe, GuardCommand},
		Prepare: func(context.Context) (Launch, error) { return Launch{Env: BaseEnv(os.Getenv)}, nil },
	})
	ctx := context.Background()
	pid, err := callText(ctx, in, "pid", nil)
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	child, err := callText(ctx, in, "spawn", nil)
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	fmt.Printf("PIDS %s %s %d\n", pid, child, in.Status().PID)
	time.Sleep(time.Hour)
}

// callText calls tool and returns its first text content.
func callText(ctx context.Context, in *Instance, tool string, args map[string]any) (string, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	res, err := in.CallTool(ctx, req, Sink{})
	if err != nil {
		return "", err
	}
	if len(res.Content) == 0 {
		return "", fmt.Errorf("no content")
	}
	tc, ok := res.Content[0].(mcp.TextContent)
	if !ok {
		return "", fmt.Errorf("content %T", res.Content[0])
	}
	if res.IsError {
		return tc.Text, fmt.Errorf("tool error: %s", tc.Text)
	}
	return tc.Text, nil
}

// waitGone waits up to d for every pid to be gone.
func waitGone(t *testing.T, d time.Duration, pids ...int) {
	t.Helper()
	if left := upstreamtest.WaitGone(d, pids...); len(left) > 0 {
		t.Fatalf("processes %v still alive after %s", left, d)
	}
}

func alive(pid int) bool { return upstreamtest.Alive(pid) }
