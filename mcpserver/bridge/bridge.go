// Package bridge is the core of `plexus stdio`: it copies newline-delimited
// JSON-RPC between an MCP client's stdin/stdout and a streamable HTTP MCP
// endpoint (the daemon's /{tenant}/mcp), in both directions. It posts every
// client message, keeps the session id and negotiated protocol version,
// turns JSON and SSE responses into one line each, keeps the session's GET
// stream open for server notifications and server-to-client requests, and
// answers failed requests with JSON-RPC errors the user can act on.
//
// When the daemon goes away mid-session (stopped, killed, restarted with a
// new token) and Config.Reconnect is set, the bridge asks it where the
// daemon is now (the CLI restarts it), re-creates its session with the
// client's original initialize request, and retries the message once; when
// that fails it answers the requests in flight with an error and Run returns
// ErrDaemonLost, so the process exits and the MCP client can restart it.
//
// It must never write anything but JSON-RPC messages, one per line, to its
// stdout, never log the token, and never crash on input: oversized or broken
// lines get a JSON-RPC error. It uses only the standard library, so it does
// not depend on the MCP server implementation it talks to.
package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultMaxLineBytes bounds one JSON-RPC message, in either direction,
// when Config.MaxLineBytes is zero.
const DefaultMaxLineBytes = 16 << 20

const (
	maxInFlight     = 64               // concurrent requests being posted
	drainTimeout    = 5 * time.Second  // wait for in-flight requests after stdin closes
	abortTimeout    = time.Second      // wait for cancelled requests to unwind
	sendTimeout     = 30 * time.Second // a notification or response POST
	deleteTimeout   = 3 * time.Second  // the best-effort DELETE of the session
	listenMinDelay  = 250 * time.Millisecond
	listenMaxDelay  = 30 * time.Second
	listenMaxFails  = 10              // consecutive failed GET attempts before giving up
	listenHealthy   = 5 * time.Second // a GET stream open this long resets the backoff
	maxErrorBody    = 64 << 10        // bytes of an HTTP error body read
	errorSnippetLen = 200             // bytes of a non-JSON error body quoted to the user
	// maxReconnects bounds the attempts of one recovery (Reconnect, then a
	// new session) before the bridge gives up on the daemon.
	maxReconnects   = 3
	reconnectDelay  = 500 * time.Millisecond // before the 2nd attempt; doubled after
	recoveryTimeout = 60 * time.Second       // one whole recovery
	reinitIDPrefix  = "plexus-bridge-reinit-"
	// lostGrace is how long the bridge, having given up, keeps answering
	// messages that arrive (the client sent them before it could know).
	lostGrace = 250 * time.Millisecond
)

// ErrDaemonLost is returned (wrapped) by Run when the daemon went away and
// the bridge could not reach it again through Config.Reconnect.
var ErrDaemonLost = errors.New("lost the plexus daemon")

// JSON-RPC error codes the bridge produces itself.
const (
	codeParseError     = -32700
	codeInvalidRequest = -32600
	codeInternalError  = -32603
	// codeDaemonError is used for an HTTP error from the daemon that did
	// not carry a JSON-RPC error of its own.
	codeDaemonError = -32000
)

// Headers of the streamable HTTP transport.
const (
	headerSessionID       = "Mcp-Session-Id"
	headerProtocolVersion = "Mcp-Protocol-Version"
	headerMethod          = "Mcp-Method"
	headerName            = "Mcp-Name"
	headerLastEventID     = "Last-Event-ID"
	metaProtocolVersion   = "io.modelcontextprotocol/protocolVersion"
)

// Config says where the bridge posts and how.
type Config struct {
	// URL is the MCP endpoint, e.g. http://127.0.0.1:8765/acme/mcp.
	URL string
	// Token is sent as "Authorization: Bearer <Token>" when not empty.
	Token string
	// HTTPClient is used for every request; nil means a client for
	// loopback use with no proxy and no overall timeout (streams are long).
	HTTPClient *http.Client
	// Logger receives diagnostics; nil means a text logger on stderr.
	Logger *slog.Logger
	// MaxLineBytes bounds one message; 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// Reconnect, if set, is called when the daemon has gone away: a
	// message could not be delivered (nothing listens, or HTTPClient
	// refused to connect to the process now at the address) or the daemon
	// refused the token (401). It returns where the daemon is now,
	// typically after starting it again. The bridge then re-creates its
	// session there with the client's original initialize request (its
	// answer is not forwarded: the client already has one) and
	// notifications/initialized, reopens the GET stream, and retries the
	// message once. One recovery runs at a time, with at most 3 calls;
	// when they all fail, Run answers the requests in flight with an error
	// and returns an error wrapping ErrDaemonLost. With Reconnect nil only
	// an unknown or expired session (404) is re-created.
	Reconnect func(ctx context.Context) (Endpoint, error)
}

// Endpoint is where the daemon can be reached: its MCP endpoint URL and the
// bearer token to send there.
type Endpoint struct {
	URL   string
	Token string
}

// Run bridges stdin to cfg.URL and the responses and server messages back
// to stdout until stdin closes or ctx ends. After stdin closes it waits (up
// to 5s) for requests still in flight, stops the GET stream, deletes the
// session (best effort) and returns nil. When ctx ends first it returns
// ctx's error; when stdout cannot be written it returns that error. Run
// cannot interrupt a blocked read of stdin: the goroutine reading it ends
// when the read returns.
func Run(ctx context.Context, cfg Config, stdin io.Reader, stdout io.Writer) error {
	if cfg.URL == "" {
		return errors.New("bridge: no MCP endpoint URL")
	}
	b := newBridge(cfg, stdout)

	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	b.out.onError = func(err error) { cancelRun(fmt.Errorf("write stdout: %w", err)) }
	reqCtx, cancelReqs := context.WithCancel(runCtx)
	defer cancelReqs()
	b.streamCtx = reqCtx

	lines := make(chan inputLine)
	go b.readStdin(runCtx, stdin, lines)

loop:
	for {
		select {
		case <-runCtx.Done():
			break loop
		case <-b.lost:
			b.answerLost(reqCtx, lines)
			break loop
		case l, ok := <-lines:
			if !ok {
				break loop
			}
			b.handleLine(reqCtx, l)
		}
	}

	if !waitGroup(&b.inflight, drainTimeout) {
		b.log.Warn("Requests still in flight after stdin closed; cancelling them", "timeout", drainTimeout)
	}
	cancelReqs()
	waitGroup(&b.inflight, abortTimeout)
	b.stopListening()
	b.deleteSession(context.WithoutCancel(ctx))
	b.out.close()

	if cause := context.Cause(runCtx); cause != nil && ctx.Err() == nil {
		return cause // stdout failed
	}
	if err := b.fatalErr(); err != nil && ctx.Err() == nil {
		return err
	}
	return ctx.Err()
}

// inputLine is one line of stdin; tooLong marks a line cut at the limit.
type inputLine struct {
	data    []byte
	tooLong bool
}

// message is a JSON-RPC message as far as the bridge needs to read it.
type message struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

func (m *message) hasID() bool {
	return len(m.ID) > 0 && !bytes.Equal(bytes.TrimSpace(m.ID), []byte("null"))
}

// meta reads what the HTTP headers mirror from params: the protocol version
// of a modern-era (2026-07-28) message and the Mcp-Name value.
func (m *message) meta() (version, name string, hasName bool) {
	var p struct {
		Meta map[string]json.RawMessage `json:"_meta"`
		Name string                     `json:"name"`
		URI  string                     `json:"uri"`
	}
	if len(m.Params) == 0 || json.Unmarshal(m.Params, &p) != nil {
		return "", "", false
	}
	if raw, ok := p.Meta[metaProtocolVersion]; ok {
		_ = json.Unmarshal(raw, &version)
	}
	switch m.Method {
	case "tools/call", "prompts/get":
		return version, p.Name, true
	case "resources/read":
		return version, p.URI, true
	}
	return version, "", false
}

type bridge struct {
	client    *http.Client
	log       *slog.Logger
	maxBytes  int
	out       *lineWriter
	reconnect func(context.Context) (Endpoint, error)
	// streamCtx lives as long as Run's requests: the GET stream and a
	// recovery run under it, not under the request that needed them.
	streamCtx context.Context

	inflight sync.WaitGroup
	sem      chan struct{}

	mu              sync.Mutex
	url             string
	token           string
	sessionID       string
	protocolVersion string
	initBody        []byte // the client's initialize request, once it succeeded
	initialized     bool   // the client sent notifications/initialized
	listenCancel    context.CancelFunc
	listenDone      chan struct{}

	// Recovery: one at a time (recMu); gen counts the recoveries done, so
	// a request that failed before one simply retries after it.
	recMu    sync.Mutex
	gen      atomic.Uint64
	reinits  int
	fatal    atomic.Pointer[error]
	lost     chan struct{} // closed when the bridge gives up on the daemon
	lostOnce sync.Once
}

func newBridge(cfg Config, stdout io.Writer) *bridge {
	b := &bridge{
		url:       cfg.URL,
		token:     cfg.Token,
		client:    cfg.HTTPClient,
		log:       cfg.Logger,
		maxBytes:  cfg.MaxLineBytes,
		out:       &lineWriter{w: stdout},
		sem:       make(chan struct{}, maxInFlight),
		reconnect: cfg.Reconnect,
		streamCtx: context.Background(),
		lost:      make(chan struct{}),
	}
	if b.client == nil {
		b.client = &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        maxInFlight,
			MaxIdleConnsPerHost: maxInFlight,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	if b.log == nil {
		b.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if b.maxBytes <= 0 {
		b.maxBytes = DefaultMaxLineBytes
	}
	return b
}

// readStdin sends stdin's lines to out and closes it at EOF or on error.
func (b *bridge) readStdin(ctx context.Context, stdin io.Reader, out chan<- inputLine) {
	defer close(out)
	br := bufio.NewReaderSize(stdin, 64<<10)
	for {
		data, err := readLine(br, b.maxBytes)
		l := inputLine{data: data}
		switch {
		case errors.Is(err, errLineTooLong):
			l.tooLong = true
		case errors.Is(err, io.EOF):
			return
		case err != nil:
			b.log.Warn("Reading stdin failed; stopping", "error", err)
			return
		}
		select {
		case out <- l:
		case <-ctx.Done():
			return
		}
	}
}

// handleLine answers a broken line or forwards a message.
func (b *bridge) handleLine(ctx context.Context, l inputLine) {
	data := bytes.TrimSpace(l.data)
	if len(data) == 0 && !l.tooLong {
		return
	}
	if l.tooLong {
		id, _ := peekID(data)
		b.log.Warn("Dropped an over-long message", "limitBytes", b.maxBytes)
		b.writeError(id, codeParseError, fmt.Sprintf("message is larger than the bridge's limit of %d bytes", b.maxBytes), nil)
		return
	}
	if !json.Valid(data) {
		id, _ := peekID(data)
		b.writeError(id, codeParseError, "parse error: the line is not valid JSON", nil)
		return
	}
	var m message
	if data[0] != '{' || json.Unmarshal(data, &m) != nil {
		id, _ := peekID(data)
		b.writeError(id, codeInvalidRequest, "invalid request: want one JSON-RPC message object per line", nil)
		return
	}
	switch {
	case m.Method != "" && m.hasID() && m.Method == "initialize":
		// Synchronous: nothing else may be posted before the session exists.
		b.request(ctx, &m, data)
	case m.Method != "" && m.hasID():
		select {
		case b.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		b.inflight.Add(1)
		go func() {
			defer b.inflight.Done()
			defer func() { <-b.sem }()
			b.request(ctx, &m, data)
		}()
	case m.Method != "" || m.hasID():
		// A notification, or the client's answer to a server request:
		// posted in order, with a deadline.
		if m.Method == "notifications/initialized" {
			b.mu.Lock()
			b.initialized = true
			b.mu.Unlock()
		}
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		b.deliver(sctx, &m, data)
		cancel()
		if m.Method == "notifications/initialized" {
			b.startListening(ctx)
		}
	default:
		b.writeError(nil, codeInvalidRequest, "invalid request: no method and no id", nil)
	}
}

// answerLost answers, with the reason the bridge gave up, the messages the
// client sent before it noticed: those already read from stdin or arriving
// within lostGrace of each other.
func (b *bridge) answerLost(ctx context.Context, lines <-chan inputLine) {
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return
			}
			b.handleLine(ctx, l)
		case <-time.After(lostGrace):
			return
		case <-ctx.Done():
			return
		}
	}
}

// request delivers a request and makes sure it is answered: when the bridge
// gave up on the daemon meanwhile, with that error.
func (b *bridge) request(ctx context.Context, m *message, body []byte) {
	if b.deliver(ctx, m, body) {
		return
	}
	if err := b.fatalErr(); err != nil {
		b.writeError(m.ID, codeInternalError, err.Error(), nil)
	}
}

// deliver posts one message and forwards what comes back. When the daemon
// has gone away (see failure) it recovers, if it can, and posts once more.
// It reports whether it answered m (always false for a notification).
func (b *bridge) deliver(ctx context.Context, m *message, body []byte) (answered bool) {
	if b.fatalErr() != nil {
		return false // request() answers with the reason
	}
	seen := b.gen.Load()
	res := b.postOnce(ctx, m, body)
	if res.kind == delivered {
		return res.answered
	}
	if !b.canRecover(res.kind) {
		return res.fallback()
	}
	b.log.Warn("The plexus daemon is not reachable as before; reconnecting", "reason", res.kind.String())
	if err := b.recover(seen, res.kind); err != nil {
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return false // shutting down
		}
		if errors.Is(err, ErrDaemonLost) {
			if m.Method != "" && m.hasID() {
				b.writeError(m.ID, codeInternalError, err.Error(), nil)
				return true
			}
			return false
		}
		b.log.Warn("Could not re-create the MCP session", "error", err)
		return res.fallback()
	}
	if m.Method == "notifications/initialized" && b.sessionWasRecreated() {
		return false // the recovery sent it with the new session
	}
	res = b.postOnce(ctx, m, body)
	if res.kind == delivered {
		return res.answered
	}
	return res.fallback()
}

// failure says why a message did not reach a daemon that could handle it.
type failure int

const (
	delivered    failure = iota // the daemon got it (and answered or refused it)
	notDelivered                // nothing was written: no daemon there, or the HTTP client refused the process there
	tokenRefused                // 401: the daemon does not know the token (it restarted)
	sessionLost                 // 404 for a message sent in a session: unknown or expired
)

func (f failure) String() string {
	switch f {
	case notDelivered:
		return "the daemon is gone"
	case tokenRefused:
		return "the daemon refused the token"
	case sessionLost:
		return "the daemon does not know the session"
	}
	return "delivered"
}

// result is the outcome of one POST. For a failure other than delivered
// nothing has been written to stdout yet; fallback writes what the bridge
// says when it cannot recover, and reports whether it answered.
type result struct {
	kind     failure
	answered bool
	fallback func() bool
}

func (b *bridge) canRecover(f failure) bool {
	return f == sessionLost || b.reconnect != nil
}

// postOnce sends one message and forwards what comes back, except for the
// failures a recovery can cure, which it returns untold.
func (b *bridge) postOnce(ctx context.Context, m *message, body []byte) result {
	isRequest := m.Method != "" && m.hasID()
	done := func(answered bool) result { return result{kind: delivered, answered: answered} }
	url, token := b.endpoint()
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return done(b.fail(m, codeInternalError, fmt.Sprintf("bridge cannot build a request for %s: %v", url, err)))
	}
	b.setHeaders(req.Header, m, token)
	inSession := req.Header.Get(headerSessionID) != ""
	resp, err := b.client.Do(req)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return done(false) // shutting down
		}
		if notSent(err) || !wrote.Load() || errors.Is(err, syscall.ECONNRESET) {
			// Not delivered: the HTTP client says nothing was sent, or
			// nothing was written, or the daemon's socket was closed with
			// the request still unread in it (a reset; a daemon that read
			// the whole request and then died closes with a FIN, which
			// reads as EOF and is answered below instead). The reset is
			// what a request gets when it is written in the instant a
			// killed daemon's last thread is closing its sockets.
			msg := fmt.Sprintf("cannot reach the plexus daemon at %s: %v; is `plexus serve` running?", url, unwrapURLError(err))
			return result{kind: notDelivered, fallback: func() bool { return b.fail(m, codeInternalError, msg) }}
		}
		return done(b.fail(m, codeInternalError, fmt.Sprintf("the plexus daemon at %s stopped answering (%v); the request may or may not have been carried out", url, unwrapURLError(err))))
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		errBody, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		status, code := resp.Status, resp.StatusCode
		fallback := func() bool { return b.httpError(m, code, status, errBody) }
		switch {
		case code == http.StatusUnauthorized:
			return result{kind: tokenRefused, fallback: fallback}
		case code == http.StatusNotFound && inSession && m.Method != "initialize":
			return result{kind: sessionLost, fallback: fallback}
		}
		return done(fallback())
	}
	if m.Method == "initialize" {
		if sid := resp.Header.Get(headerSessionID); sid != "" {
			b.mu.Lock()
			b.sessionID = sid
			b.initBody = bytes.Clone(body)
			b.mu.Unlock()
		}
	}
	if resp.StatusCode == http.StatusAccepted {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		if isRequest {
			return done(b.fail(m, codeInternalError, "the plexus daemon accepted the request but sent no answer"))
		}
		return done(false)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "text/event-stream":
		answered := b.forwardStream(ctx, resp.Body, m)
		if isRequest && !answered && ctx.Err() == nil {
			return done(b.fail(m, codeInternalError, "the plexus daemon closed the response stream before answering; try again"))
		}
		return done(answered)
	case "application/json", "":
		data, err := io.ReadAll(io.LimitReader(resp.Body, int64(b.maxBytes)+1))
		switch {
		case err != nil:
			return done(b.fail(m, codeInternalError, fmt.Sprintf("reading the plexus daemon's response failed: %v", err)))
		case len(data) > b.maxBytes:
			return done(b.fail(m, codeInternalError, fmt.Sprintf("the plexus daemon's response is larger than the bridge's limit of %d bytes", b.maxBytes)))
		case len(bytes.TrimSpace(data)) == 0:
			if isRequest {
				return done(b.fail(m, codeInternalError, "the plexus daemon sent an empty response"))
			}
			return done(false)
		default:
			if b.forward(data, m) {
				return done(isRequest)
			}
			if isRequest {
				return done(b.fail(m, codeInternalError, "the plexus daemon sent a response that is not JSON-RPC"))
			}
			return done(false)
		}
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return done(b.fail(m, codeInternalError, fmt.Sprintf("the plexus daemon answered with unexpected content type %q", mt)))
	}
}

// notSent reports whether err says that nothing of the request was sent
// (an HTTP client's transport may tell, as app/localclient's does, with a
// NotSent method; WroteRequest alone fires before the final flush).
func notSent(err error) bool {
	var ns interface{ NotSent() bool }
	return errors.As(err, &ns) && ns.NotSent()
}

// endpoint returns where the daemon is now.
func (b *bridge) endpoint() (url, token string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.url, b.token
}

func (b *bridge) fatalErr() error {
	if p := b.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

// sessionWasRecreated reports whether a recovery re-created the session
// (rather than only finding the daemon again for a sessionless client).
func (b *bridge) sessionWasRecreated() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.initBody != nil
}

// recover brings the bridge back to a daemon after a failure of kind f
// seen while the recovery count was seen: unless another request already
// recovered since, it calls Reconnect (not for a lost session, where the
// daemon is there) and re-creates the session, up to maxReconnects times.
// When Reconnect keeps failing the bridge gives up: the error wraps
// ErrDaemonLost, and Run stops reading and returns it.
func (b *bridge) recover(seen uint64, f failure) error {
	b.recMu.Lock()
	defer b.recMu.Unlock()
	if err := b.fatalErr(); err != nil {
		return err
	}
	if b.gen.Load() != seen {
		return nil // recovered meanwhile
	}
	ctx, cancel := context.WithTimeout(b.streamCtx, recoveryTimeout)
	defer cancel()
	b.stopListening()
	delay := reconnectDelay
	var last error
	for attempt := 1; attempt <= maxReconnects; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
			delay *= 2
		}
		err := b.reconnectOnce(ctx, f)
		if err == nil {
			b.gen.Add(1)
			b.log.Info("Reconnected to the plexus daemon", "attempt", attempt)
			return nil
		}
		if ctx.Err() != nil && b.streamCtx.Err() != nil {
			return ctx.Err()
		}
		var refused *refusedError
		if errors.As(err, &refused) {
			return err // the daemon is there and said no: retrying will not help
		}
		last = err
		b.log.Warn("Reconnecting to the plexus daemon failed", "attempt", attempt, "error", err)
		if f == sessionLost && b.reconnect != nil {
			f = notDelivered // the daemon itself may be gone: ask Reconnect next time
		}
	}
	if b.reconnect == nil {
		return last
	}
	err := fmt.Errorf("%w and could not reach it again after %d attempts (%v); "+
		"this bridge exits so that your MCP client can start it again", ErrDaemonLost, maxReconnects, last)
	b.fatal.Store(&err)
	b.lostOnce.Do(func() { close(b.lost) })
	b.log.Error("Giving up on the plexus daemon", "error", err)
	return err
}

// refusedError is a daemon's refusal to re-create the session.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// reconnectOnce is one attempt of recover.
func (b *bridge) reconnectOnce(ctx context.Context, f failure) error {
	if f != sessionLost {
		ep, err := b.reconnect(ctx)
		if err != nil {
			return err
		}
		if ep.URL == "" {
			return errors.New("reconnect gave no endpoint URL")
		}
		b.mu.Lock()
		b.url, b.token = ep.URL, ep.Token
		b.mu.Unlock()
	}
	return b.reinitialize(ctx)
}

// reinitialize re-creates the session with the client's original
// initialize request (under a bridge-owned id; the answer is not
// forwarded), sends notifications/initialized if the client had, reopens
// the GET stream and ends the old session, best effort. Without a session
// (nothing initialized yet, or a sessionless 2026-07-28 client) there is
// nothing to do.
func (b *bridge) reinitialize(ctx context.Context) error {
	b.mu.Lock()
	initBody, initialized, oldSID := b.initBody, b.initialized, b.sessionID
	b.reinits++
	id := fmt.Sprintf("%q", fmt.Sprintf("%s%d", reinitIDPrefix, b.reinits))
	b.mu.Unlock()
	if initBody == nil {
		return nil
	}
	body, err := withID(initBody, json.RawMessage(id))
	if err != nil {
		return err
	}
	url, token := b.endpoint()
	resp, err := b.send(ctx, url, token, "", "", body)
	if err != nil {
		return fmt.Errorf("re-create the MCP session: %w", unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		errBody, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		err := fmt.Errorf("the plexus daemon refused to re-create the MCP session: %s %s", resp.Status, snippet(errBody))
		if resp.StatusCode == http.StatusUnauthorized {
			return err // a token that is still stale: Reconnect again
		}
		return &refusedError{err}
	}
	sid := resp.Header.Get(headerSessionID)
	answer, err := b.readAnswer(resp, json.RawMessage(id))
	if err != nil {
		return fmt.Errorf("re-create the MCP session: %w", err)
	}
	var r struct {
		Result *struct {
			ProtocolVersion string `json:"protocolVersion"`
		} `json:"result"`
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(answer, &r) != nil || r.Result == nil {
		return &refusedError{fmt.Errorf("the plexus daemon refused to re-create the MCP session: %s", snippet(answer))}
	}
	b.mu.Lock()
	b.sessionID = sid
	if r.Result.ProtocolVersion != "" {
		b.protocolVersion = r.Result.ProtocolVersion
	}
	pv := b.protocolVersion
	b.mu.Unlock()
	if initialized && sid != "" {
		resp, err := b.send(ctx, url, token, sid, pv, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
		if err != nil {
			return fmt.Errorf("re-create the MCP session: notifications/initialized: %w", unwrapURLError(err))
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		b.startListening(b.streamCtx)
	}
	if oldSID != "" && oldSID != sid {
		b.endSession(ctx, url, token, oldSID, pv)
	}
	b.log.Info("Re-created the MCP session on the plexus daemon")
	return nil
}

// send posts body with the transport headers for a session (sid may be "").
func (b *bridge) send(ctx context.Context, url, token, sid, pv string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if sid != "" {
		req.Header.Set(headerSessionID, sid)
	}
	if pv != "" {
		req.Header.Set(headerProtocolVersion, pv)
	}
	return b.client.Do(req)
}

// readAnswer returns the response to id in a JSON or SSE body; other
// messages on the stream are dropped (they belong to a session the client
// does not know yet).
func (b *bridge) readAnswer(resp *http.Response, id json.RawMessage) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "text/event-stream" {
		sr := newSSEReader(resp.Body, b.maxBytes)
		for {
			ev, err := sr.next()
			if err != nil {
				return nil, fmt.Errorf("the stream ended without an answer: %w", err)
			}
			if (ev.Event == "" || ev.Event == "message") && isResponseTo([]byte(ev.Data), id) {
				return []byte(ev.Data), nil
			}
		}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(b.maxBytes)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > b.maxBytes {
		return nil, fmt.Errorf("answer larger than %d bytes", b.maxBytes)
	}
	return data, nil
}

// withID returns the JSON-RPC message msg with its id replaced.
func withID(msg []byte, id json.RawMessage) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(msg, &m); err != nil {
		return nil, fmt.Errorf("re-create the MCP session: the saved initialize request: %w", err)
	}
	m["id"] = id
	return json.Marshal(m)
}

// setHeaders sets the transport headers for m.
func (b *bridge) setHeaders(h http.Header, m *message, token string) {
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	version, name, hasName := m.meta()
	if version != "" {
		// Modern era (2026-07-28): no session; the version, method and
		// name travel in headers as well as in the body.
		h.Set(headerProtocolVersion, version)
		if m.Method != "" {
			h.Set(headerMethod, m.Method)
		}
		if hasName {
			h.Set(headerName, encodeHeaderValue(name))
		}
		return
	}
	if m.Method == "initialize" {
		return
	}
	b.mu.Lock()
	sid, pv := b.sessionID, b.protocolVersion
	b.mu.Unlock()
	if sid != "" {
		h.Set(headerSessionID, sid)
	}
	if pv != "" {
		h.Set(headerProtocolVersion, pv)
	}
}

// forwardStream writes every message event of an SSE body to stdout and
// reports whether one of them answered m.
func (b *bridge) forwardStream(ctx context.Context, body io.Reader, m *message) (answered bool) {
	sr := newSSEReader(body, b.maxBytes)
	for {
		ev, err := sr.next()
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				b.log.Warn("Response stream from the daemon broke off", "error", err)
			}
			return answered
		}
		if ev.Event != "" && ev.Event != "message" {
			continue
		}
		if b.forward([]byte(ev.Data), m) && m != nil && isResponseTo([]byte(ev.Data), m.ID) {
			answered = true
		}
	}
}

// forward writes one message from the daemon to stdout, noting the
// negotiated protocol version when it answers initialize. It reports
// whether the data was a JSON object and was written.
func (b *bridge) forward(data []byte, m *message) bool {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' || !json.Valid(data) {
		b.log.Warn("Dropped a message from the daemon that is not a JSON object", "bytes", len(data))
		return false
	}
	if m != nil && m.Method == "initialize" && isResponseTo(data, m.ID) {
		var r struct {
			Result struct {
				ProtocolVersion string `json:"protocolVersion"`
			} `json:"result"`
		}
		if json.Unmarshal(data, &r) == nil && r.Result.ProtocolVersion != "" {
			b.mu.Lock()
			b.protocolVersion = r.Result.ProtocolVersion
			b.mu.Unlock()
		}
	}
	b.out.write(data)
	return true
}

// httpError answers a request the daemon refused (status code, status
// line and body) with a JSON-RPC error that carries the request's id, and
// reports true; for other messages it only logs.
func (b *bridge) httpError(m *message, code int, status string, body []byte) bool {
	if !(m.Method != "" && m.hasID()) {
		b.log.Warn("The daemon refused a message", "method", m.Method, "status", code, "body", snippet(body))
		return false
	}
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && isErrorObject(e.Error) {
		b.writeMessage(map[string]any{"jsonrpc": "2.0", "id": m.ID, "error": e.Error})
		return true
	}
	msg := fmt.Sprintf("plexus daemon answered %s", status)
	if s := snippet(body); s != "" {
		msg += ": " + s
	}
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		msg += " (the bridge's local token was refused; restart this MCP server in your client so `plexus stdio` reads the daemon's current token)"
	case code == http.StatusNotFound && m.Method != "initialize" && b.hasSession():
		msg += " (the session is unknown or expired, e.g. after the daemon restarted; restart this MCP server in your client)"
	case code == http.StatusNotFound:
		msg += " (check the tenant given to `plexus stdio --tenant`; `plexus admin tenant list` shows them)"
	case code >= 500:
		msg += " (see the plexus daemon's log)"
	}
	b.writeError(m.ID, codeDaemonError, msg, map[string]any{"httpStatus": code})
	return true
}

func (b *bridge) hasSession() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessionID != ""
}

// fail answers m with an error when it is a request, and logs otherwise;
// it reports whether it answered.
func (b *bridge) fail(m *message, code int, msg string) bool {
	if m.Method != "" && m.hasID() {
		b.writeError(m.ID, code, msg, nil)
		return true
	}
	b.log.Warn("Could not deliver a message to the daemon", "method", m.Method, "error", msg)
	return false
}

// writeError writes a JSON-RPC error response; a nil id becomes null.
func (b *bridge) writeError(id json.RawMessage, code int, msg string, data any) {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	e := map[string]any{"code": code, "message": msg}
	if data != nil {
		e["data"] = data
	}
	b.writeMessage(map[string]any{"jsonrpc": "2.0", "id": id, "error": e})
}

func (b *bridge) writeMessage(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		b.log.Error("Could not encode a message", "error", err)
		return
	}
	b.out.write(data)
}

// startListening opens the session's GET stream in the background,
// replacing any earlier one. Without a session there is nothing to open.
func (b *bridge) startListening(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sessionID == "" {
		return
	}
	if b.listenCancel != nil {
		b.listenCancel()
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	b.listenCancel, b.listenDone = cancel, done
	sid := b.sessionID
	go func() {
		defer close(done)
		b.listen(lctx, sid)
	}()
}

// stopListening closes the GET stream and waits (bounded) for it to end.
func (b *bridge) stopListening() {
	b.mu.Lock()
	cancel, done := b.listenCancel, b.listenDone
	b.listenCancel, b.listenDone = nil, nil
	b.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	select {
	case <-done:
	case <-time.After(abortTimeout):
	}
}

// listen keeps the GET stream of session sid open, reconnecting with capped
// exponential backoff, until ctx ends, the server says it offers no stream,
// or too many attempts in a row fail.
func (b *bridge) listen(ctx context.Context, sid string) {
	delay := listenMinDelay
	fails := 0
	lastID := ""
	for ctx.Err() == nil {
		start := time.Now()
		stop := b.listenOnce(ctx, sid, &lastID)
		if stop || ctx.Err() != nil {
			return
		}
		if time.Since(start) >= listenHealthy {
			delay, fails = listenMinDelay, 0
		} else if fails++; fails >= listenMaxFails {
			b.log.Warn("Giving up on the daemon's notification stream", "attempts", fails)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, listenMaxDelay)
	}
}

// listenOnce runs one GET stream and reports whether to stop for good.
func (b *bridge) listenOnce(ctx context.Context, sid string, lastID *string) (stop bool) {
	url, token := b.endpoint()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		b.log.Warn("Cannot open the daemon's notification stream", "error", err)
		return true
	}
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set(headerSessionID, sid)
	b.mu.Lock()
	if b.protocolVersion != "" {
		req.Header.Set(headerProtocolVersion, b.protocolVersion)
	}
	b.mu.Unlock()
	if *lastID != "" {
		req.Header.Set(headerLastEventID, *lastID)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			b.log.Info("Notification stream could not connect; will retry", "error", unwrapURLError(err))
		}
		return false
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusMethodNotAllowed:
		b.log.Info("The daemon offers no notification stream for this session")
		return true
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		b.log.Warn("The daemon refused the notification stream", "status", resp.StatusCode, "body", snippet(body))
		return true
	case resp.StatusCode != http.StatusOK:
		b.log.Info("Notification stream failed; will retry", "status", resp.StatusCode)
		return false
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		b.log.Warn("The daemon's notification stream is not an event stream", "contentType", mt)
		return true
	}
	sr := newSSEReader(resp.Body, b.maxBytes)
	for {
		ev, err := sr.next()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, io.EOF) {
				b.log.Info("Notification stream broke off; will reconnect", "error", err)
			}
			*lastID = sr.lastID
			return false
		}
		*lastID = ev.ID
		if ev.Event != "" && ev.Event != "message" {
			continue
		}
		b.forward([]byte(ev.Data), nil)
	}
}

// deleteSession ends the session on the daemon, best effort.
func (b *bridge) deleteSession(ctx context.Context) {
	b.mu.Lock()
	sid, pv := b.sessionID, b.protocolVersion
	b.mu.Unlock()
	if sid == "" {
		return
	}
	url, token := b.endpoint()
	b.endSession(ctx, url, token, sid, pv)
}

// endSession sends DELETE for session sid, best effort and bounded.
func (b *bridge) endSession(ctx context.Context, url, token, sid, pv string) {
	ctx, cancel := context.WithTimeout(ctx, deleteTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, url, nil)
	if err != nil {
		return
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set(headerSessionID, sid)
	if pv != "" {
		req.Header.Set(headerProtocolVersion, pv)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.log.Info("Could not end the session on the daemon", "error", unwrapURLError(err))
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
}

// lineWriter writes whole messages to stdout, one per line, one at a time.
// After close it drops writes; after a failed write it reports once.
type lineWriter struct {
	mu      sync.Mutex
	w       io.Writer
	closed  bool
	failed  bool
	onError func(error)
	buf     bytes.Buffer
}

func (lw *lineWriter) write(msg []byte) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.closed || lw.failed {
		return
	}
	lw.buf.Reset()
	if err := json.Compact(&lw.buf, msg); err != nil {
		return // callers pass valid JSON; never write a broken line
	}
	lw.buf.WriteByte('\n')
	if _, err := lw.w.Write(lw.buf.Bytes()); err != nil {
		lw.failed = true
		if lw.onError != nil {
			lw.onError(err)
		}
	}
}

func (lw *lineWriter) close() {
	lw.mu.Lock()
	lw.closed = true
	lw.mu.Unlock()
}

// isResponseTo reports whether data is a response (no method) whose id
// equals id.
func isResponseTo(data []byte, id json.RawMessage) bool {
	if len(id) == 0 {
		return false
	}
	var r struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if json.Unmarshal(data, &r) != nil || r.Method != "" || len(r.ID) == 0 {
		return false
	}
	return sameID(r.ID, id)
}

// sameID compares two JSON-RPC ids by value (1 and 1.0 are the same).
func sameID(a, b json.RawMessage) bool {
	if bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b)) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	switch x := va.(type) {
	case string:
		y, ok := vb.(string)
		return ok && x == y
	case float64:
		y, ok := vb.(float64)
		return ok && x == y
	}
	return false
}

// isErrorObject reports whether raw is a JSON-RPC error object.
func isErrorObject(raw json.RawMessage) bool {
	var e struct {
		Code    *int    `json:"code"`
		Message *string `json:"message"`
	}
	return len(raw) > 0 && json.Unmarshal(raw, &e) == nil && e.Code != nil && e.Message != nil
}

// snippet is the start of an error body, on one line, for messages.
func snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	if len(s) > errorSnippetLen {
		s = s[:errorSnippetLen] + "…"
	}
	return strings.Join(strings.Fields(strings.ToValidUTF8(s, "?")), " ")
}

// encodeHeaderValue applies the 2026-07-28 header encoding: values that are
// not plain printable ASCII, or that have leading or trailing blanks, are
// sent as =?base64?...?=.
func encodeHeaderValue(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			plain = false
			break
		}
	}
	if s != "" && (s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		plain = false
	}
	if strings.HasPrefix(s, "=?base64?") && strings.HasSuffix(s, "?=") {
		plain = false
	}
	if plain {
		return s
	}
	return "=?base64?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the method
// and URL that the caller's message already names.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// waitGroup waits for wg up to d and reports whether it finished.
func waitGroup(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
