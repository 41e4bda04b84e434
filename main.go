// Command plexus is a local, multi-tenant MCP gateway: `plexus serve` runs
// the daemon, `plexus stdio --tenant T` bridges an MCP client such as Claude
// Desktop to it, `plexus admin …` manages it, and `plexus` alone opens its
// window. main only dispatches; the commands live in app/cli.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/plexus-mcp/plexus/app/cli"
	"github.com/plexus-mcp/plexus/mcpserver/upstream"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == upstream.GuardCommand {
		// The guard of a stdio upstream (started by the daemon): it
		// handles its own signals and ends by killing its process group.
		os.Exit(upstream.RunGuard(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	err = cli.Run(ctx, os.Args[1:], cli.Env{
		Getenv: os.Getenv,
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Exe:    exe,
	})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "plexus:", err)
		os.Exit(cli.ExitCode(err))
	}
}
