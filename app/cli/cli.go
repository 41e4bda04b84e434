// Package cli holds Plexus's commands (serve, stdio, admin, status, stop,
// open): each is a function of a context, its arguments and an Env,
// returning an error. Flags and environment variables are read here and
// nowhere else; main only dispatches and turns the error into an exit code.
//
// Every level answers -h, --help and `plexus help …` with its usage on
// stdout (exit 0); a mistake is one line on stderr, with "did you mean …?"
// for a near miss (exit 2). Errors never start with "plexus": main adds it.
package cli

import (
	"context"
	"errors"
	"flag"
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

// command is one `plexus NAME`.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, env Env) error
}

// commands is the whole top level of the CLI, in the order help lists it.
var commands = []command{
	{"serve", "Run the daemon in the foreground", Serve},
	{"stdio", "Bridge an MCP client on stdin/stdout to the daemon (Claude Desktop)", Stdio},
	{"admin", "Manage tenants, users, tokens, OAuth providers, tools and connections", Admin},
	{"status", "Show the daemon, the data directory, the key source and the tenants", Status},
	{"stop", "Stop the running daemon", Stop},
	{"open", "Open the admin UI (what plain `plexus` does)", Open},
	{"version", "Print the version", printVersion},
}

func commandNames() []string {
	names := make([]string, 0, len(commands)+1)
	for _, c := range commands {
		names = append(names, c.name)
	}
	return append(names, "help")
}

// Run dispatches args (without the program name) to a command.
func Run(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 {
		return Open(ctx, nil, env)
	}
	switch a := args[0]; {
	case a == "help":
		return help(ctx, args[1:], env)
	case isHelpArg(a):
		fmt.Fprint(env.Stdout, usageText())
		return nil
	case a == "--version" || a == "-version":
		return printVersion(ctx, nil, env)
	case len(a) > 1 && a[0] == '-':
		return usageError("unknown flag %s: flags follow the command, as in plexus serve --data DIR (see 'plexus help')", a)
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], env)
		}
	}
	return unknownError("", "command", args[0], commandNames(), "Run 'plexus help' for the commands.")
}

// help runs `plexus help [COMMAND [SUBCOMMAND…]]`: the command's own
// --help.
func help(ctx context.Context, args []string, env Env) error {
	if len(args) == 0 || isHelpArg(args[0]) {
		fmt.Fprint(env.Stdout, usageText())
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, append(append([]string{}, args[1:]...), "--help"), env)
		}
	}
	return unknownError("help", "command", args[0], commandNames(), "Run 'plexus help' for the commands.")
}

// Version is the program version, printed by `plexus version`.
const Version = "0.1.0-dev"

func printVersion(_ context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if err := parseFlags(fs, args, env, "version", commandHelp(fs, "plexus version", "Print the version of this plexus binary.")); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageError("version: unexpected argument %q (see 'plexus version --help')", fs.Arg(0))
	}
	fmt.Fprintln(env.Stdout, "plexus", Version)
	return nil
}

// usageText is `plexus help`.
func usageText() string {
	s := `Plexus is a local, multi-tenant MCP gateway.

Usage:
  plexus [COMMAND] [flags]

Commands:
`
	for _, c := range commands {
		s += fmt.Sprintf("  %-9s %s\n", c.name, c.summary)
	}
	s += fmt.Sprintf("  %-9s %s\n", "help", "Show help for a command: plexus help admin tenant create")
	return s + `
Examples:
  plexus serve                         run the daemon in this terminal
  plexus admin tenant create --entity-id acme --name "Acme Inc."
  plexus stdio --tenant acme           what Claude Desktop runs
  plexus status                        is it running, where is the key, which tenants

plexus admin, plexus stdio and plexus open start a background daemon when
none is running (its log is <data dir>/plexus.log); plexus stop stops it.

Environment: PLEXUS_DATA_DIR, PLEXUS_LISTEN, PLEXUS_MASTER_KEY,
PLEXUS_PASSPHRASE, PLEXUS_LOG_LEVEL, ADMIN_API_KEY, HOST_APP_REGISTRATION_SECRET.

Run 'plexus COMMAND --help' for a command's flags.
`
}
