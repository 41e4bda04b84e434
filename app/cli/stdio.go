package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"

	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/mcpserver/bridge"
	"github.com/plexus-mcp/plexus/vault"
)

const stdioHelp = `Bridge an MCP client that speaks JSON-RPC on stdin/stdout (Claude Desktop) to
the tenant's endpoint of the daemon, starting a background daemon when none
is running. Only JSON-RPC goes to stdout; logs go to stderr.`

// Stdio bridges stdin/stdout JSON-RPC to the daemon's /{tenant}/mcp,
// starting the daemon when none runs. Only JSON-RPC is written to
// env.Stdout; logs go to env.Stderr.
func Stdio(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("stdio", flag.ContinueOnError)
	tenant := fs.String("tenant", "", "tenant (entity id) whose MCP endpoint to bridge (required)")
	dataDir := fs.String("data", "", "data directory (default $PLEXUS_DATA_DIR or <user config dir>/plexus)")
	logLevel := fs.String("log-level", envOr(env, "PLEXUS_LOG_LEVEL", "warn"), "debug, info, warn or error")
	if err := parseFlags(fs, args, env, "stdio", commandHelp(fs, "plexus stdio --tenant T [flags]", stdioHelp)); err != nil {
		return helpOK(err)
	}
	if *tenant == "" {
		return usageError("stdio: --tenant is required, e.g. plexus stdio --tenant acme")
	}
	if fs.NArg() > 0 {
		return usageError("stdio: unexpected argument %q", fs.Arg(0))
	}
	log, err := newLogger(env.Stderr, *logLevel)
	if err != nil {
		return err
	}
	if err := vault.ValidateTenantID(*tenant); err != nil {
		// The client still deserves an answer it can show, not a hang.
		return answerWithError(ctx, env, err)
	}
	dir, err := resolveDataDir(*dataDir, env)
	if err != nil {
		return answerWithError(ctx, env, err)
	}
	ensure := localclient.EnsureOptions{DataDir: dir, Exe: env.Exe, Logger: log}
	rt, err := localclient.EnsureDaemon(ctx, ensure)
	if err != nil {
		log.Error("Cannot reach the plexus daemon", "error", err)
		return answerWithError(ctx, env, fmt.Errorf("daemon not available: %w", err))
	}
	// Every connection the bridge opens makes the daemon prove it is the one
	// EnsureDaemon found before a byte of the client's traffic or the token
	// is written; when it is gone, Reconnect starts or finds it again.
	tr := localclient.NewTransport(rt)
	endpoint := func(rt localclient.Runtime) bridge.Endpoint {
		return bridge.Endpoint{URL: rt.BaseURL() + "/" + url.PathEscape(*tenant) + "/mcp", Token: rt.Token}
	}
	first := endpoint(rt)
	return bridge.Run(ctx, bridge.Config{
		URL:        first.URL,
		Token:      first.Token,
		HTTPClient: &http.Client{Transport: tr},
		Logger:     log,
		Reconnect: func(ctx context.Context) (bridge.Endpoint, error) {
			rt, err := localclient.EnsureDaemon(ctx, ensure)
			if err != nil {
				return bridge.Endpoint{}, err
			}
			tr.SetRuntime(rt)
			log.Warn("Reconnected to the plexus daemon", "pid", rt.PID, "addr", rt.Addr)
			return endpoint(rt), nil
		},
	}, env.Stdin, env.Stdout)
}

// answerWithError serves stdin until it closes by answering every JSON-RPC
// request with an error carrying cause, so the MCP client shows the reason
// instead of waiting forever. It returns cause.
func answerWithError(ctx context.Context, env Env, cause error) error {
	fmt.Fprintln(env.Stderr, "plexus stdio:", cause)
	sc := bufio.NewScanner(env.Stdin)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	enc := json.NewEncoder(env.Stdout)
	for sc.Scan() && ctx.Err() == nil {
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) != nil || msg.Method == "" || len(msg.ID) == 0 || string(msg.ID) == "null" {
			continue // notifications and responses get no answer
		}
		_ = enc.Encode(map[string]any{
			"jsonrpc": "2.0",
			"id":      msg.ID,
			"error":   map[string]any{"code": -32603, "message": cause.Error()},
		})
	}
	return cause
}
