// Package app is Plexus's user-facing shell: it shows the admin UI in the
// desktop window (Wails, build tag "desktop") or, without that tag, in the
// user's browser. Its sub-packages hold the daemon (daemon), the commands
// (cli), the admin API (adminapi) and the client of the daemon
// (localclient). Nothing outside app imports Wails.
package app
