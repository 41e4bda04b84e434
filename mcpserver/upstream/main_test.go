//go:build unix

package upstream

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// The test binary doubles as the guard (GuardCommand), as a stdio MCP
// server with tools for every supervision case (testUpstreamCmd), and as
// a stand-in daemon that a test kills with SIGKILL (fakeDaemonCmd).
const (
	testUpstreamCmd = "__test-upstream"
	fakeDaemonCmd   = "__fake-daemon"
	sleeperCmd      = "__sleeper"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case GuardCommand:
			os.Exit(RunGuard(os.Args[2:]))
		case testUpstreamCmd:
			runTestUpstream()
			os.Exit(0)
		case fakeDaemonCmd:
			runFakeDaemon()
			os.Exit(0)
		case sleeperCmd:
			time.Sleep(time.Hour)
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

// testServer is the MCP server the test upstream runs.
func testServer() *server.MCPServer {
	s := server.NewMCPServer("test-upstream", "1.0", server.WithToolCapabilities(true), server.WithLogging(),
		server.WithResourceCapabilities(false, true), server.WithPromptCapabilities(true))
	text := func(s string) (*mcp.CallToolResult, error) { return mcp.NewToolResultText(s), nil }
	s.AddTool(mcp.NewTool("echo", mcp.WithString("message")), func(_ context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return text(r.GetString("message", ""))
	})
	s.AddTool(mcp.NewTool("pid"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return text(strconv.Itoa(os.Getpid()))
	})
	s.AddTool(mcp.NewTool("env"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return text(strings.Join(os.Environ(), "\n"))
	})
	s.AddTool(mcp.NewTool("crash"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		fmt.Fprintln(os.Stderr, "crashing on purpose")
		os.Exit(3)
		return nil, nil
	})
	// freeze stops the whole process: no answer, not even to ping.
	s.AddTool(mcp.NewTool("freeze"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		_ = syscall.Kill(os.Getpid(), syscall.SIGSTOP)
		select {} // the stop may take a moment to land; never answer
	})
	// wait blocks until cancelled and then writes "cancelled" to the file
	// named by its argument.
	s.AddTool(mcp.NewTool("wait", mcp.WithString("mark")), func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		select {
		case <-ctx.Done():
			_ = os.WriteFile(r.GetString("mark", ""), []byte("cancelled"), 0o600)
			return nil, ctx.Err()
		case <-time.After(time.Minute):
			return text("waited")
		}
	})
	s.AddTool(mcp.NewTool("progress", mcp.WithNumber("steps")), func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var tok mcp.ProgressToken
		if r.Params.Meta != nil {
			tok = r.Params.Meta.ProgressToken
		}
		steps := int(r.GetFloat("steps", 3))
		for i := 1; i <= steps; i++ {
			if tok != nil {
				_ = server.ServerFromContext(ctx).SendNotificationToClient(ctx, "notifications/progress",
					map[string]any{"progressToken": tok, "progress": i, "total": steps, "message": fmt.Sprintf("step %d", i)})
			}
			// mcp-go's stdio server writes notifications from a goroutine of
			// their own: give each time to go out before the response.
			time.Sleep(20 * time.Millisecond)
		}
		return text(fmt.Sprintf("done %d", steps))
	})
	s.AddTool(mcp.NewTool("log", mcp.WithString("message")), func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		_ = server.ServerFromContext(ctx).SendLogMessageToClient(ctx, mcp.NewLoggingMessageNotification(mcp.LoggingLevelWarning, "test", r.GetString("message", "")))
		time.Sleep(20 * time.Millisecond) // as in progress
		return text("logged")
	})
	s.AddTool(mcp.NewTool("fail"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultError("it failed"), nil
	})
	s.AddTool(mcp.NewTool("stderr", mcp.WithNumber("lines")), func(_ context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		n := int(r.GetFloat("lines", 1))
		for i := range n {
			fmt.Fprintf(os.Stderr, "line %d %s\n", i, strings.Repeat("x", 100))
		}
		fmt.Fprintln(os.Stderr, "secret is "+os.Getenv("TEST_SECRET"))
		return text("written")
	})
	// spawn starts a grandchild and returns its pid.
	s.AddTool(mcp.NewTool("spawn"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		cmd := exec.Command(os.Args[0], sleeperCmd)
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		go func() { _ = cmd.Wait() }()
		return text(strconv.Itoa(cmd.Process.Pid))
	})
	s.AddTool(mcp.NewTool("add_tool", mcp.WithString("name")), func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		server.ServerFromContext(ctx).AddTool(mcp.NewTool(r.GetString("name", "new")), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return text("new tool")
		})
		return text("added")
	})
	s.AddResource(mcp.NewResource("test://static/one", "one", mcp.WithMIMEType("text/plain")),
		func(_ context.Context, r mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: r.Params.URI, MIMEType: "text/plain", Text: "one"}}, nil
		})
	s.AddResourceTemplate(mcp.NewResourceTemplate("test://item/{id}", "item"),
		func(_ context.Context, r mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return []mcp.ResourceContents{mcp.TextResourceContents{URI: r.Params.URI, Text: "item " + r.Params.URI}}, nil
		})
	s.AddPrompt(mcp.NewPrompt("greet", mcp.WithArgument("name")), func(_ context.Context, r mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return mcp.NewGetPromptResult("greeting", []mcp.PromptMessage{
			mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent("hello "+r.Params.Arguments["name"])),
		}), nil
	})
	return s
}

func runTestUpstream() {
	if err := server.ServeStdio(testServer()); err != nil {
		fmt.Fprintln(os.Stderr, "test upstream:", err)
	}
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

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil && !procFS()
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func procFS() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// waitGone waits up to d for every pid to be gone.
func waitGone(t *testing.T, d time.Duration, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var left []int
		for _, p := range pids {
			if alive(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				_ = syscall.Kill(p, syscall.SIGKILL) // do not leave them behind
			}
			t.Fatalf("processes %v still alive after %s", left, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
