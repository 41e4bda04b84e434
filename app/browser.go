//go:build !desktop

package app

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
)

// Show opens url in the user's browser. This build has no desktop window
// (build with -tags desktop,production for one).
func Show(ctx context.Context, url string) error {
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
		return fmt.Errorf("open %s in a browser (open it by hand): %w", url, err)
	}
	go cmd.Wait() //nolint:errcheck // the browser outlives us
	return nil
}
