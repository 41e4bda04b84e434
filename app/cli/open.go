package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/plexus-mcp/plexus/app"
	"github.com/plexus-mcp/plexus/app/localclient"
)

// Open shows the admin UI: the desktop window when built with the desktop
// tag, else the browser. It starts the daemon if needed; closing the window
// leaves the daemon running.
func Open(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("open", flag.ContinueOnError)
	dataDir := fs.String("data", "", "data directory (default $PLEXUS_DATA_DIR or <user config dir>/plexus)")
	help := commandHelp(fs, "plexus open [--data DIR]",
		"Open the admin UI: the desktop window, or the browser. Starts a background daemon\nwhen none is running; closing the window leaves it running (plexus stop stops it).")
	if err := parseFlags(fs, args, env, "open", help); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageError("open: unexpected argument %q (see 'plexus open --help')", fs.Arg(0))
	}
	dir, err := resolveDataDir(*dataDir, env)
	if err != nil {
		return err
	}
	log, err := newLogger(env.Stderr, envOr(env, "PLEXUS_LOG_LEVEL", "info"))
	if err != nil {
		return err
	}
	rt, err := localclient.EnsureDaemon(ctx, localclient.EnsureOptions{DataDir: dir, Exe: env.Exe, Logger: log})
	if err != nil {
		return fmt.Errorf("start the daemon: %w", err)
	}
	fmt.Fprintf(env.Stderr, "Plexus is running at %s (data: %s)\n", rt.BaseURL(), dir)
	return app.Show(ctx, rt.BaseURL()+"/")
}
