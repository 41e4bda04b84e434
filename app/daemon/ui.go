package daemon

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/app/ui"
	"github.com/plexus-mcp/plexus/vault"
)

// newUI builds the admin UI's handler over the daemon's admin operations
// (the ones the admin API serves).
func newUI(ctx context.Context, cfg Config, v *vault.Vault, login ui.Login, ops *adminops.Service, addr, publicURL string, startedAt time.Time) (http.Handler, error) {
	return ui.New(ctx, ui.Options{
		Ops:      ops,
		Login:    login,
		Keys:     ops,
		Tools:    ops,
		Activity: ops,
		Info: func() ui.DaemonInfo {
			return ui.DaemonInfo{Version: cfg.Version, Addr: addr, DataDir: absPath(cfg.DataDir),
				StartedAt: startedAt, Key: v.KeyInfo()}
		},
		SecureCookies: strings.HasPrefix(publicURL, "https://"),
		StdioCommand:  stdioCommand(cfg.DataDir),
		Logger:        cfg.Logger,
	})
}

// withUI sends /ui and /ui/… to the admin UI and everything else to next.
// (The UI is not a pattern on the daemon's mux: "/ui/" would overlap
// "/{tenant}/mcp" at /ui/mcp, and "ui" is a reserved tenant id anyway.)
func withUI(ui, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "/ui" || strings.HasPrefix(p, "/ui/") {
			ui.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// stdioCommand is how an app on this machine starts the bridge to this
// daemon: this binary's `stdio`, with --data unless the data directory is
// the default one (apps do not inherit PLEXUS_DATA_DIR).
func stdioCommand(dataDir string) []string {
	exe, err := os.Executable()
	if err != nil || exe == "" {
		exe = "plexus"
	} else if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	cmd := []string{exe, "stdio"}
	def, err := localclient.DataDir(nil)
	if err != nil || filepath.Clean(absPath(def)) != filepath.Clean(absPath(dataDir)) {
		cmd = append(cmd, "--data", absPath(dataDir))
	}
	return cmd
}
