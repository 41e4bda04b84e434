package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/plexus-mcp/plexus/app/daemon"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/mcpserver/examples"
	"github.com/plexus-mcp/plexus/mcpserver/upstream"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
)

const serveHelp = `Run the Plexus daemon in the foreground until Ctrl-C or SIGTERM (or
plexus stop). It serves MCP at http://ADDRESS/{tenant}/mcp and the admin API.

The vault's master key comes from PLEXUS_MASTER_KEY, PLEXUS_PASSPHRASE or
--key-file when given; else from the OS keyring; else a passphrase is asked
for when there is a terminal; else a generated key is kept in
<data dir>/plexus.key (mode 0600) with a warning. The vault remembers where
its key is, so later starts open it the same way.

Without a terminal, a passphrase vault (PLEXUS_PASSPHRASE unset) starts
locked: it answers apps that Plexus is locked until the passphrase is typed
in the Plexus window (plexus open).`

// Serve runs the daemon in the foreground until ctx ends (SIGINT/SIGTERM).
func Serve(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", envOr(env, "PLEXUS_LISTEN", daemon.DefaultListen), "address to listen on (host:port; port 0 picks a free one)")
	dataDir := fs.String("data", "", "data directory (default $PLEXUS_DATA_DIR or <user config dir>/plexus)")
	allowNonLoopback := fs.Bool("allow-non-loopback", false, "allow a non-loopback listen address (put TLS in front)")
	keyFile := fs.String("key-file", "", "keep the master key in this plain file (created if missing; weaker than a keyring or passphrase)")
	sessionTTL := fs.Duration("session-ttl", 0, "idle time after which an MCP session expires (default 24h)")
	userTokenTTL := fs.Duration("user-token-ttl", 0, "lifetime of user tokens issued by register-user and the admin API, e.g. 720h (default 0: no expiry, as MCP Plexus)")
	testOptions := conformanceFlag(fs) // only in the conformance build (serve_conformance.go)
	publicURL := fs.String("public-url", env.Getenv("PLEXUS_PUBLIC_URL"), "base URL browsers reach Plexus at, for OAuth redirect URLs (default http://<listen address>)")
	githubAPI := fs.String("github-api-url", envOr(env, "PLEXUS_GITHUB_API_URL", examples.DefaultGitHubAPIURL), "GitHub REST API base URL for the github_* tools")
	weatherAPI := fs.String("weather-api-url", envOr(env, "PLEXUS_WEATHER_API_URL", examples.DefaultWeatherAPIURL), "OpenWeatherMap API base URL for the weather tool")
	logLevel := fs.String("log-level", envOr(env, "PLEXUS_LOG_LEVEL", "info"), "debug, info, warn or error")
	logFile := fs.String("log-file", "", "write the log to this file, rotated at 10 MB, 5 old files kept (default: stderr)")
	auditDays := fs.Int("audit-retention-days", 0, "days audit records are kept in <data dir>/audit (default $PLEXUS_AUDIT_RETENTION_DAYS or 90)")
	forWindow := fs.Bool("ask-in-window", false, "started for the desktop window: a new vault with no OS keyring waits, locked, for a passphrase chosen in the window (instead of a generated key file)")
	if err := parseFlags(fs, args, env, "serve", commandHelp(fs, "plexus serve [flags]", serveHelp)); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageError("serve: unexpected argument %q (see 'plexus serve --help')", fs.Arg(0))
	}
	auditRetention, err := auditRetention(*auditDays, env)
	if err != nil {
		return err
	}
	if *userTokenTTL < 0 {
		return usageError("serve: --user-token-ttl %s: must not be negative (0 means no expiry)", *userTokenTTL)
	}
	for name, v := range map[string]string{"--public-url": *publicURL, "--github-api-url": *githubAPI, "--weather-api-url": *weatherAPI} {
		if err := checkBaseURL(v); err != nil {
			return usageError("serve: %s: %v", name, err)
		}
	}
	dir, err := resolveDataDir(*dataDir, env)
	if err != nil {
		return err
	}
	logOut := env.Stderr
	if *logFile != "" {
		lf := openLogFile(*logFile)
		defer lf.Close()
		logOut = lf
	}
	log, err := newLogger(logOut, *logLevel)
	if err != nil {
		return err
	}
	ask, askNew := passphrasePrompts(env, dir)
	err = daemon.Run(ctx, daemon.Config{
		DataDir:           dir,
		Listen:            *listen,
		AllowNonLoopback:  *allowNonLoopback,
		AdminAPIKey:       env.Getenv("ADMIN_API_KEY"),
		HostAppSecret:     env.Getenv("HOST_APP_REGISTRATION_SECRET"),
		MCPOptionsForTest: testOptions(log),
		SessionIdleTTL:    *sessionTTL,
		UserTokenTTL:      *userTokenTTL,
		AuditRetention:    auditRetention,
		PublicURL:         *publicURL,
		Examples: examples.Config{
			GitHubAPIURL:  *githubAPI,
			WeatherAPIURL: *weatherAPI,
		},
		Vault: vault.Config{
			Getenv:        env.Getenv,
			KeyFile:       *keyFile,
			Passphrase:    ask,
			NewPassphrase: askNew,
		},
		ForWindow:     *forWindow,
		UpstreamEnv:   upstream.BaseEnv(env.Getenv),
		UpstreamGuard: upstreamGuard(env),
		Version:       Version,
		Logger:        log,
	})
	if err != nil && *logFile != "" {
		log.Error("Plexus stopped", "error", err) // main also prints it to stderr
	}
	return err
}

// passphrasePrompts returns the terminal's prompts for the vault: ask for
// an existing vault's passphrase, askNew for a new vault's (typed twice, at
// least vault.MinPassphraseLen characters; Enter alone declines, and the
// vault then keeps a generated key file). Both are nil when stdin is not a
// terminal (a detached daemon cannot ask).
func passphrasePrompts(env Env, dataDir string) (ask func(context.Context, int) (string, error), askNew func(context.Context) (string, error)) {
	f, ok := env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, nil
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(env.Stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", fmt.Errorf("read passphrase: %w", err)
		}
		return string(b), nil
	}
	ask = func(ctx context.Context, attempt int) (string, error) {
		if attempt > 1 {
			fmt.Fprintln(env.Stderr, "That passphrase does not open this vault. Try again.")
		}
		return read("Vault passphrase: ")
	}
	askNew = func(ctx context.Context) (string, error) {
		return askNewPassphrase(read, filepath.Join(dataDir, vault.KeyFileName), env.Stderr)
	}
	return ask, askNew
}

// askNewPassphrase asks for a new vault's passphrase and for it again,
// until both agree and it is long enough (at most 3 rounds). "" means the
// user declined.
func askNewPassphrase(read func(prompt string) (string, error), keyFile string, w io.Writer) (string, error) {
	fmt.Fprintf(w, "No OS keyring is available. Choose a passphrase for the new vault (at least %d characters),\n"+
		"or press Enter alone to keep a generated key in %s instead.\n", vault.MinPassphraseLen, keyFile)
	for round := 1; round <= 3; round++ {
		p, err := read("New vault passphrase: ")
		if err != nil || p == "" {
			return "", err
		}
		if n := utf8.RuneCountInString(p); n < vault.MinPassphraseLen {
			fmt.Fprintf(w, "That is %d characters; use at least %d.\n", n, vault.MinPassphraseLen)
			continue
		}
		again, err := read("Type it again: ")
		if err != nil {
			return "", err
		}
		if again != p {
			fmt.Fprintln(w, "The two passphrases differ. Try again.")
			continue
		}
		return p, nil
	}
	return "", fmt.Errorf("%w: no passphrase chosen in 3 rounds", vault.ErrNoKey)
}

// resolveDataDir picks the --data flag, else PLEXUS_DATA_DIR, else the
// user config dir.
func resolveDataDir(flagValue string, env Env) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	dir, err := localclient.DataDir(env.Getenv)
	if err != nil {
		return "", fmt.Errorf("find data directory (set PLEXUS_DATA_DIR or --data): %w", err)
	}
	return dir, nil
}

func envOr(env Env, key, def string) string {
	if v := env.Getenv(key); v != "" {
		return v
	}
	return def
}

// newLogger builds the one slog logger of a command; it writes to w
// (stderr: stdout may be a protocol channel).
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError("log level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// checkBaseURL accepts "" or a URL that may receive a credential (the one
// validator, egress.CheckURL: https, plain http only to loopback, no user
// info) without a query. The URL is not echoed: it may carry a secret.
func checkBaseURL(raw string) error {
	if raw == "" {
		return nil
	}
	if err := egress.CheckURL(raw); err != nil {
		return err
	}
	if u, err := url.Parse(raw); err != nil || u.RawQuery != "" || u.ForceQuery {
		return errors.New("must not have a query")
	}
	return nil
}

// upstreamGuard is how the daemon runs stdio upstreams under guard: the
// plexus binary itself (main dispatches upstream.GuardCommand). Windows
// has no guard.
func upstreamGuard(env Env) []string {
	if runtime.GOOS == "windows" || env.Exe == "" {
		return nil
	}
	return []string{env.Exe, upstream.GuardCommand}
}
