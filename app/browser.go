//go:build !desktop

package app

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"runtime"
)

// Show signs the user's browser in to the admin UI: it mints a
// single-use login link and opens it. This build has no desktop window
// (build with -tags desktop,production for one).
//
// The link is on the browser's command line for a moment, where other
// local users may see it; it works only once and only within a minute,
// and the browser spends it at once.
//
// The browser cannot be brought to the front: waiting is not followed
// (a consent link is in the chat anyway).
func Show(ctx context.Context, getenv func(string) string, login LoginURL, _ Waiting, _ *slog.Logger) error {
	if err := CheckDisplay(getenv); err != nil {
		return err
	}
	url, err := login(ctx)
	if err != nil {
		return fmt.Errorf("sign-in link: %w", err)
	}
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.CommandContext(ctx, "open", url)
	case "windows":
		cmd = exec.CommandContext(ctx, "rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.CommandContext(ctx, "xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		// The link is not in the error: run `plexus open --print-url` for one.
		return fmt.Errorf("open a browser (or run `plexus open --print-url` and open the link by hand): %w", err)
	}
	go cmd.Wait() //nolint:errcheck // the browser outlives us
	return nil
}
