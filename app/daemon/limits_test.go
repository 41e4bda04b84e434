package daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// limitedServer serves mux behind the daemon's connection and body limits
// on 127.0.0.1 and returns its address and limiter.
func limitedServer(t *testing.T, maxConns int, bodyTimeout time.Duration, mux *http.ServeMux) (string, *connLimiter) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newConnLimiter(ln, maxConns)
	srv := &http.Server{Handler: mux}
	applyLimits(srv, bodyTimeout) // as the daemon does
	srv.ReadHeaderTimeout, srv.ReadTimeout = bodyTimeout, 2*bodyTimeout
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), l
}

func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(b)
	})
	// stream sends a line every 50ms until the request context ends or
	// the client hangs up; a POST reads its body first.
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "data: %d\n\n", i); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-t.C:
			}
		}
	})
	return mux
}

// stalledBody opens a connection that sends a POST's headers and part of
// its body, then stalls.
func stalledBody(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"jsonrpc\":", addr)
	return c
}

// closedWithin reports whether the server closes c within d (any answer
// it writes first is read and dropped).
func closedWithin(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	ne, ok := err.(net.Error)
	return !(ok && ne.Timeout())
}

// TestStalledBodyClosed: a request whose body stops arriving is answered
// and its connection closed once the body deadline passes.
func TestStalledBodyClosed(t *testing.T) {
	addr, _ := limitedServer(t, 100, 300*time.Millisecond, testMux())
	c := stalledBody(t, addr)
	if !closedWithin(c, 5*time.Second) {
		t.Fatal("a stalled body kept its connection open")
	}
	// A body that arrives in time is served.
	resp, err := http.Post("http://"+addr+"/echo", "application/json", strings.NewReader(`{"ok":true}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != `{"ok":true}` {
		t.Fatalf("echo = %q", b)
	}
}

// TestStreamsOutliveBodyDeadline: long-lived responses (a GET stream, a
// POST stream after its body) are not ended by the read deadline
// (http.Server.ReadTimeout): net/http lifts it once the body is read.
func TestStreamsOutliveBodyDeadline(t *testing.T) {
	const deadline = 150 * time.Millisecond
	addr, _ := limitedServer(t, 100, deadline, testMux())
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var body io.Reader
			if method == http.MethodPost {
				body = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen"}`)
			}
			r, _ := http.NewRequestWithContext(ctx, method, "http://"+addr+"/stream", body)
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			start := time.Now()
			events := 0
			for time.Since(start) < 6*deadline && sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data: ") {
					events++
				}
			}
			if time.Since(start) < 6*deadline {
				t.Fatalf("stream ended after %v (%d events): %v", time.Since(start), events, sc.Err())
			}
		})
	}
}

// TestConnLimit: a flood of stalled connections never holds more than
// the bound; /healthz still answers on a new connection; a connection
// serving a stream is not closed to make room.
func TestConnLimit(t *testing.T) {
	const max = 8
	addr, l := limitedServer(t, max, time.Minute, testMux())

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/stream", nil)
	stream, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	sc := bufio.NewScanner(stream.Body)
	sc.Scan()

	var flood []net.Conn
	for range 5 * max {
		flood = append(flood, stalledBody(t, addr))
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for range 3 {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("/healthz during the flood: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok" {
			t.Fatalf("/healthz = %q", b)
		}
	}
	if n := l.open(); n > max {
		t.Fatalf("open connections = %d, want <= %d", n, max)
	}
	closed := 0
	for _, c := range flood {
		if closedWithin(c, 50*time.Millisecond) {
			closed++
		}
	}
	if closed < len(flood)-max {
		t.Fatalf("only %d of %d flood connections were closed", closed, len(flood))
	}
	for i := 0; i < 3; i++ {
		if !sc.Scan() {
			t.Fatalf("the stream was closed to make room: %v", sc.Err())
		}
	}
}

// TestMaxConns: the default bound follows the open-file limit.
func TestMaxConns(t *testing.T) {
	if got := maxConns(10); got != 10 {
		t.Fatalf("maxConns(10) = %d", got)
	}
	got := maxConns(0)
	if got < minMaxConns || got > DefaultMaxConns {
		t.Fatalf("maxConns(0) = %d, want within [%d, %d]", got, minMaxConns, DefaultMaxConns)
	}
	if lim, ok := fileLimit(); ok && uint64(got) > max(lim/2, minMaxConns) {
		t.Fatalf("maxConns(0) = %d over half the file limit %d", got, lim)
	}
}
