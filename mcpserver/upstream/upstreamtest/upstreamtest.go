//go:build unix

// Package upstreamtest is a test upstream MCP server for Plexus's tests:
// a test binary runs it (Main, from TestMain) when started with
// ServeCmd, so tests get a real stdio upstream without building anything.
//
// Its tools: echo(message), pid, env, env_sha256(name), crash (exits 3), freeze (SIGSTOP:
// answers nothing, not even ping), wait(mark) (blocks until cancelled,
// then writes "cancelled" to the file mark), progress(steps), log(message)
// (a warning log message), fail (a tool error), rpc_error(detail) (a
// JSON-RPC error), stderr(lines), spawn
// (starts a grandchild, returns its pid), add_tool(name) (list_changed).
// One resource test://static/one, one template test://item/{id} and one
// prompt greet(name).
package upstreamtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Argument switches of a test binary (os.Args[1]).
const (
	// ServeCmd serves Server over stdio.
	ServeCmd = "__test-upstream"
	// SleeperCmd sleeps an hour (the grandchild of spawn).
	SleeperCmd = "__sleeper"
)

// Main runs the test upstream or the sleeper when the test binary was
// started with ServeCmd or SleeperCmd (and exits); otherwise it returns.
// Call it first in TestMain.
func Main() {
	if len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case ServeCmd:
		if err := server.ServeStdio(Server()); err != nil {
			fmt.Fprintln(os.Stderr, "test upstream:", err)
		}
		os.Exit(0)
	case SleeperCmd:
		time.Sleep(time.Hour)
		os.Exit(0)
	case RawCmd:
		serveRaw()
		os.Exit(0)
	}
}

// Server is the test upstream: an mcp-go server whose tools exercise
// every case of supervision and forwarding (see the package doc).
func Server() *server.MCPServer {
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
	// env_sha256 names an environment variable's value by its SHA-256 (hex):
	// a test can tell which key an upstream got, though Plexus never lets
	// the key itself back out.
	s.AddTool(mcp.NewTool("env_sha256", mcp.WithString("name")), func(_ context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		sum := sha256.Sum256([]byte(os.Getenv(r.GetString("name", ""))))
		return text(hex.EncodeToString(sum[:]))
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
	s.AddTool(mcp.NewTool("rpc_error", mcp.WithString("detail")), func(_ context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if d := r.GetString("detail", ""); d != "" {
			return nil, fmt.Errorf("upstream broke (%s): %w", d, mcp.ErrInvalidParams)
		}
		return nil, fmt.Errorf("upstream broke: %w", mcp.ErrInvalidParams)
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
		cmd := exec.Command(os.Args[0], SleeperCmd)
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

// Alive reports whether process pid exists and is not a zombie (Linux
// reads /proc; elsewhere signal 0).
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if _, serr := os.Stat("/proc/self/stat"); serr == nil {
			return false
		}
		return syscall.Kill(pid, 0) == nil
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// WaitGone waits up to d for every pid to be gone and returns those left
// (after killing them, so a failed test leaves nothing behind).
func WaitGone(d time.Duration, pids ...int) []int {
	deadline := time.Now().Add(d)
	for {
		var left []int
		for _, p := range pids {
			if Alive(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}
