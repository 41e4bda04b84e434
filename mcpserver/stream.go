package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/edge"
)

// The response side of one MCP request. Plexus hands mcp-go an rpcWriter
// (through StreamableHTTPServer.Handle) instead of the raw ResponseWriter,
// and owns three things on the way out:
//
//   - Request-scoped notifications. mcp-go v1.2.1 puts a tool's
//     notifications into its session's one channel, which the POST's
//     forwarder goroutine and (2025-11-25) the session's GET stream both
//     read: the last notification of a call can be dropped (the forwarder
//     takes it just as the response goes out) or arrive on the GET stream
//     after the response. Here the session a POST's handlers see is a
//     scopedSession whose NotificationChannel is this request's own
//     callStream: one goroutine writes its notifications to this POST's
//     response as they come, and every write mcp-go makes runs on that
//     goroutine after it has written what is queued. So a call's
//     notifications arrive on its own stream, in order, all of them before
//     its response. Broadcasts (list_changed, log messages outside a call)
//     still go to the session mcp-go keeps, and so to the GET stream or
//     subscriptions/listen.
//   - JSON-RPC errors everywhere. mcp-go answers some mistakes in plain
//     text (wrong content type, unknown session, 405); those become JSON-RPC
//     error objects with the same status.
//   - -32021. A handler failing with mcp.MissingRequiredClientCapabilityError
//     becomes -32603 in mcp-go; the OnError hook marks the request, and its
//     error response is replaced by -32021 with
//     data.requiredCapabilities (HTTP 400 from 2026-07-28 on). The same
//     replacement answers the read of a hidden resource as mcp-go answers
//     an unknown one (items.go).
//
// A request whose handlers send no notification pays for none of this
// beyond a few small allocations: no goroutine is started and mcp-go's
// writes go straight through.

// notifyBuffer is how many notifications a call can have queued before a
// send fails with server.ErrNotificationChannelBlocked (mcp-go's own
// session channel holds 100).
const notifyBuffer = 100

// maxHeldText bounds the plain-text error body kept for conversion.
const maxHeldText = 4 << 10

// writeMode is what an rpcWriter does with what mcp-go writes.
type writeMode int

const (
	modePass      writeMode = iota // out as written
	modeText                       // a plain-text error: answered as JSON-RPC by finish
	modeJSONInSSE                  // a JSON response after notifications: the stream's last event, by finish
	modeReplace                    // the JSON response to a missing-capability error: replaced by finish
)

// rpcWriter is the server.HTTPResponseWriter of one MCP request.
type rpcWriter struct {
	w       http.ResponseWriter
	flusher http.Flusher
	// hdr is the header map mcp-go sees. For a POST it is the writer's
	// own (mcp-go and the notification goroutine must not share a map);
	// it is copied to w's when the status goes out.
	hdr    http.Header
	shadow bool
	// streams: notifications of this request go to its own response
	// (a POST that can stream and is not subscriptions/listen).
	streams bool
	modern  bool
	body    []byte // the request body: its JSON-RPC id goes into errors
	log     *slog.Logger
	gone    <-chan struct{} // the request's context is done: the client left

	mu        sync.Mutex
	sawHeader bool // mcp-go has set its status
	started   bool // the status line went out
	sse       bool // the response is text/event-stream
	mode      writeMode
	status    int    // mcp-go's status, in modeText and modeReplace
	held      []byte // what mcp-go wrote in a held mode
	late      int    // notifications that came after the response

	// repl is the error response that replaces mcp-go's (hasRepl):
	// -32021 for a MissingRequiredClientCapabilityError, or an unknown
	// resource's answer for a hidden one (items.go).
	repl    errorReplacement
	hasRepl bool

	// The notification stream, nil until a handler sends a notification.
	// A handler's send never waits for mu (held while writing to a client
	// that may be slow): the stream is started under startMu and read
	// atomically.
	startMu  sync.Mutex
	stream   atomic.Pointer[callStream]
	finished atomic.Bool // the response is over (set under startMu)
}

// rpcWriterKey carries a POST's rpcWriter in its context, for
// httpContext (scopedSession) and the OnError hook.
type rpcWriterKey struct{}

func rpcWriterFrom(ctx context.Context) *rpcWriter {
	w, _ := ctx.Value(rpcWriterKey{}).(*rpcWriter)
	return w
}

// newRPCWriter wraps w for one request. For a POST (post) mcp-go gets a
// header map of its own; streams says whether the request's notifications
// go to its own response.
func newRPCWriter(ctx context.Context, w http.ResponseWriter, post, streams, modern bool, body []byte, log *slog.Logger) *rpcWriter {
	rw := &rpcWriter{w: w, modern: modern, body: body, log: log, gone: ctx.Done()}
	rw.flusher, _ = w.(http.Flusher)
	rw.streams = streams && rw.flusher != nil
	if post {
		rw.hdr, rw.shadow = make(http.Header, 4), true
	} else {
		rw.hdr = w.Header()
	}
	return rw
}

var _ server.HTTPResponseWriter = (*rpcWriter)(nil)

// Header is the header map mcp-go writes to.
func (w *rpcWriter) Header() http.Header { return w.hdr }

// CanStream reports whether Flush reaches the client.
func (w *rpcWriter) CanStream() bool { return w.flusher != nil }

// SetWriteDeadline lets mcp-go bound a write on a resumed stream.
func (w *rpcWriter) SetWriteDeadline(t time.Time) error {
	return http.NewResponseController(w.w).SetWriteDeadline(t)
}

// WriteHeader, Write and Flush are mcp-go's writes. While no notification
// was sent they run directly under mu (nothing to order them after; one
// sent from then on starts a stream whose goroutine writes under mu too);
// once the request has a notification stream they run on its goroutine,
// after what is queued.
func (w *rpcWriter) WriteHeader(status int) {
	if st := w.stream.Load(); st != nil {
		w.job(st, func() { w.writeHeaderLocked(status) })
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeHeaderLocked(status)
}

func (w *rpcWriter) Write(p []byte) (n int, err error) {
	if st := w.stream.Load(); st != nil {
		w.job(st, func() { n, err = w.writeLocked(p) })
		return n, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeLocked(p)
}

func (w *rpcWriter) Flush() {
	if st := w.stream.Load(); st != nil {
		w.job(st, w.flushLocked)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
}

// job runs f under mu on the stream's goroutine, after the notifications
// queued before it.
func (w *rpcWriter) job(st *callStream, f func()) {
	done := make(chan struct{})
	select {
	case st.jobs <- func() { defer close(done); f() }:
		<-done
	case <-st.exited: // finished: nothing is queued any more
		w.mu.Lock()
		defer w.mu.Unlock()
		f()
	}
}

func (w *rpcWriter) writeHeaderLocked(status int) {
	if w.sawHeader {
		return
	}
	w.sawHeader = true
	sseHeader := strings.HasPrefix(w.hdr.Get("Content-Type"), "text/event-stream")
	switch {
	case w.sse && sseHeader:
		return // notifications started the stream; this is its header
	case w.sse:
		w.mode = modeJSONInSSE // the response joins the stream as its last event
		return
	case w.hasRepl && !sseHeader:
		w.mode, w.status = modeReplace, status
		return
	case status >= 400 && strings.HasPrefix(w.hdr.Get("Content-Type"), "text/plain"):
		w.mode, w.status = modeText, status
		return
	}
	w.startLocked(status)
	w.sse = sseHeader
}

// startLocked sends the status line with mcp-go's headers.
func (w *rpcWriter) startLocked(status int) {
	if w.shadow {
		h := w.w.Header()
		for k, v := range w.hdr {
			h[k] = v
		}
	}
	w.w.WriteHeader(status)
	w.started = true
}

func (w *rpcWriter) writeLocked(p []byte) (int, error) {
	if !w.sawHeader {
		w.writeHeaderLocked(http.StatusOK)
	}
	switch w.mode {
	case modeText:
		if len(w.held)+len(p) <= maxHeldText {
			w.held = append(w.held, p...)
		}
		return len(p), nil
	case modeJSONInSSE:
		w.held = append(w.held, p...)
		return len(p), nil
	case modeReplace:
		return len(p), nil // replaced by finish
	}
	if w.hasRepl && w.sse {
		p = w.replaceErrorEvent(p)
	}
	return w.w.Write(p)
}

func (w *rpcWriter) flushLocked() {
	if w.started && w.mode == modePass && w.flusher != nil {
		w.flusher.Flush()
	}
}

// notifications is the channel the request's handlers send notifications
// to (scopedSession.NotificationChannel), nil when they go to mcp-go's
// session instead: the request does not stream or is over.
func (w *rpcWriter) notifications() chan<- mcp.JSONRPCNotification {
	if !w.streams {
		return nil
	}
	if w.finished.Load() {
		return nil
	}
	if st := w.stream.Load(); st != nil {
		return st.ch
	}
	w.startMu.Lock()
	defer w.startMu.Unlock()
	if w.finished.Load() {
		return nil
	}
	st := w.stream.Load()
	if st == nil {
		st = &callStream{
			ch:     make(chan mcp.JSONRPCNotification, notifyBuffer),
			jobs:   make(chan func()),
			quit:   make(chan struct{}),
			exited: make(chan struct{}),
		}
		w.stream.Store(st)
		go w.forward(st)
	}
	return st.ch
}

// callStream is the notification stream of one request: the queue the
// handlers send to, and the jobs (mcp-go's writes) its goroutine runs.
type callStream struct {
	ch     chan mcp.JSONRPCNotification
	jobs   chan func()
	quit   chan struct{}
	exited chan struct{}
}

// forward is the one goroutine that writes a streaming request's response:
// each notification as it comes, and each of mcp-go's writes after the
// notifications queued before it.
func (w *rpcWriter) forward(st *callStream) {
	defer close(st.exited)
	for {
		select {
		case n := <-st.ch:
			w.locked(func() { w.sendLocked(n) })
		case job := <-st.jobs:
			w.locked(func() {
				w.drainLocked(st)
				job()
			})
		case <-st.quit:
			return
		}
	}
}

func (w *rpcWriter) locked(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f()
}

func (w *rpcWriter) drainLocked(st *callStream) {
	for {
		select {
		case n := <-st.ch:
			w.sendLocked(n)
		default:
			return
		}
	}
}

// sendLocked writes one notification as an SSE event, starting the
// stream if nothing went out yet. After the response it is dropped.
func (w *rpcWriter) sendLocked(n mcp.JSONRPCNotification) {
	if w.mode != modePass || (w.started && !w.sse) || isDone(w.gone) {
		w.late++
		return
	}
	b, err := json.Marshal(n)
	if err != nil {
		w.log.Warn("Dropping a notification that does not encode", "method", n.Method, "err", err)
		return
	}
	if !w.started {
		h := w.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		w.w.WriteHeader(http.StatusOK)
		w.started, w.sse = true, true
	}
	if _, err := w.w.Write(sseEvent(b)); err != nil {
		w.log.Debug("Writing a notification", "method", n.Method, "err", err)
		return
	}
	w.flusher.Flush()
}

// sseEvent frames one JSON-RPC message as mcp-go does.
func sseEvent(data []byte) []byte {
	b := make([]byte, 0, len(data)+24)
	b = append(b, "event: message\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// errorReplacement is a JSON-RPC error that replaces mcp-go's error
// response to a request.
type errorReplacement struct {
	code int
	msg  string
	data any
}

// missingCapability records that the request's handler failed for want of
// a client capability (the OnError hook); its error response becomes -32021.
func (w *rpcWriter) missingCapability(capability string) {
	caps := map[string]any{}
	if capability != "" {
		caps[capability] = map[string]any{}
	}
	w.replaceError(mcp.MISSING_REQUIRED_CLIENT_CAPABILITY,
		mcp.MissingRequiredClientCapabilityError{Capability: capability}.Error(),
		map[string]any{"requiredCapabilities": caps})
}

// replaceError records that the request's error response must be this
// one (code, msg and data; data nil for none) instead of mcp-go's. The
// status is 200 up to 2025-11-25 and 400 from 2026-07-28 on, as for
// mcp-go's own -32021 and -32602 answers.
func (w *rpcWriter) replaceError(code int, msg string, data any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.repl, w.hasRepl = errorReplacement{code: code, msg: msg, data: data}, true
}

// replacementJSON is the error response that replaces mcp-go's.
func (w *rpcWriter) replacementJSON() []byte {
	return edge.RPCErrorJSON(w.requestID(), w.repl.code, w.repl.msg, w.repl.data)
}

// replaceErrorEvent swaps an SSE event carrying a JSON-RPC error response
// for the replacement; other events pass.
func (w *rpcWriter) replaceErrorEvent(p []byte) []byte {
	data, ok := bytes.CutPrefix(p, []byte("event: message\ndata: "))
	if !ok {
		return p
	}
	var m struct {
		Method string          `json:"method"`
		Error  json.RawMessage `json:"error"`
	}
	if json.Unmarshal(bytes.TrimSuffix(data, []byte("\n\n")), &m) != nil || m.Method != "" || len(m.Error) == 0 {
		return p
	}
	return sseEvent(w.replacementJSON())
}

// finish ends the request's response once mcp-go is done: it stops the
// notification goroutine and writes what a held mode kept back.
func (w *rpcWriter) finish(ctx context.Context) {
	w.startMu.Lock()
	w.finished.Store(true)
	st := w.stream.Load()
	w.startMu.Unlock()
	if st != nil {
		close(st.quit)
		<-st.exited
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if st != nil {
		w.late += len(st.ch)
	}
	if w.late > 0 {
		w.log.DebugContext(ctx, "Dropped notifications sent after the response", "count", w.late)
	}
	switch w.mode {
	case modeText:
		edge.WriteRPCError(w.w, w.status, w.requestID(), edge.RPCCode(w.status), strings.TrimSpace(string(w.held)), nil)
	case modeReplace:
		status := http.StatusOK // a 2025-11-25 JSON-RPC error travels with 200
		if w.modern {
			status = http.StatusBadRequest
		}
		h := w.w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.w.WriteHeader(status)
		_, _ = w.w.Write(append(w.replacementJSON(), '\n'))
	case modeJSONInSSE:
		if msg := bytes.TrimSpace(w.held); len(msg) > 0 {
			if w.hasRepl {
				msg = w.replacementIfError(msg)
			}
			_, _ = w.w.Write(sseEvent(msg))
			w.flusher.Flush()
		}
	}
}

// replacementIfError is msg, or the replacement when msg is a JSON-RPC
// error response.
func (w *rpcWriter) replacementIfError(msg []byte) []byte {
	var m struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(msg, &m) == nil && len(m.Error) > 0 {
		return w.replacementJSON()
	}
	return msg
}

// capabilityOf returns the capability a MissingRequiredClientCapabilityError
// in err's chain names (value or pointer).
func capabilityOf(err error) (string, bool) {
	if e, ok := errors.AsType[mcp.MissingRequiredClientCapabilityError](err); ok {
		return e.Capability, true
	}
	if e, ok := errors.AsType[*mcp.MissingRequiredClientCapabilityError](err); ok && e != nil {
		return e.Capability, true
	}
	return "", false
}

// httpSession is the method set of mcp-go v1.2.1's streamable HTTP session
// (every interface it implements), so that a scopedSession answers every
// type assertion mcp-go makes exactly as the session it wraps.
// TestScopedSessionMethodSet holds this list to mcp-go's.
type httpSession interface {
	server.SessionWithLogging
	server.SessionWithTools
	server.SessionWithResources
	server.SessionWithResourceTemplates
	server.SessionWithClientInfo
	server.SessionWithStreamableHTTPConfig
	server.SessionWithSubscriptionFilter
	server.SessionWithSampling
	server.SessionWithElicitation
	server.SessionWithRoots
	server.SessionWithProtocolVersion
	SetProtocolVersion(version string)
}

// scopedSession is the session a POST's handlers see: mcp-go's session,
// except that notifications go to the request's own stream.
type scopedSession struct {
	httpSession
	out *rpcWriter
}

// NotificationChannel is the request's notification stream while it runs
// (mcp-go's session channel otherwise).
func (s *scopedSession) NotificationChannel() chan<- mcp.JSONRPCNotification {
	if ch := s.out.notifications(); ch != nil {
		return ch
	}
	return s.httpSession.NotificationChannel()
}

// UpgradeToSSEWhenReceiveNotification is the rpcWriter's decision for a
// scoped notification; telling mcp-go's session would turn every later
// response of a 2025-11-25 session into SSE.
func (s *scopedSession) UpgradeToSSEWhenReceiveNotification() {
	if !s.out.streams {
		s.httpSession.UpgradeToSSEWhenReceiveNotification()
	}
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// requestID is the JSON-RPC id of the request (nil when the body has none
// or is not JSON-RPC).
func (w *rpcWriter) requestID() json.RawMessage {
	var m struct {
		ID json.RawMessage `json:"id"`
	}
	_ = json.Unmarshal(w.body, &m)
	return m.ID
}
