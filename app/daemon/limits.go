package daemon

import (
	"container/list"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Connection and request limits. A local process can open connections and
// send requests as fast as it likes; these keep the daemon's file
// descriptors and memory bounded and /healthz answering while it does.
const (
	// DefaultMaxConns is the default bound on open connections (lowered to
	// half the process's file limit when that is smaller).
	DefaultMaxConns = 1024
	// DefaultBodyReadTimeout is how much longer than its headers a
	// request's body may take to arrive (see applyLimits).
	DefaultBodyReadTimeout = 30 * time.Second
	// readHeaderTimeout bounds how long request headers may take.
	readHeaderTimeout = 10 * time.Second
	// minMaxConns is the lowest connection bound maxConns picks.
	minMaxConns = 64
)

// maxConns is the connection bound for a configured value (0 = default).
func maxConns(configured int) int {
	if configured > 0 {
		return configured
	}
	n := DefaultMaxConns
	if lim, ok := fileLimit(); ok && lim/2 < uint64(n) {
		n = max(int(lim/2), minMaxConns)
	}
	return n
}

// connLimiter is a net.Listener that keeps at most max connections open.
// It never stops accepting (a blocked Accept would leave /healthz queued in
// the kernel behind the flood): at the bound, it closes the oldest
// connection that is not serving a request — one that is new, idle
// between keep-alive requests, or still sending its request headers or
// body — to make room, and if every connection is serving a request
// (streams, long tool calls) it closes the new one instead.
type connLimiter struct {
	net.Listener
	max int

	mu    sync.Mutex
	conns list.List // *limitedConn, oldest first

	shed atomic.Int64 // connections closed to stay within max
}

func newConnLimiter(ln net.Listener, max int) *connLimiter {
	return &connLimiter{Listener: ln, max: max}
}

// Accept returns the next connection, making room for it first.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc := &limitedConn{Conn: c, l: l}
		victim, ok := l.admit(lc)
		if victim != nil {
			l.shed.Add(1)
			// Not here: closing a socket another goroutine is reading
			// waits until that reader lets go of it, which ties the
			// accept loop to the scheduler and lets the kernel's accept
			// queue (and /healthz behind it) grow under a flood.
			go victim.Conn.Close()
		}
		if ok {
			return lc, nil
		}
		l.shed.Add(1)
		_ = c.Close()
	}
}

// admit adds lc, returning the connection closed to make room (if any)
// and whether lc was admitted.
func (l *connLimiter) admit(lc *limitedConn) (victim *limitedConn, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns.Len() >= l.max {
		for el := l.conns.Front(); el != nil; el = el.Next() {
			if c := el.Value.(*limitedConn); c.busy.Load() == 0 {
				victim = c
				l.conns.Remove(el)
				c.elem = nil
				break
			}
		}
		if victim == nil {
			return nil, false
		}
	}
	lc.elem = l.conns.PushBack(lc)
	return victim, true
}

// open reports how many connections are open.
func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns.Len()
}

// limitedConn is a connection counted by a connLimiter.
type limitedConn struct {
	net.Conn
	l    *connLimiter
	elem *list.Element // nil once removed; guarded by l.mu
	busy atomic.Int32  // requests being served (body read)
}

// Close closes the connection and frees its place.
func (c *limitedConn) Close() error {
	c.l.mu.Lock()
	if c.elem != nil {
		c.l.conns.Remove(c.elem)
		c.elem = nil
	}
	c.l.mu.Unlock()
	return c.Conn.Close()
}

func (c *limitedConn) setBusy(delta int32) { c.busy.Add(delta) }

// connKey carries the *limitedConn in a connection's context.
type connKey struct{}

// connContext is the http.Server's ConnContext: it lets markServing find
// the request's connection.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*limitedConn); ok {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

// applyLimits sets srv's timeouts and wraps its handler for the
// connLimiter: request headers must arrive within readHeaderTimeout and the
// whole request (headers and body) within readHeaderTimeout+bodyTimeout,
// else the connection is closed. ReadTimeout does not end long-lived
// streams (the legacy GET SSE stream, 2026-07-28 subscriptions/listen):
// net/http lifts the read deadline once a request's body has been read
// (TestStreamsOutliveBodyDeadline).
func applyLimits(srv *http.Server, bodyTimeout time.Duration) {
	srv.ReadHeaderTimeout = readHeaderTimeout
	srv.ReadTimeout = readHeaderTimeout + bodyTimeout
	srv.ConnContext = connContext
	srv.Handler = markServing(srv.Handler)
}

// markServing marks a request's connection as serving a request once the
// body has arrived (at once for a request without one) until the handler
// returns, so the connLimiter does not close it to make room.
func markServing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lc, _ := r.Context().Value(connKey{}).(*limitedConn)
		if lc == nil {
			next.ServeHTTP(w, r)
			return
		}
		if r.Body == nil || r.Body == http.NoBody {
			lc.setBusy(1)
			defer lc.setBusy(-1)
			next.ServeHTTP(w, r)
			return
		}
		b := &bodyDone{ReadCloser: r.Body, done: func() { lc.setBusy(1) }}
		r.Body = b
		defer func() {
			if b.finished.Load() {
				lc.setBusy(-1)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// bodyDone calls done once, when the body has been read to its end.
type bodyDone struct {
	io.ReadCloser
	done     func()
	finished atomic.Bool
}

func (b *bodyDone) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && b.finished.CompareAndSwap(false, true) {
		b.done()
	}
	return n, err
}
