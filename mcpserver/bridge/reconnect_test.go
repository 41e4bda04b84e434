package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// daemonLife is one start of a fake daemon: a fresh mcp-go server (it
// knows no earlier session) behind a bearer-token check, on its own port.
type daemonLife struct {
	s     *server.MCPServer
	rec   *recorder
	ts    *httptest.Server
	token string
}

func (d *daemonLife) url() string { return d.ts.URL + "/t/mcp" }

// restarts hands out daemon lives; Reconnect returns the current one.
type restarts struct {
	t          *testing.T
	mu         sync.Mutex
	cur        *daemonLife
	n          int
	reconnects atomic.Int32
	fail       atomic.Bool // Reconnect fails (the daemon cannot be started)
}

func newRestarts(t *testing.T) *restarts {
	r := &restarts{t: t}
	r.restart()
	return r
}

// kill stops the current life as kill -9 would: every connection drops.
func (r *restarts) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.killLocked()
}

func (r *restarts) killLocked() {
	if r.cur != nil {
		r.cur.ts.CloseClientConnections()
		r.cur.ts.Close()
	}
}

// restart kills the current life, if any, and starts a new one.
func (r *restarts) restart() *daemonLife {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.killLocked()
	r.n++
	s, rec := newMCPHandler(r.t, server.WithSessionIdManager(&strictSessions{}))
	d := &daemonLife{s: s, rec: rec, token: fmt.Sprintf("token-of-life-%d", r.n)}
	d.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") != "Bearer "+d.token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		rec.ServeHTTP(w, req)
	}))
	r.t.Cleanup(d.ts.Close)
	r.cur = d
	return d
}

func (r *restarts) current() *daemonLife {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

func (r *restarts) reconnect(ctx context.Context) (Endpoint, error) {
	r.reconnects.Add(1)
	if r.fail.Load() {
		return Endpoint{}, errors.New("plexus daemon could not start (exit status 1)")
	}
	d := r.current()
	return Endpoint{URL: d.url(), Token: d.token}, nil
}

// strictSessions knows only the session ids it issued, as a daemon does
// (mcp-go's default accepts any well-formed id).
type strictSessions struct {
	mu  sync.Mutex
	ids map[string]bool
	n   int
}

func (m *strictSessions) Generate() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ids == nil {
		m.ids = map[string]bool{}
	}
	m.n++
	id := fmt.Sprintf("mcp-session-%p-%d", m, m.n)
	m.ids[id] = true
	return id
}

func (m *strictSessions) Validate(id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.ids[id] {
		return false, errors.New("unknown session")
	}
	return false, nil
}

func (m *strictSessions) Terminate(id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.ids, id)
	return false, nil
}

func (r *restarts) config() Config {
	d := r.current()
	return Config{URL: d.url(), Token: d.token, Reconnect: r.reconnect}
}

// settle gives the bridge's HTTP client the moment it needs to see that a
// killed daemon closed its idle connections (a real client's next call
// comes much later). A call written on such a connection in that instant
// is answered with an error rather than sent twice: see
// TestBridgeDoesNotRepeatACallTheDaemonReceived.
func settle() { time.Sleep(100 * time.Millisecond) }

// initSession sends initialize and notifications/initialized and waits for
// the GET stream.
func initSession(t *testing.T, p *pipe, rec *recorder) {
	t.Helper()
	p.send(initializeLine)
	p.until("initialize result", idIs(1))
	p.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	rec.waitFor(t, "the GET stream", isGet)
}

// TestBridgeReconnectsAfterDaemonRestart: the daemon dies mid-session and
// comes back (new port, new token, no memory of the session). The client's
// next call succeeds: the bridge asks Reconnect once, re-creates the
// session with the client's own initialize params (not forwarding that
// answer), sends notifications/initialized, reopens the GET stream, and
// retries the call. Several calls at once share one reconnect.
func TestBridgeReconnectsAfterDaemonRestart(t *testing.T) {
	r := newRestarts(t)
	p := startBridge(t, t.Context(), r.config())
	initSession(t, p, r.current().rec)
	p.send(callLine(2, "echo"))
	if got := toolText(t, p.until("echo", idIs(2))); got != "echo:hi" {
		t.Fatalf("echo = %q", got)
	}

	d2 := r.restart() // kill -9 and start again
	settle()
	p.send(callLine(3, "echo"))
	m := p.next()
	if m["id"] != 3.0 {
		t.Fatalf("first line after the restart = %v, want the answer to id 3 (and no re-initialize answer)", m)
	}
	if got := toolText(t, m); got != "echo:hi" {
		t.Fatalf("echo after restart = %q", got)
	}
	if n := r.reconnects.Load(); n != 1 {
		t.Fatalf("Reconnect called %d times, want 1", n)
	}
	inits := d2.rec.find(postOf("initialize"))
	if len(inits) != 1 {
		t.Fatalf("the new daemon saw %d initialize requests, want 1", len(inits))
	}
	var sent, orig struct {
		ID     json.RawMessage `json:"id"`
		Params json.RawMessage `json:"params"`
	}
	json.Unmarshal([]byte(inits[0].Body), &sent)
	json.Unmarshal([]byte(initializeLine), &orig)
	if string(sent.Params) != string(orig.Params) {
		t.Fatalf("re-initialize params = %s, want the client's %s", sent.Params, orig.Params)
	}
	if !strings.Contains(string(sent.ID), reinitIDPrefix) {
		t.Errorf("re-initialize id = %s, want a bridge-owned id", sent.ID)
	}
	d2.rec.waitFor(t, "notifications/initialized", postOf("notifications/initialized"))
	d2.rec.waitFor(t, "the new GET stream", isGet)
	for _, rq := range d2.rec.find(func(recorded) bool { return true }) {
		if rq.Header.Get("Authorization") != "Bearer "+d2.token {
			t.Fatalf("%s to the new daemon without its token", rq.Method)
		}
	}
	// The new session's notifications reach the client over the new stream.
	d2.s.AddTool(mcp.NewTool("late"), func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("late"), nil
	})
	p.until("tools/list_changed from the new daemon", methodIs("notifications/tools/list_changed"))

	// Again, with five calls in flight at once: one reconnect, five answers.
	r.restart()
	settle()
	for id := 10; id < 15; id++ {
		p.send(callLine(id, "echo"))
	}
	got := map[float64]bool{}
	for len(got) < 5 {
		m := p.next()
		if m["method"] != nil {
			continue
		}
		if toolText(t, m) != "echo:hi" {
			t.Fatalf("call after the second restart = %v", m)
		}
		got[m["id"].(float64)] = true
	}
	if n := r.reconnects.Load(); n != 2 {
		t.Fatalf("Reconnect called %d times in all, want 2", n)
	}
	p.expectEOF()
}

// TestBridgeReconnectsAfterTokenChange: the daemon restarted on the same
// address and kept the session (Plexus persists sessions) but has a new
// token: the bridge gets 401, asks Reconnect for the new token and goes on.
func TestBridgeReconnectsAfterTokenChange(t *testing.T) {
	r := newRestarts(t)
	p := startBridge(t, t.Context(), r.config())
	d := r.current()
	initSession(t, p, d.rec)
	r.mu.Lock()
	d.token = "token-after-restart"
	r.mu.Unlock()
	p.send(callLine(2, "echo"))
	if got := toolText(t, p.until("echo", idIs(2))); got != "echo:hi" {
		t.Fatalf("echo after the token changed = %q", got)
	}
	if n := r.reconnects.Load(); n != 1 {
		t.Fatalf("Reconnect called %d times, want 1", n)
	}
	p.expectEOF()
}

// TestBridgeRecreatesExpiredSession: without Reconnect, a session the
// daemon no longer knows (404) is re-created and the call retried.
func TestBridgeRecreatesExpiredSession(t *testing.T) {
	var (
		mu   sync.Mutex
		next http.Handler
	)
	swap := func() *recorder {
		_, rec := newMCPHandler(t, server.WithSessionIdManager(&strictSessions{}))
		mu.Lock()
		next = rec
		mu.Unlock()
		return rec
	}
	rec1 := swap()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := next
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	p := startBridge(t, t.Context(), Config{URL: ts.URL + "/t/mcp"})
	initSession(t, p, rec1)
	rec2 := swap() // every session forgotten
	p.send(callLine(2, "echo"))
	if got := toolText(t, p.until("echo", idIs(2))); got != "echo:hi" {
		t.Fatalf("echo after the session expired = %q", got)
	}
	if len(rec2.find(postOf("initialize"))) != 1 {
		t.Fatal("the session was not re-created")
	}
	p.expectEOF()
}

// TestBridgeGivesUpWhenTheDaemonStaysGone: when Reconnect keeps failing,
// the bridge answers the call (and every call in flight) with an error
// that says what happened, stops after a bounded number of attempts, and
// Run returns ErrDaemonLost so the process exits and the MCP client can
// restart it.
func TestBridgeGivesUpWhenTheDaemonStaysGone(t *testing.T) {
	r := newRestarts(t)
	p := startBridge(t, t.Context(), r.config())
	initSession(t, p, r.current().rec)
	r.fail.Store(true)
	r.kill()
	start := time.Now()
	for id := 2; id < 6; id++ {
		p.send(callLine(id, "echo"))
	}
	for range 4 {
		m := p.until("an error answer", func(m map[string]any) bool { return m["method"] == nil })
		if _, msg := errorOf(t, m); !strings.Contains(msg, "lost the plexus daemon") || !strings.Contains(msg, "exit status 1") {
			t.Fatalf("answer = %q, want it to say the daemon is lost and why", msg)
		}
	}
	select {
	case err := <-p.done:
		if !errors.Is(err, ErrDaemonLost) {
			t.Fatalf("Run = %v, want ErrDaemonLost", err)
		}
		p.done <- err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after giving up")
	}
	if n := r.reconnects.Load(); n != maxReconnects {
		t.Fatalf("Reconnect called %d times, want %d", n, maxReconnects)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("giving up took %v", d)
	}
}

// TestBridgeDoesNotRepeatACallTheDaemonReceived: a daemon that dies while
// handling a call may have carried it out, so the bridge answers that call
// with an error instead of sending it again; the next call reconnects.
func TestBridgeDoesNotRepeatACallTheDaemonReceived(t *testing.T) {
	r := newRestarts(t)
	var calls atomic.Int32
	d := r.current()
	inner := d.ts.Config.Handler
	d.ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if strings.Contains(string(body), `"tools/call"`) {
			calls.Add(1)
			conn, _, _ := w.(http.Hijacker).Hijack() // dies mid-call, having read it all
			conn.Close()
			return
		}
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		inner.ServeHTTP(w, req)
	})
	p := startBridge(t, t.Context(), r.config())
	initSession(t, p, d.rec)
	p.send(callLine(2, "echo"))
	if _, msg := errorOf(t, p.until("error for the interrupted call", idIs(2))); !strings.Contains(msg, "may or may not") {
		t.Fatalf("error = %q", msg)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the daemon received the call %d times, want 1", n)
	}
	r.restart()
	p.send(callLine(3, "echo"))
	if got := toolText(t, p.until("echo", idIs(3))); got != "echo:hi" {
		t.Fatalf("next call = %q", got)
	}
	p.expectEOF()
}

// TestBridgeRetriesARequestTheDaemonNeverRead: a daemon killed while the
// request sits unread in its socket resets the connection; the daemon
// cannot have carried it out, so the bridge reconnects and sends it again.
func TestBridgeRetriesARequestTheDaemonNeverRead(t *testing.T) {
	r := newRestarts(t)
	d := r.current()
	inner := d.ts.Config.Handler
	var calls atomic.Int32
	d.ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get(headerSessionID) != "" && strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") && req.ContentLength > 0 && calls.Add(1) == 2 {
			// The second message in the session (the call): die before
			// reading its body, leaving it unread: a reset. The next life
			// is up before the reset is seen, as a restarted daemon is by
			// the time the bridge asks for it (otherwise the bridge may
			// find the old address once more, and reconnect twice).
			conn, _, _ := w.(http.Hijacker).Hijack()
			r.restart()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
			return
		}
		inner.ServeHTTP(w, req)
	})
	p := startBridge(t, t.Context(), r.config())
	initSession(t, p, d.rec)
	p.send(callLine(2, "echo"))
	if got := toolText(t, p.until("echo", idIs(2))); got != "echo:hi" {
		t.Fatalf("echo after a reset = %q", got)
	}
	if n := r.reconnects.Load(); n != 1 {
		t.Fatalf("Reconnect called %d times, want 1", n)
	}
	p.expectEOF()
}

// TestBridgeAnswersWhatArrivesWhileGivingUp: a request the client sent
// while the bridge was busy giving up (behind a notification whose
// recovery failed) still gets an answer saying why, before Run returns.
func TestBridgeAnswersWhatArrivesWhileGivingUp(t *testing.T) {
	r := newRestarts(t)
	p := startBridge(t, t.Context(), r.config())
	initSession(t, p, r.current().rec)
	r.fail.Store(true)
	r.kill()
	p.send(`{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}`)
	p.send(callLine(7, "echo"))
	if _, msg := errorOf(t, p.until("error for id 7", idIs(7))); !strings.Contains(msg, "lost the plexus daemon") {
		t.Fatalf("answer = %q", msg)
	}
	select {
	case err := <-p.done:
		if !errors.Is(err, ErrDaemonLost) {
			t.Fatalf("Run = %v, want ErrDaemonLost", err)
		}
		p.done <- err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after giving up")
	}
}
