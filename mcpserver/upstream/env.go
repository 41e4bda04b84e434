package upstream

import (
	"runtime"
	"slices"
	"strings"
)

// baseEnvNames are the variables of the daemon's environment a stdio
// upstream inherits: what finding programs, a home, the locale, temporary
// files, certificates and proxies need, nothing else. Everything else the
// daemon has (PLEXUS_MASTER_KEY, ADMIN_API_KEY, tokens of its own) stays
// with the daemon.
var baseEnvNames = []string{
	"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ",
	"TMPDIR", "TEMP", "TMP",
	"XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR", "XDG_STATE_HOME",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
}

// windowsEnvNames are what programs on Windows cannot start without.
var windowsEnvNames = []string{
	"SYSTEMROOT", "SystemRoot", "WINDIR", "COMSPEC", "PATHEXT", "APPDATA", "LOCALAPPDATA", "USERPROFILE",
	"PROGRAMDATA", "PROGRAMFILES", "ProgramFiles(x86)", "HOMEDRIVE", "HOMEPATH", "NUMBER_OF_PROCESSORS", "PROCESSOR_ARCHITECTURE",
}

// BaseEnv returns the minimal environment of a stdio upstream, read from
// getenv (the daemon's environment): PATH, HOME, user, locale, temporary
// directories, XDG directories, certificate and proxy settings (and on
// Windows what a program needs to start). No PLEXUS_ variable is ever
// part of it.
func BaseEnv(getenv func(string) string) []string {
	names := baseEnvNames
	if runtime.GOOS == "windows" {
		names = append(slices.Clone(names), windowsEnvNames...)
	}
	var out []string
	for _, n := range names {
		v := getenv(n)
		if n == "PATH" {
			v = withProgramDirs(v, runtime.GOOS)
		}
		if v != "" && !strings.HasPrefix(strings.ToUpper(n), "PLEXUS_") {
			out = append(out, n+"="+v)
		}
	}
	return out
}

// programDirs are where package managers put programs such as npx and uvx
// on macOS (Homebrew on Apple silicon and on Intel): an app started from
// the Dock or Finder gets only /usr/bin:/bin:/usr/sbin:/sbin, so an
// upstream's "npx …" would not be found there although it is in every
// terminal.
var programDirs = map[string][]string{
	"darwin": {"/opt/homebrew/bin", "/usr/local/bin"},
}

// withProgramDirs appends goos's programDirs that path lacks (after the
// person's own, which win).
func withProgramDirs(path, goos string) string {
	have := strings.Split(path, ":")
	for _, d := range programDirs[goos] {
		if slices.Contains(have, d) {
			continue
		}
		if path == "" {
			path = d
		} else {
			path += ":" + d
		}
		have = append(have, d)
	}
	return path
}

// mergeEnv returns base with each of add ("NAME=value") set, later values
// replacing earlier ones of the same name.
func mergeEnv(base []string, add ...string) []string {
	out := slices.Clone(base)
	for _, kv := range add {
		name, _, _ := strings.Cut(kv, "=")
		out = slices.DeleteFunc(out, func(e string) bool {
			n, _, _ := strings.Cut(e, "=")
			return n == name
		})
		out = append(out, kv)
	}
	return out
}
