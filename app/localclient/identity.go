// This file holds the daemon's identity proof: before a client sends the
// local token (or anything else) to the address in the runtime file, the
// process listening there must prove it holds that token. (The package doc
// is in runtime.go.)
//
// The client sends GET /healthz?challenge=NONCE with a fresh random nonce on
// a new connection; the daemon answers with its instance id, its pid and
// HMAC-SHA256(token, "plexus-daemon-proof/v1" ‖ instance ‖ pid ‖ address ‖
// nonce). The client recomputes the MAC with the token from the runtime file
// and compares in constant time. Only then is the connection used, so a
// process that took the daemon's port after a crash (or another plexus
// daemon that is not the one the runtime file names) never sees the token,
// an API key or a tool call. The proof binds the pid, so a client that has
// verified a daemon may trust Runtime.PID (a reused pid cannot pass).

package localclient

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// IdentityPath is the daemon's health endpoint; with the ChallengeParam
// query parameter it also proves the daemon's identity.
const IdentityPath = "/healthz"

// ChallengeParam is the query parameter carrying the client's nonce.
const ChallengeParam = "challenge"

const (
	proofDomain = "plexus-daemon-proof/v1"
	// nonceBytes is the size of the nonces this client sends; the daemon
	// accepts minNonceBytes..maxNonceBytes.
	nonceBytes    = 32
	minNonceBytes = 16
	maxNonceBytes = 64
	// maxIdentityAnswer bounds what is read of an answer to the challenge,
	// and maxHandshakeBytes the whole answer with its headers.
	maxIdentityAnswer = 4 << 10
	maxHandshakeBytes = 64 << 10
	// handshakeTimeout bounds the challenge on a new connection when the
	// caller's context has no earlier deadline.
	handshakeTimeout = 10 * time.Second
)

// ErrImpostor is matched (errors.Is) by the error of a client that found a
// process at the daemon's address that could not prove it is the daemon
// the runtime file names. Nothing but the challenge was sent to it.
var ErrImpostor = errors.New("another process holds the plexus daemon's address")

// ImpostorError says which address failed the identity proof, how, and,
// where the OS tells, which process listens there.
type ImpostorError struct {
	Addr    string // the address from the runtime file
	Reason  string // what the process there did, e.g. "did not prove it holds the daemon's token"
	PID     int    // the process listening on Addr; 0 if unknown
	Command string // its command name; "" if unknown
	// Plexus is set when the process answered as a plexus daemon, but not
	// as the one the runtime file names (a stale file while another daemon
	// starts, or a daemon of another data directory).
	Plexus bool
	// Older is set when the runtime file was written by a plexus too old to
	// prove its identity: the process there is likely that daemon.
	Older bool
}

func (e *ImpostorError) Error() string {
	pid := ""
	switch {
	case e.PID > 0 && e.Command != "":
		pid = fmt.Sprintf(" (pid %d, %s)", e.PID, e.Command)
	case e.PID > 0:
		pid = fmt.Sprintf(" (pid %d)", e.PID)
	}
	if e.Older {
		return fmt.Sprintf("the plexus daemon at %s%s was started by an older plexus that cannot prove its identity "+
			"(its runtime file has no instance id), so nothing was sent to it; stop that daemon and run this command again", e.Addr, pid)
	}
	return fmt.Sprintf("another process%s holds the plexus daemon's address %s: it %s; nothing was sent to it. "+
		"Stop that process, or give plexus another port (--listen or PLEXUS_LISTEN)", pid, e.Addr, e.Reason)
}

// Is makes errors.Is(err, ErrImpostor) true.
func (e *ImpostorError) Is(target error) bool { return target == ErrImpostor }

// identifyOwner fills in the process listening on e.Addr, when the OS says.
func (e *ImpostorError) identifyOwner() {
	if e.PID == 0 {
		e.PID, e.Command = portOwner(e.Addr)
	}
}

// withOwner fills in the listening process of an ImpostorError in err.
func withOwner(err error) error {
	if ie, ok := errors.AsType[*ImpostorError](err); ok {
		ie.identifyOwner()
	}
	return err
}

// IdentityAnswer is the daemon's JSON answer on IdentityPath. Without a
// challenge only Status is set.
type IdentityAnswer struct {
	Status   string `json:"status"`
	Instance string `json:"instance,omitempty"`
	PID      int    `json:"pid,omitempty"`
	Proof    string `json:"proof,omitempty"`
}

// NewInstanceID returns a fresh random id for one start of the daemon.
func NewInstanceID() string { return rand.Text() }

// ParseChallenge checks a nonce received by the daemon: unpadded base64url
// of 16 to 64 bytes. The error says what is wrong; it never panics.
func ParseChallenge(s string) error {
	if len(s) > base64.RawURLEncoding.EncodedLen(maxNonceBytes) {
		return fmt.Errorf("challenge is longer than %d bytes of base64url", maxNonceBytes)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return errors.New("challenge is not unpadded base64url")
	}
	if len(b) < minNonceBytes {
		return fmt.Errorf("challenge is shorter than %d bytes", minNonceBytes)
	}
	return nil
}

// Proof is the daemon's answer to nonce: HMAC-SHA256 keyed with the local
// token over the proof domain, the instance id, the pid, the listening
// address and the nonce, in unpadded base64url.
func Proof(token, instance string, pid int, addr, nonce string) string {
	m := hmac.New(sha256.New, []byte(token))
	for _, part := range []string{proofDomain, instance, strconv.Itoa(pid), addr, nonce} {
		// Length-prefixed, so no two different tuples share an input.
		m.Write([]byte(strconv.Itoa(len(part)) + ":" + part + ";"))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// newNonce returns a fresh challenge.
func newNonce() string {
	b := make([]byte, nonceBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseIdentityAnswer decodes the body of an answer to a challenge.
func parseIdentityAnswer(data []byte) (IdentityAnswer, error) {
	if len(data) > maxIdentityAnswer {
		return IdentityAnswer{}, fmt.Errorf("answer is larger than %d bytes", maxIdentityAnswer)
	}
	var a IdentityAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		return IdentityAnswer{}, errors.New("answer is not a JSON object")
	}
	return a, nil
}

// checkAnswer verifies the answer a to nonce against the runtime file r;
// a failure is an *ImpostorError.
func checkAnswer(r Runtime, nonce string, a IdentityAnswer) error {
	if r.Instance == "" {
		return &ImpostorError{Addr: r.Addr, Older: true, Reason: "cannot prove its identity (the runtime file has no instance id: an older plexus wrote it)"}
	}
	if a.Proof == "" {
		return &ImpostorError{Addr: r.Addr, Reason: "answered the identity challenge without a proof (it is not a plexus daemon, or one older than this plexus)"}
	}
	want := Proof(r.Token, r.Instance, r.PID, r.Addr, nonce)
	if hmac.Equal([]byte(a.Proof), []byte(want)) {
		return nil
	}
	if a.Instance != "" && a.Instance != r.Instance {
		return &ImpostorError{Addr: r.Addr, Plexus: true,
			Reason: "is a plexus daemon, but not the one the runtime file names (the file is stale, or that daemon serves another data directory)"}
	}
	return &ImpostorError{Addr: r.Addr, Reason: "answered the identity challenge with a proof that does not match the daemon's token"}
}

// handshake runs the identity challenge for r on conn, a new connection to
// r.Addr, and leaves conn ready for the next request. Nothing but the
// challenge is written to conn.
func handshake(ctx context.Context, conn net.Conn, r Runtime) error {
	deadline := time.Now().Add(handshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	nonce := newNonce()
	u := &url.URL{Scheme: "http", Host: r.Addr, Path: IdentityPath, RawQuery: ChallengeParam + "=" + nonce}
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "plexus-localclient")
	if err := req.Write(conn); err != nil {
		return ctxOr(ctx, fmt.Errorf("send identity challenge: %w", err))
	}
	// Bounded: a process that streams endless headers is cut off.
	lr := &io.LimitedReader{R: conn, N: maxHandshakeBytes}
	br := bufio.NewReaderSize(lr, 4<<10)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		if lr.N <= 0 {
			return &ImpostorError{Addr: r.Addr, Reason: fmt.Sprintf("answered the identity challenge with more than %d bytes of headers", maxHandshakeBytes)}
		}
		if isProtocolError(err) {
			return &ImpostorError{Addr: r.Addr, Reason: "answered the identity challenge with something that is not HTTP"}
		}
		return ctxOr(ctx, fmt.Errorf("read the answer to the identity challenge: %w", err))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIdentityAnswer+1))
	resp.Body.Close()
	if err != nil {
		return ctxOr(ctx, fmt.Errorf("read the answer to the identity challenge: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return &ImpostorError{Addr: r.Addr, Reason: fmt.Sprintf("answered the identity challenge with %s", resp.Status)}
	}
	a, err := parseIdentityAnswer(body)
	if err != nil {
		return &ImpostorError{Addr: r.Addr, Reason: "answered the identity challenge, but not as a plexus daemon: " + err.Error()}
	}
	if err := checkAnswer(r, nonce, a); err != nil {
		return err
	}
	if resp.Close || br.Buffered() > 0 || lr.N <= 0 {
		return fmt.Errorf("the plexus daemon at %s closed or misused the connection after proving itself", r.Addr)
	}
	return conn.SetDeadline(time.Time{})
}

// isProtocolError reports whether reading an HTTP answer failed on what was
// received rather than on the connection (closed, reset, timed out).
func isProtocolError(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return false
	}
	var se syscall.Errno
	return !errors.As(err, &se)
}

// ctxOr returns ctx's error when it has ended (the cause of a broken
// handshake), else err.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// dialer is the one way this package connects to a daemon.
var dialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}

// dialVerified connects to r.Addr and runs the identity challenge on the
// connection; the returned connection belongs to the daemon r names.
func dialVerified(ctx context.Context, r Runtime) (net.Conn, error) {
	conn, err := dialer.DialContext(ctx, "tcp", r.Addr)
	if err != nil {
		return nil, err
	}
	if err := handshake(ctx, conn, r); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Transport is an http.RoundTripper for talking to the local daemon: every
// connection it opens first makes the process at the runtime's address
// prove that it is the daemon that wrote the runtime (see the top of this
// file), and a connection that fails is closed before any request is
// written on it. It dials nothing but the runtime's address. The zero
// value is not usable; use NewTransport.
type Transport struct {
	mu sync.Mutex
	rt Runtime
	hc *http.Transport
}

// NewTransport returns a Transport for the daemon of rt, with keep-alive
// connections suitable for long-lived streams (no proxy, no overall
// timeout).
func NewTransport(rt Runtime) *Transport {
	t := &Transport{rt: rt}
	t.hc = &http.Transport{
		Proxy:               nil,
		DialContext:         t.dial,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	return t
}

// SetRuntime switches t to another daemon (after a restart); connections
// to the old one are closed when idle.
func (t *Transport) SetRuntime(rt Runtime) {
	t.mu.Lock()
	t.rt = rt
	t.mu.Unlock()
	t.hc.CloseIdleConnections()
}

// Runtime returns the runtime t talks to.
func (t *Transport) Runtime() Runtime {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rt
}

// RoundTrip implements http.RoundTripper. A request that failed on a
// kept-alive connection before any byte of it reached the socket (the
// daemon closed the connection: it restarted or died a moment ago) is
// sent once more, on a new connection, which must prove itself again; a
// request of which anything was written is never sent twice. When a
// request fails with nothing written, its error has a method NotSent()
// returning true (errors.As with interface{ NotSent() bool }), so a caller
// such as the stdio bridge knows the daemon cannot have received it.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, sent, reused, err := t.roundTrip(req)
	if err == nil || sent || req.Context().Err() != nil {
		return resp, err
	}
	if reused {
		retry := req.Clone(req.Context())
		if req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, &notSentError{err}
			}
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, &notSentError{err}
			}
			retry.Body = body
		}
		resp, sent, _, err = t.roundTrip(retry)
		if err == nil || sent {
			return resp, err
		}
	}
	return nil, &notSentError{err}
}

// roundTrip sends req once and reports whether any of it was written on a
// connection and whether a kept-alive connection was used.
func (t *Transport) roundTrip(req *http.Request) (resp *http.Response, sent, reused bool, err error) {
	type use struct {
		c     *provedConn
		start int64
	}
	var (
		mu   sync.Mutex
		uses []use
	)
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		mu.Lock()
		defer mu.Unlock()
		reused = reused || i.Reused
		if c, ok := i.Conn.(*provedConn); ok {
			uses = append(uses, use{c, c.written.Load()})
		}
	}}
	resp, err = t.hc.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	mu.Lock()
	defer mu.Unlock()
	for _, u := range uses {
		sent = sent || u.c.written.Load() != u.start
	}
	return resp, sent, reused, err
}

// notSentError is a request that failed before any of it was written.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// NotSent reports that the daemon cannot have received the request.
func (e *notSentError) NotSent() bool { return true }

// CloseIdleConnections closes the connections not in use.
func (t *Transport) CloseIdleConnections() { t.hc.CloseIdleConnections() }

func (t *Transport) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	rt := t.Runtime()
	if addr != rt.Addr {
		return nil, fmt.Errorf("refusing to connect to %s: the plexus daemon is at %s", addr, rt.Addr)
	}
	conn, err := dialVerified(ctx, rt)
	if err != nil {
		return nil, withOwner(err)
	}
	return &provedConn{Conn: conn}, nil
}

// errPeerClosed is a write refused because the daemon closed the
// connection: it died or restarted since the connection was last used.
var errPeerClosed = errors.New("the plexus daemon closed the connection")

// provedConn is a connection that passed the identity challenge. Before
// each write it checks that the daemon has not closed it: a kept-alive
// connection to a daemon killed a moment ago must fail with nothing
// written (so the request is known not to have been delivered, and
// http.Transport retries it on a new, again proved, connection) rather
// than be written into a dead socket, where a request may or may not have
// been read.
type provedConn struct {
	net.Conn
	written atomic.Int64 // bytes written, for RoundTrip's "was anything sent"
}

func (c *provedConn) Write(p []byte) (int, error) {
	if peerClosed(c.Conn) {
		return 0, errPeerClosed
	}
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}
