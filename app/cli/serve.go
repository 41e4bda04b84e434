package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"

	"golang.org/x/term"

	"github.com/plexus-mcp/plexus/app/daemon"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/mcpserver/examples"
	"github.com/plexus-mcp/plexus/vault"
)

// Serve runs the daemon in the foreground until ctx ends (SIGINT/SIGTERM).
func Serve(ctx context.Context, args []string, env Env) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	listen := fs.String("listen", envOr(env, "PLEXUS_LISTEN", daemon.DefaultListen), "address to listen on (host:port; port 0 picks a free one)")
	dataDir := fs.String("data", "", "data directory (default $PLEXUS_DATA_DIR or <user config dir>/plexus)")
	allowNonLoopback := fs.Bool("allow-non-loopback", false, "allow a non-loopback listen address (put TLS in front)")
	keyFile := fs.String("key-file", "", "keep the master key in this plain file (only if no keyring; not recommended)")
	sessionTTL := fs.Duration("session-ttl", 0, "idle time after which an MCP session expires (default 24h)")
	conformance := fs.String("conformance-tenant", "", "test only: serve the MCP conformance fixtures on this tenant")
	publicURL := fs.String("public-url", env.Getenv("PLEXUS_PUBLIC_URL"), "base URL browsers reach Plexus at, for OAuth redirect URLs (default http://<listen address>)")
	githubAPI := fs.String("github-api-url", envOr(env, "PLEXUS_GITHUB_API_URL", examples.DefaultGitHubAPIURL), "GitHub REST API base URL for the github_* tools")
	weatherAPI := fs.String("weather-api-url", envOr(env, "PLEXUS_WEATHER_API_URL", examples.DefaultWeatherAPIURL), "OpenWeatherMap API base URL for the weather tool")
	logLevel := fs.String("log-level", envOr(env, "PLEXUS_LOG_LEVEL", "info"), "debug, info, warn or error")
	logFile := fs.String("log-file", "", "write the log to this file, rotated at 10 MB, 5 old files kept (default: stderr)")
	if err := fs.Parse(args); err != nil {
		return usageError("serve: %v", err)
	}
	if fs.NArg() > 0 {
		return usageError("serve: unexpected argument %q", fs.Arg(0))
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
	err = daemon.Run(ctx, daemon.Config{
		DataDir:           dir,
		Listen:            *listen,
		AllowNonLoopback:  *allowNonLoopback,
		AdminAPIKey:       env.Getenv("ADMIN_API_KEY"),
		HostAppSecret:     env.Getenv("HOST_APP_REGISTRATION_SECRET"),
		ConformanceTenant: *conformance,
		SessionIdleTTL:    *sessionTTL,
		PublicURL:         *publicURL,
		Examples: examples.Config{
			GitHubAPIURL:  *githubAPI,
			WeatherAPIURL: *weatherAPI,
		},
		Vault: vault.Config{
			Getenv:     env.Getenv,
			KeyFile:    *keyFile,
			Passphrase: passphrasePrompt(env),
		},
		Version: Version,
		Logger:  log,
	})
	if err != nil && *logFile != "" {
		log.Error("Plexus stopped", "error", err) // main also prints it to stderr
	}
	return err
}

// passphrasePrompt asks on the terminal for the vault passphrase, or returns
// nil when stdin is not a terminal (a detached daemon cannot ask).
func passphrasePrompt(env Env) func(ctx context.Context, attempt int) (string, error) {
	f, ok := env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(ctx context.Context, attempt int) (string, error) {
		if attempt > 1 {
			fmt.Fprintln(env.Stderr, "That passphrase does not open this vault. Try again.")
		}
		fmt.Fprint(env.Stderr, "No OS keyring is available. Vault passphrase: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", fmt.Errorf("read passphrase: %w", err)
		}
		return string(b), nil
	}
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

// checkBaseURL accepts "" or an absolute http(s) URL without query or
// fragment.
func checkBaseURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %q", raw)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("want an absolute http(s) URL without query, got %q", raw)
	}
	return nil
}
