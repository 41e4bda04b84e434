package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/vault"
)

// shell builds the layout's view for a signed-in page: the tenants, the
// current one, the flash (taken: it shows once).
func (h *Handler) shell(r *http.Request, s *session, title string, active frontend.Nav, tenants []apiv1.Tenant) frontend.Shell {
	sh := frontend.Shell{
		Title:  title,
		Active: active,
		CSRF:   s.csrf,
		Assets: h.assets,
		Path:   r.URL.Path,
		Flash:  s.popFlash(),
	}
	for _, t := range tenants {
		sh.Tenants = append(sh.Tenants, frontend.TenantRef{ID: t.ID, Name: t.Name})
	}
	sh.Tenant = currentTenant(s, tenants).ID
	return sh
}

// currentTenant is the session's tenant when it still exists, else the
// first; the zero Tenant when there is none.
func currentTenant(s *session, tenants []apiv1.Tenant) apiv1.Tenant {
	for _, t := range tenants {
		if t.ID == s.tenant {
			return t
		}
	}
	if len(tenants) > 0 {
		return tenants[0]
	}
	return apiv1.Tenant{}
}

// homeHandler is GET /ui/: the daemon's state, the key source, the
// tenants and how to connect Claude Desktop.
type homeHandler struct{ h *Handler }

func (p homeHandler) serve(w http.ResponseWriter, r *http.Request, s *session) {
	p.h.renderHome(w, r, s, http.StatusOK, nil)
}

// renderHome renders Home; keyForm, when set, is the key move's
// passphrase form after an error.
func (h *Handler) renderHome(w http.ResponseWriter, r *http.Request, s *session, status int, keyForm *frontend.KeyMoveView) {
	tenants, err := h.opts.Ops.ListTenants(r.Context())
	if err != nil {
		h.fail(w, r, fmt.Errorf("list tenants: %w", err))
		return
	}
	info := h.opts.Info()
	v := frontend.HomeView{
		Shell: h.shell(r, s, "Home", frontend.NavHome, tenants),
		Daemon: frontend.DaemonView{
			Version:   info.Version,
			Addr:      info.Addr,
			DataDir:   info.DataDir,
			StartedAt: info.StartedAt,
			Uptime:    since(h.opts.Now(), info.StartedAt),
		},
		Key: keyView(info.Key),
	}
	for _, t := range tenants {
		v.Tenants = append(v.Tenants, frontend.TenantRef{ID: t.ID, Name: t.Name})
	}
	if cur := currentTenant(s, tenants); cur.ID != "" {
		v.Connect = h.connectView(cur, len(tenants))
		v.Connect.Claude, v.Connect.CSRF = h.claudeView(r.Context(), cur, len(tenants)), s.csrf
	}
	h.addKeyMove(r.Context(), &v.Key, info.Key, keyForm)
	v.Key.CSRF = s.csrf
	h.render(w, r, status, s, frontend.HomePage(v))
}

// keyView describes where the master key is kept, in plain words, with the
// warning and what to do when that place is weak.
func keyView(k vault.KeyInfo) frontend.KeyView {
	switch k.Source {
	case vault.KeySourceKeyring:
		return frontend.KeyView{Status: frontend.StatusOK, Label: "System keyring",
			Summary: "The key that locks your saved accounts and keys is in your system's keyring, which your computer login protects."}
	case vault.KeySourcePassphrase:
		return frontend.KeyView{Status: frontend.StatusOK, Label: "Your passphrase",
			Summary: "The key that locks your saved accounts and keys is made from a passphrase you type when Plexus starts. Nobody can recover it if you forget it."}
	case vault.KeySourceEnv:
		return frontend.KeyView{Status: frontend.StatusOK, Label: "A setting (PLEXUS_MASTER_KEY)",
			Summary: "The key that locks your saved accounts and keys comes from a setting given to Plexus when it starts. Keep that setting safe: without it, nothing saved here opens."}
	case vault.KeySourceFile:
		return frontend.KeyView{Status: frontend.StatusWarn, Label: "A file on this computer", File: k.File,
			Summary: "The key that locks your saved accounts and keys is stored in a plain file, because no system keyring was available when Plexus was set up.",
			Warning: "Anyone who can read this file, or a copy of it in a backup, can open your saved accounts and keys.",
			Fix: []string{
				"Keep the file private, as it is now: only your user account can read it.",
				"Leave it out of backups and synced folders, or keep those just as private.",
			}}
	}
	return frontend.KeyView{Status: frontend.StatusNever, Label: "Unknown",
		Summary: "Plexus could not tell where the key that locks your saved accounts and keys is kept."}
}

// since says how long ago t was, in words.
func since(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := now.Sub(t)
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/(24*time.Hour)), "day")
}

// connectView is the "Connect Claude Desktop" card for tenant t: what to
// put in each app's settings to start `plexus stdio --tenant ID`.
func (h *Handler) connectView(t apiv1.Tenant, nTenants int) frontend.ConnectView {
	name, cmd, args := h.stdioEntry(t.ID, nTenants)
	cv := frontend.ConnectView{Tenant: frontend.TenantRef{ID: t.ID, Name: t.Name}}
	cv.ConfigPath = h.claudeConfigPath()
	cv.Snippets = []frontend.Snippet{
		{ID: "claude-desktop", App: "Claude Desktop", Code: serversJSON("mcpServers", name, "", cmd, args)},
		{ID: "claude-code", App: "Claude Code",
			Where: "Run this in a terminal; Claude Code then uses Plexus in every project.",
			Code:  "claude mcp add --scope user " + shellQuote(name) + " -- " + shellJoin(append([]string{cmd}, args...))},
		{ID: "cursor", App: "Cursor",
			Where: "Add this to the file .cursor/mcp.json in your home folder (keep what is already there), then restart Cursor.",
			Code:  serversJSON("mcpServers", name, "", cmd, args)},
		{ID: "vscode", App: "VS Code",
			Where: "Add this to the file .vscode/mcp.json in your project (keep what is already there), then choose Start above the entry.",
			Code:  serversJSON("servers", name, "stdio", cmd, args)},
	}
	return cv
}

// serversJSON is an app's settings entry for one local server, laid out
// the way people write it (the args on one line).
func serversJSON(key, name, typ, cmd string, args []string) string {
	q := func(s string) string {
		b, _ := json.Marshal(s)
		return string(b)
	}
	qa := make([]string, len(args))
	for i, a := range args {
		qa[i] = q(a)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "{\n  %s: {\n    %s: {\n", q(key), q(name))
	if typ != "" {
		fmt.Fprintf(&b, "      \"type\": %s,\n", q(typ))
	}
	fmt.Fprintf(&b, "      \"command\": %s,\n", q(cmd))
	if line := strings.Join(qa, ", "); len(line) <= 48 {
		fmt.Fprintf(&b, "      \"args\": [%s]\n", line)
	} else {
		fmt.Fprintf(&b, "      \"args\": [\n        %s\n      ]\n", strings.Join(qa, ",\n        "))
	}
	b.WriteString("    }\n  }\n}")
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}
