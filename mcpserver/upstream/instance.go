package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/vault/egress"
)

// Transports.
const (
	TransportStdio = "stdio"
	TransportHTTP  = "http"
	TransportSSE   = "sse"
)

// Defaults of a Config.
const (
	DefaultCallTimeout  = 60 * time.Second
	DefaultIdleTimeout  = 10 * time.Minute
	DefaultStartTimeout = 60 * time.Second
	// pingTimeout bounds the health check after a call timed out.
	pingTimeout = 5 * time.Second
	// listTimeout bounds reading the upstream's item lists.
	listTimeout = 30 * time.Second
	// Backoff between restarts: doubling from backoffBase to backoffMax,
	// back to backoffBase once a process ran for stableAfter.
	backoffBase = 500 * time.Millisecond
	backoffMax  = 30 * time.Second
	stableAfter = time.Minute
	// maxItems bounds each of an upstream's item lists.
	maxItems = 1000
	// maxStdoutLine bounds one JSON-RPC message from a stdio upstream.
	maxStdoutLine = 32 << 20
)

// Errors. Callers test them with errors.Is.
var (
	// ErrClosed is returned for calls to an Instance that was closed.
	ErrClosed = errors.New("upstream removed or stopped")
	// ErrTimeout is wrapped by the error of a call the upstream did not
	// answer within its call timeout.
	ErrTimeout = errors.New("upstream did not answer in time")
	// ErrUnavailable is wrapped by the error of a call that could not
	// reach the upstream: it could not start, or its process or
	// connection was lost.
	ErrUnavailable = errors.New("upstream unavailable")
)

// Launch is what Config.Prepare gives a start: the complete environment
// of a stdio upstream (BaseEnv and the credentials included), or the HTTP
// client of an http or sse upstream (which adds the credentials itself),
// and the secret values among them (masked in the Log).
type Launch struct {
	Env        []string
	HTTPClient *http.Client
	Secrets    []string
	// Seen, when set, returns credentials the HTTP client adds by itself
	// (an OAuth token, which changes when refreshed): redacted like
	// Secrets in what comes back.
	Seen func() []string
}

// Config says how to reach one upstream.
type Config struct {
	// Name is the upstream's name, for the log and for errors.
	Name string
	// Transport is TransportStdio, TransportHTTP or TransportSSE.
	Transport string
	// Command and Args start a stdio upstream (directly, never through a
	// shell).
	Command string
	Args    []string
	// URL is the endpoint of an http or sse upstream.
	URL string
	// Guard is the argv prefix of the guard a stdio upstream runs under
	// (for example the plexus binary and GuardCommand); nil: none.
	Guard []string
	// Prepare is called before every start. An error it returns goes to
	// the caller as it is (for example a missing credential) and does not
	// count as a failed start.
	Prepare func(ctx context.Context) (Launch, error)
	// CallTimeout bounds each call; IdleTimeout stops the upstream after
	// so long without calls; StartTimeout bounds starting it and reading
	// its items. Zero means the defaults.
	CallTimeout, IdleTimeout, StartTimeout time.Duration
	// Log receives the upstream's stderr, log messages and Plexus's lines
	// about it; nil means a new Log of its own.
	Log *Log
	// Logger is the daemon's logger (nil: discard).
	Logger *slog.Logger
	// Version is Plexus's version, sent as clientInfo.
	Version string
	// OnCatalog, if set, is called with the upstream's items after each
	// start and after each list_changed notification (from a goroutine
	// of the Instance's own, one call at a time).
	OnCatalog func(Catalog)
	// OnState, if set, is called after the Instance's state changed, with
	// the state it is in when called and its last error (a plain
	// sentence, "" when none); calls are made one at a time, never under
	// the Instance's lock, so the last call tells the current state.
	OnState func(state State, lastError string)
	// OnRestart, if set, is called when the upstream started again after
	// a failed start or an unexpected end (not for a first start, nor for
	// a start after an idle stop or an administrator's restart).
	OnRestart func()
}

// Catalog is what an upstream offers.
type Catalog struct {
	Tools     []mcp.Tool
	Resources []mcp.Resource
	Templates []mcp.ResourceTemplate
	Prompts   []mcp.Prompt
}

// State is where an Instance is in its life.
type State string

// States.
const (
	StateStopped  State = "stopped"  // not started yet, or stopped when idle
	StateStarting State = "starting" // being started
	StateRunning  State = "running"
	StateBackoff  State = "backoff" // failed or exited; restarts at NextStart
	StateClosed   State = "closed"  // removed, changed or shut down
)

// Status says how an Instance is doing.
type Status struct {
	State State `json:"state"`
	// PID is the process id of a running stdio upstream (its guard's).
	PID       int       `json:"pid,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	// Starts counts successful starts; Failures failed starts and
	// unexpected exits.
	Starts    int       `json:"starts"`
	Failures  int       `json:"failures"`
	LastError string    `json:"last_error,omitempty"`
	NextStart time.Time `json:"next_start,omitzero"`
	InFlight  int       `json:"in_flight"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	// Server is the upstream's own name and version; Protocol the
	// protocol version in use.
	Server   string `json:"server,omitempty"`
	Protocol string `json:"protocol,omitempty"`
}

// Sink is where one call's notifications go: Progress gets the upstream's
// progress for this call (only when the caller asked for progress), Log
// the log messages the upstream sends while the call is in flight. Both
// must not block. Key identifies the downstream session, so a session
// with several calls in flight gets each log message once. Owner is the
// person the call is for (a user, or a guest's session): a log message
// belongs to no call in particular, so it reaches the calls in flight only
// when they are all one person's — it could tell one person what another
// asked for. (It is always in the upstream's log.)
type Sink struct {
	Progress func(p mcp.ProgressNotificationParams)
	Log      func(m mcp.LoggingMessageNotificationParams)
	Key      any
	Owner    string
}

// Instance is one session with one upstream (for a stdio upstream: one
// process), shared by every call sent through it. Create it with New;
// it starts on its first use. Safe for concurrent use.
type Instance struct {
	cfg  Config
	log  *Log
	slog *slog.Logger

	mu        sync.Mutex
	state     State
	conn      *conn
	attempt   *attempt // the start in progress (StateStarting)
	backoff   time.Duration
	nextStart time.Time
	restartT  *time.Timer
	idleT     *time.Timer
	inflight  int
	lastUsed  time.Time
	starts    int
	failures  int
	lastError string
	catalog   Catalog
	listed    bool

	// Notification routing: calls in flight, by progress token.
	callsMu  sync.Mutex
	calls    map[*call]struct{}
	progress map[string]*call
	seq      atomic.Uint64

	refreshMu      sync.Mutex
	refreshPending bool

	// stateMu orders the OnState calls; failed says the next successful
	// start is a restart (OnRestart).
	stateMu sync.Mutex
	failed  bool
}

// attempt is one start; waiters read err once done is closed. cancel
// ends it early (Close).
type attempt struct {
	done   chan struct{}
	err    error
	ctx    context.Context
	cancel context.CancelFunc
}

// conn is one live session.
type conn struct {
	c        *client.Client
	proc     *process
	cancel   context.CancelFunc // ends the session's own context (streams)
	gone     chan struct{}      // closed when the process exited (stdio)
	started  time.Time
	server   string
	protocol string
	caps     mcp.ServerCapabilities
	// secrets are the credentials this session was started with, and
	// seen the ones its HTTP client added by itself: never handed back to
	// a client, even when the upstream echoes them.
	secrets []string
	seen    func() []string
}

// call is one call in flight.
type call struct {
	sink  Sink
	token string // the progress token sent upstream ("" = none)
}

// New returns an Instance for cfg; nothing starts until it is used.
func New(cfg Config) *Instance {
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	l := cfg.Log
	if l == nil {
		l = NewLog(0)
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &Instance{
		cfg:      cfg,
		log:      l,
		slog:     lg.With("upstream", cfg.Name),
		state:    StateStopped,
		backoff:  backoffBase,
		calls:    make(map[*call]struct{}),
		progress: make(map[string]*call),
	}
}

// Log returns the Instance's log.
func (in *Instance) Log() *Log { return in.log }

// Status reports how the Instance is doing.
func (in *Instance) Status() Status {
	in.mu.Lock()
	defer in.mu.Unlock()
	st := Status{
		State:     in.state,
		Starts:    in.starts,
		Failures:  in.failures,
		LastError: in.lastError,
		InFlight:  in.inflight,
		LastUsed:  in.lastUsed,
	}
	if in.state == StateBackoff {
		st.NextStart = in.nextStart
	}
	if c := in.conn; c != nil {
		st.StartedAt, st.Server, st.Protocol = c.started, c.server, c.protocol
		if c.proc != nil {
			st.PID = c.proc.pid()
		}
	}
	return st
}

// Catalog returns the items the upstream offered when last asked, and
// whether it has been asked at all.
func (in *Instance) Catalog() (Catalog, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.catalog, in.listed
}

// Start starts the upstream if it is not running (waiting at most until
// ctx ends); its items are read before Start returns.
func (in *Instance) Start(ctx context.Context) error {
	c, err := in.acquire(ctx)
	if err != nil {
		return err
	}
	in.release(c)
	return nil
}

// Close stops the upstream for good (its process, if any, is stopped and
// waited for, about 5 seconds at most); calls in flight fail and later
// ones get ErrClosed. Safe to call more than once.
func (in *Instance) Close() {
	in.mu.Lock()
	if in.state == StateClosed {
		in.mu.Unlock()
		return
	}
	in.state = StateClosed
	c := in.conn
	in.conn = nil
	in.stopTimersLocked()
	a := in.attempt
	in.mu.Unlock()
	in.stateChanged(false)
	if c != nil {
		in.closeConn(c)
		in.log.Add("plexus", "stopped")
	}
	if a != nil {
		a.cancel() // a start that hangs (no answer to initialize) ends now
		<-a.done   // the start in progress sees StateClosed and cleans up
	}
}

func (in *Instance) stopTimersLocked() {
	if in.restartT != nil {
		in.restartT.Stop()
		in.restartT = nil
	}
	if in.idleT != nil {
		in.idleT.Stop()
		in.idleT = nil
	}
}

// acquire returns the live session, starting it if needed, and counts the
// caller as in flight until release.
func (in *Instance) acquire(ctx context.Context) (*conn, error) {
	for {
		in.mu.Lock()
		switch in.state {
		case StateClosed:
			in.mu.Unlock()
			return nil, fmt.Errorf("upstream %s: %w", in.cfg.Name, ErrClosed)
		case StateRunning:
			c := in.conn
			in.inflight++
			in.mu.Unlock()
			return c, nil
		case StateStarting:
			a := in.attempt
			in.mu.Unlock()
			select {
			case <-a.done:
				if a.err != nil {
					return nil, a.err
				}
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		case StateBackoff:
			wait := time.Until(in.nextStart)
			if wait > 0 {
				in.mu.Unlock()
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return nil, ctx.Err()
				}
				continue
			}
			in.beginStartLocked()
			in.mu.Unlock()
		default: // StateStopped
			in.beginStartLocked()
			in.mu.Unlock()
		}
	}
}

// beginStartLocked starts a start attempt in the background.
func (in *Instance) beginStartLocked() {
	a := &attempt{done: make(chan struct{})}
	a.ctx, a.cancel = context.WithTimeout(context.Background(), in.cfg.StartTimeout)
	in.attempt = a
	in.state = StateStarting
	if in.restartT != nil {
		in.restartT.Stop()
		in.restartT = nil
	}
	go in.start(a)
}

// release ends a call's use of the session. (The idle timer, armed once
// per start, looks at lastUsed when it fires: no timer work per call.)
func (in *Instance) release(*conn) {
	now := time.Now()
	in.mu.Lock()
	in.inflight--
	in.lastUsed = now
	in.mu.Unlock()
}

// idle stops a session unused for IdleTimeout; while it is in use, the
// timer is set again for the rest of the time.
func (in *Instance) idle() {
	in.mu.Lock()
	c := in.conn
	if in.state != StateRunning || in.idleT == nil {
		in.mu.Unlock()
		return
	}
	if unused := time.Since(in.lastUsed); in.inflight > 0 || unused < in.cfg.IdleTimeout {
		wait := in.cfg.IdleTimeout - unused
		if in.inflight > 0 || wait <= 0 {
			wait = in.cfg.IdleTimeout
		}
		in.idleT.Reset(wait)
		in.mu.Unlock()
		return
	}
	in.idleT = nil
	in.conn = nil
	in.state = StateStopped
	in.mu.Unlock()
	in.stateChanged(false)
	in.log.Add("plexus", fmt.Sprintf("stopped after %s without calls", in.cfg.IdleTimeout))
	in.closeConn(c)
}

// start runs one start attempt: Prepare, connect, initialize, read the
// items.
func (in *Instance) start(a *attempt) {
	in.stateChanged(false)
	ctx := a.ctx
	defer a.cancel()
	launch, err := in.cfg.Prepare(ctx)
	if err != nil {
		// Not the upstream's fault (a missing credential, say): no backoff.
		in.finishStart(a, nil, err, false)
		return
	}
	in.log.Mask(launch.Secrets...)
	c, err := in.connect(ctx, launch)
	if err != nil {
		in.finishStart(a, nil, err, true)
		return
	}
	cat, err := in.list(ctx, c)
	if err != nil {
		in.log.Add("plexus", "could not read the upstream's items: "+err.Error())
	} else {
		// Before the start counts as done: who waited for it finds the
		// items in place.
		in.setCatalog(cat)
	}
	in.finishStart(a, c, nil, false)
}

// finishStart records the outcome of attempt a.
func (in *Instance) finishStart(a *attempt, c *conn, err error, failed bool) {
	in.mu.Lock()
	if in.state == StateClosed {
		in.mu.Unlock()
		if c != nil {
			in.closeConn(c)
		}
		a.err = fmt.Errorf("upstream %s: %w", in.cfg.Name, ErrClosed)
		close(a.done)
		return
	}
	in.attempt = nil
	switch {
	case err == nil:
		in.state = StateRunning
		in.conn = c
		in.starts++
		in.lastError = ""
		in.lastUsed = time.Now()
		if in.idleT != nil {
			in.idleT.Stop()
		}
		in.idleT = time.AfterFunc(in.cfg.IdleTimeout, in.idle)
		restarted := in.failed
		in.failed = false
		in.mu.Unlock()
		in.stateChanged(restarted)
		msg := "started"
		if c.proc != nil {
			msg = fmt.Sprintf("started (pid %d)", c.proc.pid())
		}
		in.log.Add("plexus", fmt.Sprintf("%s; server %s, protocol %s", msg, c.server, c.protocol))
		if c.gone != nil {
			go in.watch(c)
		}
	case failed:
		err = fmt.Errorf("upstream %s could not start: %w: %w%s", in.cfg.Name, ErrUnavailable, err, in.stderrHint())
		in.failures++
		in.lastError = err.Error()
		in.state = StateBackoff
		in.nextStart = time.Now().Add(in.backoff)
		wait := in.backoff
		in.backoff = min(in.backoff*2, backoffMax)
		in.failed = true
		in.mu.Unlock()
		in.stateChanged(false)
		in.log.Add("plexus", fmt.Sprintf("start failed: %v; next attempt in %s", err, wait))
		in.slog.Warn("Upstream could not start", "err", err, "retryIn", wait)
	default:
		in.state = StateStopped
		in.lastError = err.Error()
		in.mu.Unlock()
		in.stateChanged(false)
	}
	a.err = err
	close(a.done)
}

// stateChanged tells Config.OnState the current state (and
// Config.OnRestart of a restart). Call it without in.mu held.
func (in *Instance) stateChanged(restarted bool) {
	if restarted && in.cfg.OnRestart != nil {
		in.cfg.OnRestart()
	}
	if in.cfg.OnState == nil {
		return
	}
	in.stateMu.Lock()
	defer in.stateMu.Unlock()
	in.mu.Lock()
	st, detail := in.state, in.lastError
	in.mu.Unlock()
	in.cfg.OnState(st, detail)
}

// stderrHint is the last lines of the upstream's stderr, for an error.
func (in *Instance) stderrHint() string {
	if t := in.log.Tail("stderr", 3); t != "" {
		return "; its last output: " + strings.ReplaceAll(t, "\n", " | ")
	}
	return ""
}

// watch waits for c's process to exit; an exit nobody asked for is a
// crash: the upstream restarts after the backoff while it is in use.
func (in *Instance) watch(c *conn) {
	<-c.gone
	in.lost(c, fmt.Errorf("process exited: %v", exitText(c.proc.exitErr)))
}

func exitText(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// lost handles the unexpected end of session c (process exit, broken
// connection, no answer to a ping): it is closed, and the upstream is
// started again after the backoff if it was used within IdleTimeout.
func (in *Instance) lost(c *conn, why error) {
	in.mu.Lock()
	if in.conn != c {
		in.mu.Unlock()
		return // stopped or replaced on purpose
	}
	in.conn = nil
	in.failures++
	in.lastError = why.Error()
	if time.Since(c.started) >= stableAfter {
		in.backoff = backoffBase
	}
	wait := in.backoff
	in.backoff = min(in.backoff*2, backoffMax)
	in.state = StateBackoff
	in.nextStart = time.Now().Add(wait)
	if in.idleT != nil {
		in.idleT.Stop()
		in.idleT = nil
	}
	eager := time.Since(in.lastUsed) < in.cfg.IdleTimeout
	if eager {
		in.restartT = time.AfterFunc(wait, in.restart)
	}
	in.failed = true
	in.mu.Unlock()
	in.stateChanged(false)
	in.log.Add("plexus", fmt.Sprintf("%v; restarting in %s", why, wait))
	in.slog.Warn("Upstream lost", "why", why.Error(), "restartIn", wait)
	go in.closeConn(c)
}

// restart is the backoff timer of an upstream that was in use.
func (in *Instance) restart() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.restartT = nil
	if in.state == StateBackoff && !time.Now().Before(in.nextStart) {
		in.beginStartLocked()
	}
}

// closeConn ends a session: the MCP client, then the process.
func (in *Instance) closeConn(c *conn) {
	done := make(chan struct{})
	go func() {
		_ = c.c.Close() // stdio: closes stdin; http: DELETE of the session (bounded by mcp-go)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(6 * time.Second):
	}
	c.cancel()
	if c.proc != nil {
		c.proc.stop(stopGrace)
	}
}

// connect starts the process (stdio) or opens the connection (http,
// sse) and runs the initialize handshake.
func (in *Instance) connect(ctx context.Context, l Launch) (_ *conn, err error) {
	sctx, cancel := context.WithCancel(context.Background())
	c := &conn{cancel: cancel, secrets: l.Secrets, seen: l.Seen}
	defer func() {
		if err != nil {
			if c.c != nil {
				_ = c.c.Close()
			}
			cancel()
			if c.proc != nil {
				c.proc.stop(stopGrace)
				// Let its last words reach the log: they say why.
				select {
				case <-c.proc.stderrDone:
				case <-time.After(time.Second):
				}
			}
		}
	}()
	var t transport.Interface
	switch in.cfg.Transport {
	case TransportStdio:
		p, err := spawn(spawnSpec{
			Path: in.cfg.Command, Args: in.cfg.Args, Env: l.Env, Guard: in.cfg.Guard,
			Stderr: func(r io.Reader) { in.log.copyLines("stderr", r) },
		})
		if err != nil {
			return nil, err
		}
		c.proc, c.gone = p, p.exited
		t = transport.NewIO(&lineLimit{r: p.stdout, max: maxStdoutLine}, p.stdin, nil)
	case TransportHTTP:
		hc := l.HTTPClient
		if hc == nil {
			return nil, errors.New("no HTTP client for an http upstream")
		}
		st, err := transport.NewStreamableHTTP(in.cfg.URL,
			transport.WithHTTPBasicClient(hc),
			//lint:ignore SA1019 the session is pinned to 2025-11-25, whose GET stream carries list_changed
			transport.WithContinuousListening(),
			transport.WithHTTPLogger(in.slog))
		if err != nil {
			return nil, err
		}
		t = st
	case TransportSSE:
		hc := l.HTTPClient
		if hc == nil {
			return nil, errors.New("no HTTP client for an sse upstream")
		}
		st, err := transport.NewSSE(in.cfg.URL, transport.WithHTTPClient(hc), transport.WithSSELogger(in.slog))
		if err != nil {
			return nil, err
		}
		t = st
	default:
		return nil, fmt.Errorf("unknown transport %q", in.cfg.Transport)
	}
	c.c = client.NewClient(t, client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION))
	if err := c.c.Start(sctx); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	c.c.OnNotification(in.onNotification)
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	req.Params.ClientInfo = mcp.Implementation{Name: "plexus", Version: in.cfg.Version}
	res, err := c.c.Initialize(ctx, req)
	if err != nil {
		if errors.Is(err, transport.ErrLegacySSEServer) {
			return nil, fmt.Errorf("initialize: %w (the server seems to speak only the older HTTP+SSE transport: use transport sse)", err)
		}
		return nil, fmt.Errorf("initialize: %w", unreachable(err))
	}
	if res.Capabilities.Logging != nil {
		// Servers send only errors until told otherwise; Plexus takes every
		// level and each client's session filters for itself.
		//lint:ignore SA1019 the session is pinned to 2025-11-25, where the level is set once
		if err := c.c.SetLevel(ctx, mcp.SetLevelRequest{Params: mcp.SetLevelParams{Level: mcp.LoggingLevelDebug}}); err != nil {
			in.log.Add("plexus", "logging/setLevel refused: "+err.Error())
		}
	}
	c.started = time.Now()
	c.server = res.ServerInfo.Name + " " + res.ServerInfo.Version
	c.protocol = res.ProtocolVersion
	c.caps = res.Capabilities
	return c, nil
}

// unreachableError says that an HTTP upstream could not be reached, in
// one sentence instead of the transports' stacked wrappings ("transport
// error: failed to send request: failed to send request: Post …"); it
// unwraps to the original error.
type unreachableError struct {
	url   string
	cause error // the network's reason
	err   error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("could not reach %s: %v", e.url, e.cause)
}

func (e *unreachableError) Unwrap() error { return e.err }

// unreachable is err, told as an unreachableError when a request never
// got an answer.
func unreachable(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok && ue.Err != nil {
		return &unreachableError{url: ue.URL, cause: ue.Err, err: err}
	}
	return err
}

// list reads the upstream's items, as its capabilities announce them.
func (in *Instance) list(ctx context.Context, c *conn) (Catalog, error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	var cat Catalog
	var errs []error
	if c.caps.Tools != nil {
		r, err := c.c.ListTools(ctx, mcp.ListToolsRequest{})
		if err != nil {
			errs = append(errs, fmt.Errorf("tools/list: %w", err))
		} else {
			cat.Tools = boundList(in, "tools", r.Tools)
		}
	}
	if c.caps.Resources != nil {
		r, err := c.c.ListResources(ctx, mcp.ListResourcesRequest{})
		if err != nil {
			errs = append(errs, fmt.Errorf("resources/list: %w", err))
		} else {
			cat.Resources = boundList(in, "resources", r.Resources)
		}
		tr, err := c.c.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
		if err != nil && !errors.Is(err, mcp.ErrMethodNotFound) {
			errs = append(errs, fmt.Errorf("resources/templates/list: %w", err))
		} else if err == nil {
			cat.Templates = boundList(in, "resource templates", tr.ResourceTemplates)
		}
	}
	if c.caps.Prompts != nil {
		r, err := c.c.ListPrompts(ctx, mcp.ListPromptsRequest{})
		if err != nil {
			errs = append(errs, fmt.Errorf("prompts/list: %w", err))
		} else {
			cat.Prompts = boundList(in, "prompts", r.Prompts)
		}
	}
	return cat, errors.Join(errs...)
}

func boundList[T any](in *Instance, kind string, items []T) []T {
	if len(items) > maxItems {
		in.log.Add("plexus", fmt.Sprintf("the upstream offers %d %s; only the first %d are used", len(items), kind, maxItems))
		return items[:maxItems]
	}
	return items
}

// setCatalog stores cat and tells Config.OnCatalog.
func (in *Instance) setCatalog(cat Catalog) {
	in.mu.Lock()
	in.catalog, in.listed = cat, true
	in.mu.Unlock()
	if in.cfg.OnCatalog != nil {
		in.cfg.OnCatalog(cat)
	}
}

// refresh reads the items again after a list_changed notification; one
// refresh runs at a time and notifications meanwhile fold into one more.
func (in *Instance) refresh() {
	in.refreshMu.Lock()
	if in.refreshPending {
		in.refreshMu.Unlock()
		return
	}
	in.refreshPending = true
	in.refreshMu.Unlock()
	go func() {
		time.Sleep(50 * time.Millisecond) // let a burst of notifications settle
		in.refreshMu.Lock()
		in.refreshPending = false
		in.refreshMu.Unlock()
		c, err := in.acquireRunning()
		if err != nil {
			return
		}
		defer in.release(c)
		cat, err := in.list(context.Background(), c)
		if err != nil {
			in.log.Add("plexus", "could not read the upstream's items after list_changed: "+err.Error())
			return
		}
		in.setCatalog(cat)
	}()
}

// acquireRunning is acquire without starting: the session if it runs.
func (in *Instance) acquireRunning() (*conn, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.state != StateRunning {
		return nil, ErrUnavailable
	}
	in.inflight++
	return in.conn, nil
}

// onNotification routes what the upstream sends outside responses.
func (in *Instance) onNotification(n mcp.JSONRPCNotification) {
	switch mcp.MCPMethod(n.Method) {
	case mcp.MethodNotificationToolsListChanged, mcp.MethodNotificationResourcesListChanged, mcp.MethodNotificationPromptsListChanged:
		in.refresh()
	case "notifications/progress":
		in.routeProgress(n)
	case "notifications/message":
		in.routeLog(n)
	}
}

func (in *Instance) routeProgress(n mcp.JSONRPCNotification) {
	f := n.Params.AdditionalFields
	tok, ok := f["progressToken"].(string)
	if !ok {
		return
	}
	in.callsMu.Lock()
	c := in.progress[tok]
	in.callsMu.Unlock()
	if c == nil || c.sink.Progress == nil {
		return
	}
	p := mcp.ProgressNotificationParams{}
	p.Progress, _ = f["progress"].(float64)
	p.Total, _ = f["total"].(float64)
	p.Message, _ = f["message"].(string)
	if sec := in.secrets(); len(sec) > 0 {
		p.Message = egress.RedactText(p.Message, sec)
	}
	c.sink.Progress(p)
}

// secrets are the credentials of the live session, for redacting what it
// sends outside a call's answer (nil when it has none).
func (in *Instance) secrets() []string {
	in.mu.Lock()
	c := in.conn
	in.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.credentials()
}

// credentials are those c was started with and those its HTTP client has
// added since.
func (c *conn) credentials() []string {
	if c.seen == nil {
		return c.secrets
	}
	return append(slices.Clip(c.secrets), c.seen()...)
}

func (in *Instance) routeLog(n mcp.JSONRPCNotification) {
	f := n.Params.AdditionalFields
	m := mcp.LoggingMessageNotificationParams{Data: f["data"]}
	if lv, ok := f["level"].(string); ok {
		m.Level = mcp.LoggingLevel(lv)
	}
	m.Logger, _ = f["logger"].(string)
	text := fmt.Sprint(m.Data)
	if s, ok := m.Data.(string); ok {
		text = s
	}
	if m.Logger != "" {
		text = m.Logger + ": " + text
	}
	if sec := in.secrets(); len(sec) > 0 { // a message that quotes a credential
		text = egress.RedactText(text, sec)
		if b, err := json.Marshal(m.Data); err == nil {
			if r := egress.RedactJSON(b, sec); !bytes.Equal(r, b) {
				m.Data = json.RawMessage(r)
			}
		}
	}
	in.log.Add("notification", string(m.Level)+": "+text)
	in.callsMu.Lock()
	sinks := make([]Sink, 0, len(in.calls))
	seen := map[any]bool{}
	owners := map[string]bool{}
	for c := range in.calls {
		if c.sink.Log == nil {
			continue
		}
		owners[c.sink.Owner] = true
		if c.sink.Key != nil && seen[c.sink.Key] {
			continue
		}
		seen[c.sink.Key] = true
		sinks = append(sinks, c.sink)
	}
	in.callsMu.Unlock()
	if len(owners) > 1 {
		return // several people's calls in flight: whose message is it?
	}
	for _, s := range sinks {
		s.Log(m)
	}
}

// register records a call in flight (and its progress token).
func (in *Instance) register(s Sink, wantProgress bool) *call {
	c := &call{sink: s}
	in.callsMu.Lock()
	in.calls[c] = struct{}{}
	if wantProgress && s.Progress != nil {
		c.token = fmt.Sprintf("plexus-%d", in.seq.Add(1))
		in.progress[c.token] = c
	}
	in.callsMu.Unlock()
	return c
}

func (in *Instance) unregister(c *call) {
	in.callsMu.Lock()
	delete(in.calls, c)
	if c.token != "" {
		delete(in.progress, c.token)
	}
	in.callsMu.Unlock()
}

// do runs fn on the live session, starting it if needed, bounded by the
// call timeout. A call the upstream does not answer in time is followed by
// a ping; an upstream that does not answer that either is restarted. A
// lost process or connection fails the call with ErrUnavailable and
// restarts the upstream.
func (in *Instance) do(ctx context.Context, fn func(ctx context.Context, c *conn) error) error {
	c, err := in.acquire(ctx)
	if err != nil {
		return err
	}
	defer in.release(c)
	cctx, cancel := context.WithTimeout(ctx, in.cfg.CallTimeout)
	defer cancel()
	err = fn(cctx, c)
	if err == nil {
		return nil
	}
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case cctx.Err() != nil:
		go in.checkHealth(c)
		return fmt.Errorf("upstream %s did not answer within %s: %w", in.cfg.Name, in.cfg.CallTimeout, ErrTimeout)
	case isTransportError(err):
		why := fmt.Errorf("connection lost: %v", err)
		if c.gone != nil {
			// A stdio upstream's pipe closes as its process exits: say why.
			select {
			case <-c.gone:
				why = fmt.Errorf("process exited: %v", exitText(c.proc.exitErr))
			case <-time.After(500 * time.Millisecond):
			}
		}
		in.lost(c, why)
		return fmt.Errorf("upstream %s: %w: %w", in.cfg.Name, ErrUnavailable, unreachable(err))
	}
	return err
}

// isTransportError reports whether err is the session's failure rather
// than the upstream's answer (a JSON-RPC error).
func isTransportError(err error) bool {
	_, ok := errors.AsType[*transport.Error](err)
	return ok || errors.Is(err, transport.ErrTransportClosed) || errors.Is(err, transport.ErrSessionTerminated)
}

// checkHealth pings an upstream after a call timed out; one that does not
// answer is hung and restarted.
func (in *Instance) checkHealth(c *conn) {
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	//lint:ignore SA1019 the session is pinned to 2025-11-25, where ping is the liveness check
	if err := c.c.Ping(ctx); err != nil {
		in.lost(c, fmt.Errorf("a call timed out and the upstream did not answer a ping within %s (hung)", pingTimeout))
	}
}

// withProgress returns the _meta to send upstream: the caller's own
// fields, without the protocol's (io.modelcontextprotocol/…: the
// caller's protocol version and capabilities are not the session's with
// the upstream), and with the progress token of call c in place of the
// caller's (none when the caller asked for no progress).
func withProgress(meta *mcp.Meta, c *call) *mcp.Meta {
	var fields map[string]any
	if meta != nil {
		for k, v := range meta.AdditionalFields {
			if strings.HasPrefix(k, "io.modelcontextprotocol/") {
				continue
			}
			if fields == nil {
				fields = make(map[string]any, len(meta.AdditionalFields))
			}
			fields[k] = v
		}
	}
	if c.token == "" && fields == nil {
		return nil
	}
	m := &mcp.Meta{AdditionalFields: fields}
	if c.token != "" {
		m.ProgressToken = c.token
	}
	return m
}

// CallTool forwards tools/call (req names the upstream's own tool).
func (in *Instance) CallTool(ctx context.Context, req mcp.CallToolRequest, s Sink) (*mcp.CallToolResult, error) {
	c := in.register(s, req.Params.Meta != nil && req.Params.Meta.ProgressToken != nil)
	defer in.unregister(c)
	req.Params.Meta = withProgress(req.Params.Meta, c)
	var res *mcp.CallToolResult
	err := in.do(ctx, func(ctx context.Context, cl *conn) error {
		raw, err := in.send(ctx, cl, string(mcp.MethodToolsCall), req.Params)
		if err != nil {
			return err
		}
		res = new(mcp.CallToolResult)
		if err := json.Unmarshal(raw, res); err != nil {
			return fmt.Errorf("upstream %s: tools/call result: %w", in.cfg.Name, err)
		}
		return nil
	})
	return res, err
}

// send is the session's hot path: one request on the client's transport,
// the result as it came (the session is on 2025-11-25, so mcp-go's
// per-request protocol metadata, tracing headers and multi-round-trip
// loop have nothing to do), but for the session's own credentials, which
// an upstream that echoes them never hands back (egress.RedactJSON: a
// search, nothing more, when they are not there). Its ids ("plexus-N")
// never meet the client's own (numbers). A request whose context ends is
// cancelled at a stdio upstream with notifications/cancelled, as mcp-go's
// client does; over HTTP the aborted request is the cancellation.
func (in *Instance) send(ctx context.Context, c *conn, method string, params any) (json.RawMessage, error) {
	t := c.c.GetTransport()
	id := mcp.NewRequestId("plexus-" + strconv.FormatUint(in.seq.Add(1), 10))
	resp, err := t.SendRequest(ctx, transport.JSONRPCRequest{JSONRPC: mcp.JSONRPC_VERSION, ID: id, Method: method, Params: params})
	if err != nil {
		if ctx.Err() != nil {
			if _, isHTTP := t.(transport.HTTPConnection); !isHTTP {
				n := mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION, Notification: mcp.Notification{
					Method: string(mcp.MethodNotificationCancelled),
					Params: mcp.NotificationParams{AdditionalFields: map[string]any{"requestId": id, "reason": ctx.Err().Error()}},
				}}
				go func() {
					nctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					_ = t.SendNotification(nctx, n)
				}()
			}
		}
		return nil, transport.NewError(err)
	}
	secrets := c.credentials()
	if resp.Error != nil {
		if len(secrets) > 0 {
			resp.Error.Message = egress.RedactText(resp.Error.Message, secrets)
			if d, err := json.Marshal(resp.Error.Data); err == nil && resp.Error.Data != nil {
				resp.Error.Data = json.RawMessage(egress.RedactJSON(d, secrets))
			}
		}
		return nil, resp.Error.AsError()
	}
	if len(secrets) > 0 {
		return egress.RedactJSON(resp.Result, secrets), nil
	}
	return resp.Result, nil
}

// ReadResource forwards resources/read (req names the upstream's own URI).
func (in *Instance) ReadResource(ctx context.Context, req mcp.ReadResourceRequest, s Sink) (*mcp.ReadResourceResult, error) {
	c := in.register(s, req.Params.Meta != nil && req.Params.Meta.ProgressToken != nil)
	defer in.unregister(c)
	req.Params.Meta = withProgress(req.Params.Meta, c)
	var res *mcp.ReadResourceResult
	err := in.do(ctx, func(ctx context.Context, cl *conn) error {
		raw, err := in.send(ctx, cl, string(mcp.MethodResourcesRead), req.Params)
		if err != nil {
			return err
		}
		if res, err = mcp.ParseReadResourceResult(&raw); err != nil {
			return fmt.Errorf("upstream %s: resources/read result: %w", in.cfg.Name, err)
		}
		return nil
	})
	return res, err
}

// GetPrompt forwards prompts/get (req names the upstream's own prompt).
func (in *Instance) GetPrompt(ctx context.Context, req mcp.GetPromptRequest, s Sink) (*mcp.GetPromptResult, error) {
	c := in.register(s, req.Params.Meta != nil && req.Params.Meta.ProgressToken != nil)
	defer in.unregister(c)
	req.Params.Meta = withProgress(req.Params.Meta, c)
	var res *mcp.GetPromptResult
	err := in.do(ctx, func(ctx context.Context, cl *conn) error {
		raw, err := in.send(ctx, cl, string(mcp.MethodPromptsGet), req.Params)
		if err != nil {
			return err
		}
		if res, err = mcp.ParseGetPromptResult(&raw); err != nil {
			return fmt.Errorf("upstream %s: prompts/get result: %w", in.cfg.Name, err)
		}
		return nil
	})
	return res, err
}

// RPCCode is the JSON-RPC error code of an error the upstream answered
// with, when mcp-go kept it (the standard codes); ok is false otherwise.
func RPCCode(err error) (code int, ok bool) {
	for _, c := range []struct {
		err  error
		code int
	}{
		{mcp.ErrParseError, mcp.PARSE_ERROR},
		{mcp.ErrInvalidRequest, mcp.INVALID_REQUEST},
		{mcp.ErrMethodNotFound, mcp.METHOD_NOT_FOUND},
		{mcp.ErrInvalidParams, mcp.INVALID_PARAMS},
		{mcp.ErrInternalError, mcp.INTERNAL_ERROR},
		{mcp.ErrResourceNotFound, mcp.RESOURCE_NOT_FOUND},
	} {
		if errors.Is(err, c.err) {
			return c.code, true
		}
	}
	return 0, false
}
