// Package upstream runs Plexus's side of one upstream MCP server: the
// connection (mcp-go's client over stdio, streamable HTTP or the older
// HTTP+SSE transport), the process of a stdio upstream and its
// supervision, the forwarding of calls with their progress and log
// notifications, and the bounded log an administrator reads.
//
// # One session, shared
//
// An Instance keeps one MCP session to its upstream open and sends every
// call through it (the stdio pipes and HTTP connections are reused; no
// call starts a process or a handshake). Concurrent calls share it: each
// call's progress token is swapped for one of the Instance's own, so the
// upstream's notifications/progress reach the one call they belong to;
// its log messages (notifications/message, which name no request) go to
// the calls in flight when they arrive, and to the Instance's Log.
//
// # Supervision
//
// An Instance starts lazily, on its first use. A stdio upstream runs in a
// process group of its own, started through a guard (GuardCommand, the
// plexus binary itself) that holds the read end of a pipe whose write end
// only the daemon has: when the daemon exits, even by kill -9, the pipe
// closes and the guard kills the whole group, so no upstream (nor what it
// started, such as the node process behind npx) outlives Plexus. Without a
// guard the process group and, on Linux, the parent-death signal do what
// they can. A process that exits unexpectedly is started again after a
// backoff (doubling from half a second to 30 seconds, reset after a minute
// of good health) while the upstream is in use; a call that times out is
// followed by a ping, and an upstream that does not answer it is killed
// and restarted. An Instance stops after IdleTimeout without calls, when
// Stop is called (the upstream was removed or changed) and at shutdown.
// A hung upstream holds only its own callers, up to their timeout.
//
// # Secrets
//
// A stdio upstream gets a minimal environment (BaseEnv: PATH, HOME,
// locale, temp and proxy settings, never the daemon's own PLEXUS_
// variables) plus its declared variables; credentials are added to it at
// each start by Config.Prepare and never appear in an argument list or a
// log line: the Log masks every injected value that the upstream itself
// prints. Credentials for HTTP upstreams live in the *http.Client that
// Prepare returns (vault/egress: the credential goes to the upstream's
// origin only, and no redirect carries it elsewhere).
package upstream
