// Package cli holds Plexus's commands (serve, stdio, admin, open): each is a
// function of a context, its arguments and an Env, returning an error. Flags
// and environment variables are read here and nowhere else; main only
// dispatches and turns the error into an exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/plexus-mcp/plexus/app/daemon"
	"github.com/plexus-mcp/plexus/app/localclient"
)

// Env is everything a command may touch outside its arguments, so tests can
// run commands in-process.
type Env struct {
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer // in `plexus stdio` this is the JSON-RPC channel: nothing else may write to it
	Stderr io.Writer
	// Exe is the path of the plexus binary, used to start the daemon.
	Exe string
}

// ErrUsage marks a command-line mistake; main exits with status 2 for it.
var ErrUsage = errors.New("usage")

// ExitCode is the exit status for an error Run returned: 0 for nil, 2 for
// a usage mistake, localclient.ExitAlreadyRunning when another daemon holds
// the data directory (so a starter that lost the race can tell), else 1.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	case errors.Is(err, daemon.ErrAlreadyRunning):
		return localclient.ExitAlreadyRunning
	}
	return 1
}

// usageError wraps ErrUsage with a message for the user.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// Run dispatches args (without the program name) to a command.
func Run(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return Open(ctx, nil, env)
	}
	switch args[0] {
	case "serve":
		return Serve(ctx, args[1:], env)
	case "stdio":
		return Stdio(ctx, args[1:], env)
	case "admin":
		return Admin(ctx, args[1:], env)
	case "open":
		return Open(ctx, args[1:], env)
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usageText)
		return nil
	case "version", "--version":
		fmt.Fprintln(env.Stdout, "plexus", Version)
		return nil
	}
	return usageError("unknown command %q (try: plexus help)", args[0])
}

// Version is the program version, printed by `plexus version`.
const Version = "0.1.0-dev"

const usageText = `plexus — a local, multi-tenant MCP gateway

Usage:
  plexus                         open the admin UI (starts the daemon if needed)
  plexus serve [--listen 127.0.0.1:8765] [--data DIR]
  plexus stdio --tenant T [--data DIR]
                                 bridge stdin/stdout JSON-RPC to the daemon (for Claude Desktop)
  plexus admin tenant create --entity-id ID --name NAME
  plexus admin tenant list | show ID | update ID --name NAME | delete ID | rotate-secret ID
  plexus admin token list --entity-id ID | revoke --entity-id ID --token-id TID
  plexus admin ext-oauth create --entity-id ID --provider-name P --client-id C --client-secret S|-
                                 --authorization-url U --token-url U --scopes "a b" [--preset github]
  plexus admin ext-oauth list | show | update | delete --entity-id ID [--provider-name P] | presets
  plexus admin tools list --entity-id ID | enable | disable --entity-id ID (--tool T | --tool-set S)
  plexus admin connections list --entity-id ID [--user U]
  plexus admin connections set-api-key | disconnect | delete-api-key --entity-id ID [--user U] --provider-name P
                                 (plexus admin -h for all admin commands and flags)
  plexus version

Environment: PLEXUS_DATA_DIR, PLEXUS_LISTEN, PLEXUS_MASTER_KEY, ADMIN_API_KEY,
HOST_APP_REGISTRATION_SECRET, PLEXUS_CLIENT_SECRET (ext-oauth create).
`
