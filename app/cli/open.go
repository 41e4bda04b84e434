package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/plexus-mcp/plexus/app"
	"github.com/plexus-mcp/plexus/app/localclient"
)

const openHelp = `Open the admin UI, signed in: the desktop window, or the browser. Starts a
background daemon when none is running; closing the window leaves it running
(plexus stop stops it).

--print-url prints a sign-in link instead of opening it: open it in a browser
on this computer. It works once, and only within a minute.`

// Open shows the admin UI: the desktop window when built with the desktop
// tag, else the browser, signed in through a single-use login link. It
// starts the daemon if needed; closing the window leaves the daemon
// running. With --print-url it prints the link instead.
func Open(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("open", flag.ContinueOnError)
	dataDir := fs.String("data", "", "data directory (default $PLEXUS_DATA_DIR or <user config dir>/plexus)")
	printURL := fs.Bool("print-url", false, "print a single-use sign-in link (valid for a minute) instead of opening it")
	help := commandHelp(fs, "plexus open [--data DIR] [--print-url]", openHelp)
	if err := parseFlags(fs, args, env, "open", help); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageError("open: unexpected argument %q (see 'plexus open --help')", fs.Arg(0))
	}
	if !*printURL {
		// Say so before starting anything.
		if err := app.CheckDisplay(env.Getenv); err != nil {
			return err
		}
	}
	dir, err := resolveDataDir(*dataDir, env)
	if err != nil {
		return err
	}
	log, err := newLogger(env.Stderr, envOr(env, "PLEXUS_LOG_LEVEL", "info"))
	if err != nil {
		return err
	}
	rt, err := localclient.EnsureDaemon(ctx, localclient.EnsureOptions{DataDir: dir, Exe: env.Exe, Logger: log, ForWindow: true})
	if err != nil {
		return fmt.Errorf("start the daemon: %w", err)
	}
	client := &localclient.Client{BaseURL: rt.BaseURL(), Token: rt.Token}
	login := func(ctx context.Context) (string, error) { return client.LoginURL(ctx) }
	if *printURL {
		u, err := login(ctx)
		if err != nil {
			return fmt.Errorf("open: sign-in link: %w", err)
		}
		fmt.Fprintln(env.Stdout, u)
		return nil
	}
	fmt.Fprintf(env.Stderr, "Plexus is running at %s (data: %s)\n", rt.BaseURL(), dir)
	// The events stream goes only to the daemon that proves its identity.
	events := localclient.NewClient(rt)
	return app.Show(ctx, env.Getenv, login, events.Events, log)
}
