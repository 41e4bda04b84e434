// Package daemon runs `plexus serve`: it opens the vault (the one process
// that may), binds the loopback listener, serves the MCP endpoints, the admin
// API, the health probes and (to the admin) the metrics, writes the runtime
// file that clients use to find it, and shuts everything down in bounded
// time when its context ends.
//
// It never prints to stdout and never logs secrets: the local admin token
// goes only into the 0600 runtime file.
package daemon

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/plexus-mcp/plexus/app/adminapi"
	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/events"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/app/ui"
	"github.com/plexus-mcp/plexus/mcpserver"
	"github.com/plexus-mcp/plexus/mcpserver/edge"
	"github.com/plexus-mcp/plexus/mcpserver/examples"
	"github.com/plexus-mcp/plexus/mcpserver/keyentry"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// DefaultListen is the address `plexus serve` binds when none is given.
const DefaultListen = "127.0.0.1:8765"

// DBFileName is the name of the bbolt file inside the data directory.
const DBFileName = "plexus.db"

// ActivityDirName is the directory, inside the data directory, of the
// record of tool calls (package audit).
const ActivityDirName = "audit"

// ErrAlreadyRunning is returned by Run when another daemon holds the data
// directory. The wrapping error names that daemon's pid and address.
var ErrAlreadyRunning = errors.New("already running")

// ErrNotLoopback is returned by Run for a non-loopback listen address when
// Config.AllowNonLoopback is false.
var ErrNotLoopback = errors.New("listen address is not a loopback address")

// Config is what `plexus serve` was asked to do. Zero values are defaults.
type Config struct {
	DataDir          string // required
	Listen           string // host:port; "" = DefaultListen; port 0 picks a free port
	AllowNonLoopback bool   // bind a non-loopback address (warned about)

	AdminAPIKey   string // ADMIN_API_KEY: a second accepted admin bearer token
	HostAppSecret string // HOST_APP_REGISTRATION_SECRET: host-app secret accepted for every tenant
	// MCPOptionsForTest are added to the MCP server's options: the
	// conformance build's fixture tenant (app/cli, -tags conformance).
	MCPOptionsForTest []mcpserver.Option
	SessionIdleTTL    time.Duration // 0 = mcpserver's default
	UserTokenTTL      time.Duration // lifetime of issued user tokens; 0 = no expiry
	// PublicURL is the base URL browsers reach the daemon at, used for the
	// external OAuth callback (redirect) URLs; "" = http://<listen address>.
	PublicURL string
	// Examples points the example tools (github_*, weather) at their APIs;
	// zero fields take the public APIs.
	Examples        examples.Config
	ShutdownTimeout time.Duration // 0 = 10s
	// MaxConns bounds open connections (0 = DefaultMaxConns, or half the
	// open-file limit if lower); see connLimiter.
	MaxConns int
	// BodyReadTimeout is how much longer than its headers (10s) a request
	// body may take to arrive (0 = DefaultBodyReadTimeout); a stalled
	// request is answered and its connection closed.
	BodyReadTimeout time.Duration

	// UpstreamEnv is the base environment of stdio upstream MCP servers
	// (upstream.BaseEnv of the daemon's environment: never its PLEXUS_
	// variables); UpstreamGuard the argv prefix of their guard (the plexus
	// binary and upstream.GuardCommand; nil: none).
	UpstreamEnv   []string
	UpstreamGuard []string

	// AuditRetention is how long audit records are kept (0 =
	// DefaultAuditRetention, 90 days).
	AuditRetention time.Duration

	// Vault carries the master-key options (KeyFile, Passphrase, Getenv,
	// Keyring); Path and Logger are filled in by Run.
	Vault vault.Config
	// ForWindow says the daemon was started for the desktop window
	// (plexus open): a new vault with no OS keyring waits, locked, for a
	// passphrase chosen in the window instead of keeping a generated key
	// file. (An existing passphrase vault that nobody can unlock at a
	// terminal always waits, locked, for the window; see Run.)
	ForWindow bool

	Version string
	Logger  *slog.Logger // nil = discard
	// Ready, if set, is called once the daemon serves and its runtime file
	// is written (tests use it instead of polling).
	Ready func(localclient.Runtime)
}

// Run serves until ctx ends, then shuts down gracefully: in-flight requests
// get ShutdownTimeout to finish, streams are closed, the vault is closed and
// the runtime file removed.
//
// When the vault's passphrase cannot be had (an existing passphrase vault,
// PLEXUS_PASSPHRASE unset or wrong, no terminal to ask at) or, with
// ForWindow, a new vault has no keyring, the daemon starts locked (see
// locked.go): it holds the vault file, writes its runtime file and serves
// only /healthz, the admin UI's sign-in and unlock page, and an answer to
// everything else that says Plexus is locked, until the passphrase is
// typed in the window; then it serves everything.
func Run(ctx context.Context, cfg Config) (err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir == "" {
		return errors.New("serve: no data directory")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := checkDataDir(cfg.DataDir, log); err != nil {
		return err
	}
	listen := cfg.Listen
	if listen == "" {
		listen = DefaultListen
	}
	loopback, err := isLoopbackAddr(listen)
	if err != nil {
		return err
	}
	if !loopback {
		if !cfg.AllowNonLoopback {
			return fmt.Errorf("%w: %s (Plexus holds credentials and serves only this machine; pass --allow-non-loopback to bind it anyway, behind TLS)", ErrNotLoopback, listen)
		}
		log.Warn("Listening on a non-loopback address: anyone who can reach it can try to use Plexus", "listen", listen)
	}

	vcfg := cfg.Vault
	vcfg.Path = filepath.Join(cfg.DataDir, DBFileName)
	if vcfg.Logger == nil {
		vcfg.Logger = log
	}
	v, locked, err := vault.OpenOrLock(ctx, vcfg, vault.LockOptions{NewPassphrase: cfg.ForWindow})
	if errors.Is(err, vault.ErrLocked) {
		return alreadyRunning(cfg.DataDir)
	}
	if err != nil {
		return err // it names the vault file already
	}
	vh := &vaultHolder{v: v, locked: locked}
	defer func() {
		if cerr := vh.close(); cerr != nil && err == nil {
			err = fmt.Errorf("close vault: %w", cerr)
		}
	}()
	if v != nil {
		log.Info("Vault open", "path", vcfg.Path, "keySource", string(v.KeySource()))
	} else {
		log.Warn("Vault locked: waiting for its passphrase in the Plexus window (plexus open); until then apps are told Plexus is locked",
			"path", vcfg.Path, "newVault", locked.NewVault())
	}

	// No TCP keep-alive probes on accepted connections: the daemon's
	// peers are on this machine, idle connections end with IdleTimeout,
	// and each keep-alive setting costs a system call per connection,
	// which under a local connection flood is what makes the kernel's
	// accept queue (and /healthz behind it) grow.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another program using this port? choose another with --listen)", listen, err)
	}
	return serve(ctx, cfg, vh, ln, log)
}

// serve runs the HTTP server on ln until ctx ends: the full daemon when the
// vault is open, else the locked one until it opens.
func serve(ctx context.Context, cfg Config, vh *vaultHolder, ln net.Listener, log *slog.Logger) error {
	// POST /api/v1/shutdown (plexus stop) ends ctx like a signal does.
	ctx, shutdown := context.WithCancel(ctx)
	defer shutdown()
	startedAt := time.Now().UTC()
	token, err := newToken()
	if err != nil {
		ln.Close()
		return err
	}
	publicURL := strings.TrimSuffix(cfg.PublicURL, "/")
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	rt := localclient.Runtime{
		PID:       os.Getpid(),
		Addr:      ln.Addr().String(),
		Token:     token,
		Instance:  localclient.NewInstanceID(),
		StartedAt: startedAt,
		Version:   cfg.Version,
	}
	bg, cancelBG := context.WithCancel(ctx)
	defer cancelBG()
	s := &daemonApp{cfg: cfg, log: log, rt: rt, publicURL: publicURL, startedAt: startedAt, shutdown: shutdown, bg: bg,
		events: events.New()}
	defer s.runStops() // after the server has stopped (defers run last first)

	var gate handlerGate
	if v := vh.vault(); v != nil {
		h, err := s.app(ctx, v)
		if err != nil {
			ln.Close()
			return err
		}
		gate.set(h)
	} else {
		h, err := s.lockedApp(ctx, vh, &gate)
		if err != nil {
			ln.Close()
			return err
		}
		gate.set(h)
	}

	// Long-lived streams (GET SSE, subscriptions/listen) end when shutdown
	// begins; ordinary requests are left to finish.
	stopping, stop := context.WithCancel(context.Background())
	defer stop()
	handler := edge.Guard(endStreamsOn(stopping, &gate), edge.Options{
		ListenAddr:   ln.Addr().String(),
		AllowAnyHost: cfg.AllowNonLoopback,
	})

	bodyTimeout := cfg.BodyReadTimeout
	if bodyTimeout <= 0 {
		bodyTimeout = DefaultBodyReadTimeout
	}
	limited := newConnLimiter(ln, maxConns(cfg.MaxConns))
	srv := &http.Server{
		Handler:        handler,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:       slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	applyLimits(srv, bodyTimeout) // header and body deadlines, room for /healthz

	if err := localclient.WriteRuntime(cfg.DataDir, rt); err != nil {
		ln.Close()
		return fmt.Errorf("write runtime file: %w", err)
	}
	defer func() {
		if err := localclient.RemoveRuntime(cfg.DataDir, rt.PID); err != nil {
			log.Warn("Could not remove runtime file", "error", err)
		}
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(limited) }()
	log.Info("Plexus serving", "addr", rt.Addr, "pid", rt.PID, "dataDir", cfg.DataDir, "maxConns", limited.max, "locked", vh.vault() == nil)
	if cfg.Ready != nil {
		cfg.Ready(rt)
	}

	select {
	case err := <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}

	log.Info("Shutting down")
	timeout := cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	stop()
	cancelBG()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("Graceful shutdown timed out; closing connections", "error", err)
		srv.Close()
	}
	log.Info("Stopped")
	return nil
}

// daemonApp is what the daemon's handlers are built from.
type daemonApp struct {
	cfg       Config
	log       *slog.Logger
	rt        localclient.Runtime
	publicURL string
	startedAt time.Time
	shutdown  func()
	// bg is the context of background work (session sweeps), started
	// with the full daemon; it ends when shutdown begins.
	bg context.Context
	// stopMu guards stops: what to close once the server has stopped
	// (the full daemon's record of tool calls).
	stopMu sync.Mutex
	stops  []func()
	// events tells the desktop window (GET /api/v1/events) when something
	// waits for the person at this computer.
	events *events.Hub
	// early holds what happened while the vault was locked (the unlock
	// page's attempts), for the audit log that opens with the vault.
	early earlyRecords
}

// atStop has f run once the HTTP server has stopped.
func (s *daemonApp) atStop(f func()) {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	s.stops = append(s.stops, f)
}

// runStops runs what atStop was given, last first.
func (s *daemonApp) runStops() {
	s.stopMu.Lock()
	stops := s.stops
	s.stops = nil
	s.stopMu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
}

// consentWaiting tells the window that a consent link was made for a
// tenant's local owner (Claude Desktop, through plexus stdio): it is the
// person at this computer who has to approve it. Links for registered
// users and guests are someone else's business: nothing is told.
func (s *daemonApp) consentWaiting(ctx context.Context, v *vault.Vault, req oauth.ConsentRequest) {
	s.tellOwner(ctx, v, req.Owner.UserID, apiv1.Event{Kind: apiv1.EventConsent, Tenant: req.Owner.TenantID,
		Provider: req.Provider, Tool: req.Tool, Client: req.Client})
}

// keyWaiting tells the window that a key-entry link was made for a
// tenant's local owner, as consentWaiting does for consent.
func (s *daemonApp) keyWaiting(ctx context.Context, v *vault.Vault, req keyentry.Request) {
	s.tellOwner(ctx, v, req.UserID, apiv1.Event{Kind: apiv1.EventAPIKey, Tenant: req.TenantID,
		Provider: req.Provider, Tool: req.Tool, Client: req.Client})
}

// tellOwner publishes e when userID is the local owner of e's tenant.
func (s *daemonApp) tellOwner(ctx context.Context, v *vault.Vault, userID string, e apiv1.Event) {
	if userID == "" {
		return
	}
	u, err := v.GetUser(ctx, e.Tenant, userID)
	if err != nil || u.HostUserID != vault.LocalOwnerHostUserID {
		return
	}
	e.At = time.Now().UTC()
	s.events.Publish(e)
}

// app builds the full daemon's handler over the open vault v and starts
// its background work.
func (s *daemonApp) app(ctx context.Context, v *vault.Vault) (http.Handler, error) {
	cfg, log, rt, publicURL, startedAt, shutdown := s.cfg, s.log, s.rt, s.publicURL, s.startedAt, s.shutdown
	token := rt.Token
	registry := tools.NewRegistry()
	if err := examples.Register(registry, cfg.Examples); err != nil {
		return nil, fmt.Errorf("register example tools: %w", err)
	}
	om := oauth.NewManager(v, oauth.WithLogger(log), oauth.WithBaseURL(publicURL),
		oauth.WithConsentHook(func(ctx context.Context, req oauth.ConsentRequest) { s.consentWaiting(ctx, v, req) }))
	metrics := newTelemetry(cfg.Version, v) // metrics.go

	mcpOpts := []mcpserver.Option{
		mcpserver.WithLogger(log),
		mcpserver.WithLocalToken(token),
		mcpserver.WithRegistry(registry),
		mcpserver.WithOAuth(om),
		mcpserver.WithMetrics(metrics),
		mcpserver.WithPublicURL(publicURL),
		mcpserver.WithKeyLinkHook(func(ctx context.Context, req keyentry.Request) { s.keyWaiting(ctx, v, req) }),
		mcpserver.WithUpstreams(mcpserver.UpstreamOptions{BaseEnv: cfg.UpstreamEnv, Guard: cfg.UpstreamGuard}),
	}
	// The audit log (the Activity page, GET /api/v1/audit): tool calls
	// written after each call, never in its way, with their arguments
	// masked; credential changes, logins and admin actions (auditlog.go).
	// Closed once the server has stopped.
	var activity adminops.ActivityLog
	auditLog, err := openAudit(cfg, v, log, token, cfg.AdminAPIKey, cfg.HostAppSecret)
	if err != nil {
		log.Warn("The audit log is off: tool calls and admin actions will not be recorded", "error", err)
		auditLog = nil
	} else {
		s.early.flush(auditLog)
		unsubscribe := recordVaultChanges(v, auditLog)
		s.atStop(func() {
			unsubscribe()
			if err := auditLog.Close(); err != nil {
				log.Warn("Could not close the audit log", "error", err)
			}
		})
		activity = auditLog
		mcpOpts = append(mcpOpts, mcpserver.WithCallRecorder(auditLog))
	}
	if cfg.SessionIdleTTL > 0 {
		mcpOpts = append(mcpOpts, mcpserver.WithSessionIdleTTL(cfg.SessionIdleTTL))
	}
	if cfg.UserTokenTTL > 0 {
		mcpOpts = append(mcpOpts, mcpserver.WithUserTokenTTL(cfg.UserTokenTTL))
	}
	if cfg.HostAppSecret != "" {
		mcpOpts = append(mcpOpts, mcpserver.WithDefaultHostAppSecret(cfg.HostAppSecret))
	}
	mcpOpts = append(mcpOpts, cfg.MCPOptionsForTest...)
	mcp := mcpserver.New(v, mcpOpts...)
	watchSessions(metrics, mcp)

	mux := http.NewServeMux()
	mcp.Routes(mux)
	// The MCP server learns of deleted tenants, revoked tokens and tool
	// settings from the vault itself (vault.Subscribe): nothing to wire.
	// The admin operations: the admin API serves them (and the admin UI
	// calls them directly).
	ops := adminops.New(v, adminops.Options{
		Logger:              log,
		DefaultUserTokenTTL: cfg.UserTokenTTL,
		OAuth:               om,
		Tools:               func(tenantID string) []apiv1.ToolInfo { return toolInfos(registry, mcp, tenantID) },
		Upstreams:           mcp,
		RedirectURL:         om.RedirectURL,
		Activity:            activity,
		System: adminops.System{
			Info: func() adminops.DaemonInfo {
				return adminops.DaemonInfo{PID: os.Getpid(), Version: cfg.Version, Addr: rt.Addr,
					StartedAt: startedAt, DataDir: absPath(cfg.DataDir), Key: v.KeyInfo()}
			},
			Shutdown: shutdown,
			Health:   metrics.Health,
		},
	})
	adminOpts := adminapi.Options{Tokens: []string{token, cfg.AdminAPIKey}, Logger: log, Events: s.events}
	if auditLog != nil {
		adminOpts.Audit = auditLog
	}
	admin := adminapi.New(ops, adminOpts)
	mux.Handle("GET "+MetricsPath, metricsHandler(metrics, adminOpts))
	mux.Handle("/api/v1/", admin)
	mux.Handle("/api/v1", admin) // a JSON 404, not the mux's redirect
	mux.HandleFunc("GET "+localclient.IdentityPath, healthz(rt))
	var login ui.Login = v
	if auditLog != nil {
		login = auditLogin{Login: v, rec: auditLog}
	}
	uiHandler, err := newUI(ctx, cfg, v, login, ops, rt.Addr, publicURL, startedAt)
	if err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := v.SchemaVersion(r.Context()); err != nil {
			log.ErrorContext(r.Context(), "Readiness check failed", "error", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "vault unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Plexus %s is running.\nMCP endpoint: http://%s/{tenant}/mcp\nAdmin API: http://%s/api/v1/\n", cfg.Version, r.Host, r.Host)
	})

	bgDone := make(chan struct{})
	go func() {
		defer close(bgDone)
		if err := mcp.Run(s.bg); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("Background work stopped", "error", err)
		}
	}()
	// Upstream MCP servers stop with the background work (bounded there).
	s.atStop(func() {
		select {
		case <-bgDone:
		case <-time.After(15 * time.Second):
			log.Warn("Upstream MCP servers did not stop in time; their guards end them as the daemon exits")
		}
	})
	return withAudit(auditLog, withUI(uiHandler, mux)), nil
}

// alreadyRunning builds the error for a data directory held by another
// daemon, naming it when its runtime file says who it is.
func alreadyRunning(dataDir string) error {
	rt, err := localclient.ReadRuntime(dataDir)
	if err != nil {
		return fmt.Errorf("%w: another plexus process holds %s", ErrAlreadyRunning, dataDir)
	}
	return fmt.Errorf("%w: pid %d serves %s at %s", ErrAlreadyRunning, rt.PID, dataDir, rt.BaseURL())
}

// isLoopbackAddr reports whether host:port names only this machine.
func isLoopbackAddr(hostport string) (bool, error) {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false, fmt.Errorf("listen address %q: want host:port, e.g. %s: %w", hostport, DefaultListen, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// newToken makes the local admin token, written only to the runtime file.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate local token: %w", err)
	}
	return "plxl_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// toolInfos describes the tools of tenantID for the admin API: the
// registry's (source "builtin") and its upstreams' (source "upstream");
// Enabled is true here and ANDed there with the tenant's tool settings.
func toolInfos(r *tools.Registry, m *mcpserver.Server, tenantID string) []apiv1.ToolInfo {
	ts := r.ForTenant(tenantID)
	out := make([]apiv1.ToolInfo, 0, len(ts))
	for _, t := range ts {
		info := apiv1.ToolInfo{
			Name:        t.Definition.Name,
			Description: t.Definition.Description,
			Summary:     t.Summary,
			ToolSets:    append([]string{}, t.ToolSets...),
			Enabled:     true,
			Source:      apiv1.ToolSource{Kind: apiv1.ToolSourceBuiltIn},
		}
		switch req := t.Requires; {
		case req == nil:
		case req.OAuth != nil:
			info.Requires = "oauth:" + req.OAuth.Provider
		case req.APIKey != nil:
			info.Requires = "api_key:" + req.APIKey.Provider
		}
		if req := t.Requires; req != nil && req.OAuth != nil {
			info.Credentials = append(info.Credentials, apiv1.ToolCredential{Kind: apiv1.CredentialKindOAuth, Provider: req.OAuth.Provider})
		}
		if req := t.Requires; req != nil && req.APIKey != nil {
			info.Credentials = append(info.Credentials, apiv1.ToolCredential{Kind: apiv1.CredentialKindAPIKey,
				Provider: req.APIKey.Provider, DisplayName: req.APIKey.DisplayName, Instructions: req.APIKey.Instructions})
		}
		out = append(out, info)
	}
	for _, t := range m.SourceTools(tenantID) {
		info := apiv1.ToolInfo{Name: t.Name, Description: t.Description, ToolSets: append([]string{}, t.ToolSets...),
			Requires: t.Requires, Source: apiv1.ToolSource{Kind: t.Source, Name: t.SourceName}, Enabled: true}
		// "api_key:wx" / "oauth:github": the Tools page says whether the
		// local owner has it, as for a built-in tool.
		if kind, provider, ok := strings.Cut(t.Requires, ":"); ok && t.Source == apiv1.ToolSourceHTTP {
			info.Credentials = []apiv1.ToolCredential{{Kind: kind, Provider: provider}}
		}
		out = append(out, info)
	}
	return out
}
