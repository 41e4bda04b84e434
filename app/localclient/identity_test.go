package localclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proveHandler answers /healthz as the daemon of rt does (see
// app/daemon/identity.go), recording every request in rec if set.
func proveHandler(rt Runtime, rec *reqLog) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if rec != nil {
			rec.add(r)
		}
		w.Header().Set("Content-Type", "application/json")
		q := r.URL.Query()
		if !q.Has(ChallengeParam) {
			json.NewEncoder(w).Encode(IdentityAnswer{Status: "ok"})
			return
		}
		nonce := q.Get(ChallengeParam)
		if err := ParseChallenge(nonce); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(IdentityAnswer{Status: "ok", Instance: rt.Instance, PID: rt.PID,
			Proof: Proof(rt.Token, rt.Instance, rt.PID, rt.Addr, nonce)})
	}
}

// reqLog records every request a server received, whole.
type reqLog struct {
	mu   sync.Mutex
	reqs []loggedReq
}

type loggedReq struct {
	Method, URI, Remote string
	Header              http.Header
	Body                string
}

func (l *reqLog) add(r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, loggedReq{r.Method, r.RequestURI, r.RemoteAddr, r.Header.Clone(), string(body)})
}

func (l *reqLog) all() []loggedReq {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loggedReq(nil), l.reqs...)
}

// wrap records every request, then hands it to next.
func (l *reqLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.add(r)
		next.ServeHTTP(w, r)
	})
}

// assertOnlyChallenges fails unless every request l saw is an identity
// challenge without an Authorization header, and none of them carries any
// of secrets anywhere (URI, headers, body).
func (l *reqLog) assertOnlyChallenges(t *testing.T, secrets ...string) {
	t.Helper()
	reqs := l.all()
	if len(reqs) == 0 {
		t.Fatal("the process at the address received no request at all; want the challenge")
	}
	for _, r := range reqs {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URI, IdentityPath+"?"+ChallengeParam+"=") || r.Body != "" {
			t.Errorf("the process received %s %s (body %d bytes); want only identity challenges", r.Method, r.URI, len(r.Body))
		}
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the process received an Authorization header")
		}
		dump := fmt.Sprintf("%s %v %s", r.URI, r.Header, r.Body)
		for _, s := range secrets {
			if strings.Contains(dump, s) {
				t.Errorf("the process received a secret (%d bytes) in %s %s", len(s), r.Method, r.URI)
			}
		}
	}
}

const (
	testToken  = "plxl_test-local-token-0123456789"
	typedKey   = "sk-live-typed-by-a-person-42"
	otherToken = "plxl_another-daemons-token"
)

// impostors are processes that answer /healthz but are not the daemon of
// the runtime file.
func impostors(rt Runtime) map[string]http.HandlerFunc {
	other := Runtime{PID: rt.PID + 1, Addr: rt.Addr, Token: otherToken, Instance: "other-instance"}
	return map[string]http.HandlerFunc{
		"plain 200": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") },
		"old plexus without proof": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"status":"ok"}`)
		},
		"another plexus daemon": proveHandler(other, nil),
		"echoes the instance, wrong proof": func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(IdentityAnswer{Status: "ok", Instance: rt.Instance, PID: rt.PID,
				Proof: Proof(otherToken, rt.Instance, rt.PID, rt.Addr, r.URL.Query().Get(ChallengeParam))})
		},
		"proof for another nonce": func(w http.ResponseWriter, r *http.Request) {
			json.NewEncoder(w).Encode(IdentityAnswer{Status: "ok", Instance: rt.Instance, PID: rt.PID,
				Proof: Proof(rt.Token, rt.Instance, rt.PID, rt.Addr, "AAAAAAAAAAAAAAAAAAAAAA")})
		},
		"404":          http.NotFound,
		"huge answer":  func(w http.ResponseWriter, r *http.Request) { w.Write(bytes.Repeat([]byte("x"), 64<<10)) },
		"not json":     func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>hello</html>") },
		"empty answer": func(w http.ResponseWriter, r *http.Request) {},
		"endless headers": func(w http.ResponseWriter, r *http.Request) {
			for i := range 20000 {
				w.Header().Add(fmt.Sprintf("X-Filler-%d", i), strings.Repeat("y", 20))
			}
		},
	}
}

// startOn serves h on a new 127.0.0.1 listener (or on addr when set).
func startOn(t *testing.T, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	if addr != "" {
		ts.Listener.Close()
		var err error
		for range 50 { // the port was just freed
			if ts.Listener, err = net.Listen("tcp", addr); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("listen on %s again: %v", addr, err)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestPingRefusesImpostors: a process at the runtime file's address that
// answers /healthz 200 but cannot prove it holds the token is refused with
// ErrImpostor, and nothing but the challenge reaches it.
func TestPingRefusesImpostors(t *testing.T) {
	addr := freeAddr(t)
	rt := Runtime{PID: os.Getpid(), Addr: addr, Token: testToken, Instance: NewInstanceID()}
	for name, h := range impostors(rt) {
		t.Run(name, func(t *testing.T) {
			rec := &reqLog{}
			ts := startOn(t, addr, rec.wrap(h))
			err := Ping(t.Context(), rt)
			ts.Close()
			if !errors.Is(err, ErrImpostor) {
				t.Fatalf("Ping = %v, want ErrImpostor", err)
			}
			msg := err.Error()
			for _, want := range []string{"another process", addr, "nothing was sent"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if runtime.GOOS == "linux" && !strings.Contains(msg, "pid "+strconv.Itoa(os.Getpid())) {
				t.Errorf("error %q does not name the process holding the port (pid %d)", msg, os.Getpid())
			}
			if strings.Contains(msg, testToken) {
				t.Error("error leaks the token")
			}
			ie, _ := errors.AsType[*ImpostorError](err)
			if wantPlexus := name == "another plexus daemon"; ie.Plexus != wantPlexus {
				t.Errorf("Plexus = %v, want %v", ie.Plexus, wantPlexus)
			}
			rec.assertOnlyChallenges(t, testToken)
		})
	}
}

func TestPing(t *testing.T) {
	rt := Runtime{PID: 1, Token: testToken, Instance: NewInstanceID()}
	ts := httptest.NewUnstartedServer(nil)
	rt.Addr = ts.Listener.Addr().String()
	ts.Config.Handler = proveHandler(rt, nil)
	ts.Start()
	t.Cleanup(ts.Close)
	ctx := t.Context()
	if err := Ping(ctx, rt); err != nil {
		t.Fatalf("Ping of the daemon: %v", err)
	}
	for name, mod := range map[string]func(*Runtime){
		"other token":    func(r *Runtime) { r.Token = otherToken },
		"other pid":      func(r *Runtime) { r.PID = 2 }, // a reused pid does not pass
		"other instance": func(r *Runtime) { r.Instance = "stale" },
		"no instance":    func(r *Runtime) { r.Instance = "" },
	} {
		r := rt
		mod(&r)
		err := Ping(ctx, r)
		if !errors.Is(err, ErrImpostor) {
			t.Errorf("%s: Ping = %v, want ErrImpostor", name, err)
		}
		if ie, _ := errors.AsType[*ImpostorError](err); ie != nil && ie.Older != (name == "no instance") {
			t.Errorf("%s: Older = %v (%v)", name, ie.Older, err)
		}
	}
	ts.Close()
	if err := Ping(ctx, rt); err == nil || errors.Is(err, ErrImpostor) {
		t.Fatalf("Ping of a closed server = %v, want a connection error", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := Ping(cctx, rt); err == nil {
		t.Fatal("Ping with a cancelled context succeeded")
	}
}

// TestPingSilentProcess: a process that accepts but never answers makes
// Ping fail within its timeout, without the token.
func TestPingSilentProcess(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var got bytes.Buffer
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				b := make([]byte, 4096)
				for {
					n, err := c.Read(b)
					mu.Lock()
					got.Write(b[:n])
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	rt := Runtime{PID: 1, Addr: ln.Addr().String(), Token: testToken, Instance: "i"}
	start := time.Now()
	if err := Ping(t.Context(), rt); err == nil {
		t.Fatal("Ping of a silent process succeeded")
	}
	if d := time.Since(start); d > pingTimeout+2*time.Second {
		t.Errorf("Ping took %v, want about %v", d, pingTimeout)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(got.String(), testToken) || !strings.Contains(got.String(), "challenge=") {
		t.Errorf("the silent process received %q; want the challenge only", got.String())
	}
}

// TestClientRefusesImpostor: the admin client made for a runtime file
// sends neither the token nor a typed API key to a process that took the
// daemon's port; the error says so plainly.
func TestClientRefusesImpostor(t *testing.T) {
	rec := &reqLog{}
	ts := startOn(t, "", rec.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`) // says yes to everything
	})))
	rt := Runtime{PID: os.Getpid(), Addr: ts.Listener.Addr().String(), Token: testToken, Instance: NewInstanceID()}
	c := NewClient(rt)
	err := c.SetAPIKey(t.Context(), "acme", "local-owner", "github", typedKey)
	if !errors.Is(err, ErrImpostor) {
		t.Fatalf("SetAPIKey = %v, want ErrImpostor", err)
	}
	if !strings.Contains(err.Error(), "nothing was sent") || strings.Contains(err.Error(), typedKey) {
		t.Errorf("error = %q", err)
	}
	if _, err := c.ListTenants(t.Context()); !errors.Is(err, ErrImpostor) {
		t.Fatalf("ListTenants = %v, want ErrImpostor", err)
	}
	rec.assertOnlyChallenges(t, testToken, typedKey)
}

// TestClientProvesEachConnection: against the real daemon the token goes
// only on connections that carried a successful challenge first; after the
// daemon is replaced on the same port, the client refuses the newcomer
// until it is told the new runtime.
func TestClientProvesEachConnection(t *testing.T) {
	addr := freeAddr(t)
	daemon := func(rt Runtime, rec *reqLog) *httptest.Server {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", proveHandler(rt, nil))
		mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+rt.Token {
				http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
		return startOn(t, addr, rec.wrap(mux))
	}
	rtA := Runtime{PID: 10, Addr: addr, Token: testToken, Instance: NewInstanceID()}
	recA := &reqLog{}
	a := daemon(rtA, recA)
	c := NewClient(rtA)
	ctx := t.Context()
	if err := c.SetAPIKey(ctx, "acme", "local-owner", "github", typedKey); err != nil {
		t.Fatalf("SetAPIKey on the daemon: %v", err)
	}
	proved := map[string]bool{}
	for _, r := range recA.all() {
		switch {
		case strings.HasPrefix(r.URI, "/healthz?challenge="):
			proved[r.Remote] = true
		case r.Header.Get("Authorization") != "" && !proved[r.Remote]:
			t.Errorf("%s %s carried the token on a connection (%s) that had not been proved", r.Method, r.URI, r.Remote)
		}
	}

	// The daemon dies; another one (a new start, new token) takes the port.
	// (A client notices the old connection's close in the background;
	// here it is told at once, so the next call dials.)
	a.Close()
	c.HTTP.CloseIdleConnections()
	rtB := Runtime{PID: 11, Addr: addr, Token: otherToken, Instance: NewInstanceID()}
	recB := &reqLog{}
	daemon(rtB, recB)
	err := c.DeleteAPIKey(ctx, "acme", "local-owner", "github")
	if ie, ok := errors.AsType[*ImpostorError](err); !ok || !ie.Plexus {
		t.Fatalf("DeleteAPIKey after the daemon changed = %v, want an ImpostorError from another plexus", err)
	}
	recB.assertOnlyChallenges(t, testToken)
	c.HTTP.Transport.(*Transport).SetRuntime(rtB)
	c.Token = rtB.Token
	if err := c.DeleteAPIKey(ctx, "acme", "local-owner", "github"); err != nil {
		t.Fatalf("DeleteAPIKey after SetRuntime: %v", err)
	}
}

func TestTransportDialsOnlyTheDaemon(t *testing.T) {
	rt := Runtime{PID: 1, Addr: freeAddr(t), Token: testToken, Instance: "i"}
	hc := &http.Client{Transport: NewTransport(rt)}
	other := startOn(t, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a request reached a host that is not the daemon's")
	}))
	if _, err := hc.Get(other.URL); err == nil || !strings.Contains(err.Error(), "refusing to connect") {
		t.Fatalf("GET elsewhere = %v, want a refusal", err)
	}
}

var challengeCases = []struct {
	name, in string
	ok       bool
}{
	{"32 bytes", base64.RawURLEncoding.EncodeToString(make([]byte, 32)), true},
	{"16 bytes", base64.RawURLEncoding.EncodeToString(make([]byte, 16)), true},
	{"64 bytes", base64.RawURLEncoding.EncodeToString(make([]byte, 64)), true},
	{"15 bytes", base64.RawURLEncoding.EncodeToString(make([]byte, 15)), false},
	{"65 bytes", base64.RawURLEncoding.EncodeToString(make([]byte, 65)), false},
	{"empty", "", false},
	{"padded", base64.URLEncoding.EncodeToString(make([]byte, 32)), false},
	{"std alphabet", strings.Repeat("+/", 22), false},
	{"huge", strings.Repeat("A", 1<<20), false},
	{"spaces", strings.Repeat(" ", 43), false},
}

func TestParseChallenge(t *testing.T) {
	for _, tc := range challengeCases {
		t.Run(tc.name, func(t *testing.T) {
			if err := ParseChallenge(tc.in); (err == nil) != tc.ok {
				t.Fatalf("ParseChallenge = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if n := newNonce(); ParseChallenge(n) != nil || n == newNonce() {
		t.Fatal("newNonce makes challenges the daemon refuses, or the same twice")
	}
}

func FuzzParseChallenge(f *testing.F) {
	for _, tc := range challengeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ParseChallenge(s) != nil {
			return
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) < minNonceBytes || len(b) > maxNonceBytes {
			t.Fatalf("ParseChallenge accepted %q", s)
		}
	})
}

// FuzzIdentityAnswer: whatever a process answers, the client accepts it
// only when it carries the proof for this runtime and nonce, and never
// panics.
func FuzzIdentityAnswer(f *testing.F) {
	rt := Runtime{PID: 7, Addr: "127.0.0.1:8765", Token: testToken, Instance: "inst"}
	nonce := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	good, _ := json.Marshal(IdentityAnswer{Status: "ok", Instance: "inst", PID: 7, Proof: Proof(testToken, "inst", 7, rt.Addr, nonce)})
	for _, s := range []string{string(good), `{"status":"ok"}`, `ok`, `{"proof":""}`, `{"proof":1}`, `[]`, `null`, `{"instance":"x","proof":"y"}`} {
		f.Add([]byte(s))
	}
	want := Proof(rt.Token, rt.Instance, rt.PID, rt.Addr, nonce)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseIdentityAnswer(data)
		if err != nil {
			return
		}
		if checkAnswer(rt, nonce, a) == nil && a.Proof != want {
			t.Fatalf("accepted %q", data)
		}
	})
}

func TestProofBindsEveryPart(t *testing.T) {
	base := Proof("t", "i", 1, "a:1", "n")
	for name, p := range map[string]string{
		"token":    Proof("u", "i", 1, "a:1", "n"),
		"instance": Proof("t", "j", 1, "a:1", "n"),
		"pid":      Proof("t", "i", 2, "a:1", "n"),
		"addr":     Proof("t", "i", 1, "a:2", "n"),
		"nonce":    Proof("t", "i", 1, "a:1", "m"),
		"boundary": Proof("t", "i", 1, "a:1n", ""),
	} {
		if p == base {
			t.Errorf("changing the %s does not change the proof", name)
		}
	}
}

func TestPortOwner(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("port owners are looked up on linux only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pid, cmd := portOwner(ln.Addr().String())
	if pid != os.Getpid() || cmd == "" {
		t.Fatalf("portOwner = %d %q, want this process (%d)", pid, cmd, os.Getpid())
	}
	if pid, _ := portOwner(freeAddr(t)); pid != 0 {
		t.Fatalf("portOwner of a free port = %d, want 0", pid)
	}
	for _, bad := range []string{"", "nonsense", "127.0.0.1:x"} {
		if pid, _ := portOwner(bad); pid != 0 {
			t.Errorf("portOwner(%q) = %d", bad, pid)
		}
	}
}

func TestPeerClosed(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := <-accepted
	if peerClosed(c) {
		t.Fatal("peerClosed on an open connection")
	}
	srv.Write([]byte("x")) // unread data is not a close
	time.Sleep(20 * time.Millisecond)
	if peerClosed(c) {
		t.Fatal("peerClosed with data waiting")
	}
	b := make([]byte, 1)
	c.Read(b)
	srv.Close()
	deadline := time.Now().Add(2 * time.Second)
	for !peerClosed(c) {
		if time.Now().After(deadline) {
			t.Fatal("peerClosed never saw the close")
		}
		time.Sleep(5 * time.Millisecond)
	}
	pc := &provedConn{Conn: c}
	if n, err := pc.Write([]byte("request")); n != 0 || !errors.Is(err, errPeerClosed) {
		t.Fatalf("Write on a closed connection = %d, %v; want nothing written", n, err)
	}
}

// TestTransportRetriesOnAClosedIdleConnection: the daemon closed a kept-
// alive connection (it restarted) and the next request is sent at once:
// nothing is written on the dead connection, and the request goes out on
// a new, proved one.
func TestTransportRetriesOnAClosedIdleConnection(t *testing.T) {
	rt := Runtime{PID: 1, Token: testToken, Instance: NewInstanceID()}
	ts := httptest.NewUnstartedServer(nil)
	rt.Addr = ts.Listener.Addr().String()
	var posts atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", proveHandler(rt, nil))
	mux.HandleFunc("POST /x", func(w http.ResponseWriter, r *http.Request) { posts.Add(1) })
	ts.Config.Handler = mux
	ts.Start()
	t.Cleanup(ts.Close)
	hc := &http.Client{Transport: NewTransport(rt)}
	for i := range 20 {
		resp, err := hc.Post(ts.URL+"/x", "text/plain", strings.NewReader("body"))
		if err != nil {
			t.Fatalf("POST %d: %v", i, err)
		}
		resp.Body.Close()
		ts.CloseClientConnections() // the daemon drops the idle connection
	}
	if n := posts.Load(); n != 20 {
		t.Fatalf("the daemon got %d POSTs, want 20", n)
	}
}

// TestTransportSaysNotSent: a request that fails before any byte of it is
// written (here: no daemon listens) carries NotSent, for the bridge.
func TestTransportSaysNotSent(t *testing.T) {
	rt := Runtime{PID: 1, Addr: freeAddr(t), Token: testToken, Instance: "i"}
	hc := &http.Client{Transport: NewTransport(rt)}
	_, err := hc.Post("http://"+rt.Addr+"/x", "application/json", strings.NewReader("{}"))
	var ns interface{ NotSent() bool }
	if !errors.As(err, &ns) || !ns.NotSent() {
		t.Fatalf("POST to nothing = %v, want an error with NotSent", err)
	}
}

// TestPingNotHTTP: a process that answers the challenge with something
// that is not HTTP is refused as an impostor.
func TestPingNotHTTP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			time.Sleep(100 * time.Millisecond)
			c.Close()
		}
	}()
	rt := Runtime{PID: 1, Addr: ln.Addr().String(), Token: testToken, Instance: "i"}
	if err := Ping(t.Context(), rt); !errors.Is(err, ErrImpostor) {
		t.Fatalf("Ping of an SSH server = %v, want ErrImpostor", err)
	}
}
