// This file decides what of a starting command's environment a background
// daemon inherits. (The package doc is in runtime.go.)

package localclient

import (
	"runtime"
	"strings"
)

// clientOnlyVars are PLEXUS_ variables that only client commands read and
// that carry secrets meant for one request (`plexus admin connections
// set-api-key`, `plexus admin ext-oauth create`): they never reach a
// daemon, which would keep them in its environment for its whole life.
var clientOnlyVars = []string{"PLEXUS_API_KEY", "PLEXUS_CLIENT_SECRET"}

// daemonVars are the variables outside the PLEXUS_ namespace that the
// daemon reads as configuration.
var daemonVars = []string{"ADMIN_API_KEY", "HOST_APP_REGISTRATION_SECRET"}

// systemVars are what the daemon needs from the OS environment: where the
// user's files and temp dir are, the locale and time zone, the session bus
// and display for the OS keyring (and its unlock prompt), proxies and CA
// certificates for outbound HTTPS, the Go runtime's knobs, and Windows'
// system variables.
var systemVars = []string{
	"HOME", "USER", "LOGNAME", "PATH", "SHELL", "TMPDIR", "TZ", "LANG", "LANGUAGE",
	"DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"GODEBUG", "GOMAXPROCS", "GOMEMLIMIT", "GOTRACEBACK",
	// Windows
	"SYSTEMROOT", "WINDIR", "SYSTEMDRIVE", "COMSPEC", "PATHEXT", "TEMP", "TMP",
	"USERPROFILE", "USERNAME", "USERDOMAIN", "HOMEDRIVE", "HOMEPATH",
	"APPDATA", "LOCALAPPDATA", "PROGRAMDATA", "PROGRAMFILES", "COMPUTERNAME",
	"NUMBER_OF_PROCESSORS", "PROCESSOR_ARCHITECTURE", "OS",
}

// systemPrefixes are variable families passed whole: the locale (LC_) and
// the XDG base directories and runtime dir (the keyring's bus lives there).
var systemPrefixes = []string{"LC_", "XDG_"}

// DaemonEnv returns the part of environ ("KEY=value" entries) that a
// daemon started in the background may inherit. It is an allowlist: the
// daemon's own configuration (PLEXUS_* except the client-only secrets
// PLEXUS_API_KEY and PLEXUS_CLIENT_SECRET, ADMIN_API_KEY,
// HOST_APP_REGISTRATION_SECRET) and the OS variables it needs. Everything
// else a user's shell holds (cloud credentials, other tools' tokens) stays
// out of a process that lives long and holds credentials of its own.
// Names are compared case-insensitively on Windows.
func DaemonEnv(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if ok && name != "" && daemonMayInherit(name) {
			out = append(out, kv)
		}
	}
	return out
}

func daemonMayInherit(name string) bool {
	eq := func(a, b string) bool { return a == b }
	hasPrefix := strings.HasPrefix
	if runtime.GOOS == "windows" {
		eq = strings.EqualFold
		hasPrefix = func(s, p string) bool { return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) }
	}
	for _, v := range clientOnlyVars {
		if eq(name, v) {
			return false
		}
	}
	if hasPrefix(name, "PLEXUS_") {
		return true
	}
	for _, list := range [][]string{daemonVars, systemVars} {
		for _, v := range list {
			if eq(name, v) {
				return true
			}
		}
	}
	for _, p := range systemPrefixes {
		if hasPrefix(name, p) {
			return true
		}
	}
	return false
}
