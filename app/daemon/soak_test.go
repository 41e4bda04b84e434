package daemon

// The denial-of-service soak (issue 9): it builds the real plexus binary,
// starts `plexus serve` on a temporary data directory (127.0.0.1, port 0)
// and attacks it the way a hostile local process can, printing figures:
//
//  1. 20,000 guest initializes (no token), 32 at a time;
//  2. 20,000 connections that send a POST's headers and half its body,
//     then stall, 64 dialers at a time;
//
// while GET /healthz is timed on a new connection every 50 ms and the
// daemon's RSS is read from /proc/<pid>/status. A guest session with an
// open GET stream, made before the attacks, must survive them. Targets:
// RSS under 100 MB after the initializes, /healthz within 100 ms
// throughout, every stalled body closed within 60 s.
//
// It runs only when asked (about 2 minutes on 2 cores, most of it the disk
// syncs of 20,000 session writes and the 40 s read deadline):
//
//	PLEXUS_SOAK=1 go test -run TestSoakDoS -v -timeout 15m ./app/daemon/
//
// PLEXUS_SOAK_INITS, PLEXUS_SOAK_STALLS and PLEXUS_SOAK_DIALERS change the
// counts, PLEXUS_SOAK_RATE paces the stalled connections (per second; by
// default they come as fast as 64 dialers can open them); PLEXUS_SOAK_STRICT=1 also fails on a /healthz answer slower
// than the target (by default it is printed: a busy machine delays it).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/localclient"
)

// Soak targets (acceptance, issue 9 item 5).
const (
	soakMaxRSS        = 100 << 20
	soakMaxHealthz    = 100 * time.Millisecond
	soakMaxStallClose = 60 * time.Second
)

func soakCount(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func TestSoakDoS(t *testing.T) {
	if os.Getenv("PLEXUS_SOAK") != "1" {
		t.Skip("set PLEXUS_SOAK=1 to run the denial-of-service soak (about 2 minutes)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the soak reads RSS from /proc")
	}
	inits := soakCount("PLEXUS_SOAK_INITS", 20000)
	stalls := soakCount("PLEXUS_SOAK_STALLS", 20000)

	d := startSoakDaemon(t)
	base := "http://" + d.rt.Addr
	fmt.Printf("soak: plexus pid %d on %s; %d guest initializes, %d stalled bodies\n", d.pid, d.rt.Addr, inits, stalls)
	fmt.Printf("soak: RSS at start %.1f MB\n", mb(d.rss(t)))

	// A legitimate guest with a GET stream, made before the attacks.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}
	legit := soakInitialize(t, client, base)
	streamCtx, stopStream := context.WithCancel(t.Context())
	defer stopStream()
	stream := soakOpenStream(t, streamCtx, base, legit)
	defer stream.Close()

	mon := startMonitor(t, base, d)

	// Phase 1: guest initializes.
	mon.phase("initializes")
	start := time.Now()
	var failed atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for next.Add(1) <= int64(inits) {
				if _, err := soakTryInitialize(client, base); err != nil {
					if failed.Add(1) <= 3 {
						t.Logf("initialize: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	initDur := time.Since(start)
	client.CloseIdleConnections()
	time.Sleep(2 * time.Second) // let the sampler see the settled daemon
	rssAfterInits := d.rss(t)
	fmt.Printf("soak: %d guest initializes in %.1fs (%.0f/s), %d failed; RSS after: %.1f MB (peak so far %.1f MB)\n",
		inits, initDur.Seconds(), float64(inits)/initDur.Seconds(), failed.Load(), mb(rssAfterInits), mb(mon.peakRSS.Load()))

	// Phase 2: stalled bodies.
	mon.phase("stalled bodies")
	start = time.Now()
	closeTimes := make([]time.Duration, 0, stalls)
	var ctMu sync.Mutex
	var dialFailed, notClosed atomic.Int64
	var nextStall atomic.Int64
	var waiters sync.WaitGroup
	var pace <-chan time.Time // nil: as fast as the dialers go
	if rate := soakCount("PLEXUS_SOAK_RATE", 0); rate > 0 {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		pace = tick.C
	}
	for range soakCount("PLEXUS_SOAK_DIALERS", 64) {
		wg.Go(func() {
			for nextStall.Add(1) <= int64(stalls) {
				if pace != nil {
					<-pace
				}
				c, err := net.DialTimeout("tcp", d.rt.Addr, 10*time.Second)
				if err != nil {
					dialFailed.Add(1)
					continue
				}
				fmt.Fprintf(c, "POST /soak/mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,", d.rt.Addr)
				stalled := time.Now()
				waiters.Go(func() {
					defer c.Close()
					_ = c.SetReadDeadline(time.Now().Add(soakMaxStallClose + 30*time.Second))
					_, err := io.Copy(io.Discard, c)
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						notClosed.Add(1)
						return
					}
					ctMu.Lock()
					closeTimes = append(closeTimes, time.Since(stalled))
					ctMu.Unlock()
				})
			}
		})
	}
	wg.Wait()
	dialDur := time.Since(start)
	waiters.Wait()
	stallDur := time.Since(start)
	mon.stop()

	slices.Sort(closeTimes)
	fmt.Printf("soak: %d stalled bodies dialled in %.1fs (%d dials failed); all handled in %.1fs; closed by the daemon: %d, p50 %s, p99 %s, max %s; never closed: %d\n",
		stalls, dialDur.Seconds(), dialFailed.Load(), stallDur.Seconds(), len(closeTimes),
		pct(closeTimes, 50), pct(closeTimes, 99), pct(closeTimes, 100), notClosed.Load())
	fmt.Printf("soak: RSS after the stalled bodies %.1f MB; peak %.1f MB\n", mb(d.rss(t)), mb(mon.peakRSS.Load()))
	mon.report()

	// The legitimate stream is still open, and its session still works.
	streamAlive := stream.alive()
	fmt.Printf("soak: the legitimate guest's GET stream survived both attacks: %v\n", streamAlive)
	whoami := soakCall(t, base, legit)

	// Targets.
	if failed.Load() > 0 {
		t.Errorf("%d of %d initializes failed", failed.Load(), inits)
	}
	if rssAfterInits >= soakMaxRSS {
		t.Errorf("RSS after %d guest initializes = %.1f MB, target < %.0f MB", inits, mb(rssAfterInits), mb(soakMaxRSS))
	}
	// /healthz must always answer (the probe gives up after 5 s) and
	// usually within the target; its slowest answers depend on how busy
	// the machine is (the attacker shares its cores), so they fail the
	// soak only with PLEXUS_SOAK_STRICT=1.
	strict := os.Getenv("PLEXUS_SOAK_STRICT") == "1"
	for _, p := range mon.phases {
		if p.failures > 0 {
			t.Errorf("/healthz failed %d times during %s", p.failures, p.name)
		}
		if m := pct(p.latencies, 50); m > soakMaxHealthz {
			t.Errorf("/healthz median %s during %s, target %s", m, p.name, soakMaxHealthz)
		}
		m := pct(p.latencies, 100)
		fmt.Printf("soak: /healthz max during %s %s: target %s %s\n", p.name, m, soakMaxHealthz, map[bool]string{true: "met", false: "MISSED"}[m <= soakMaxHealthz])
		if strict && m > soakMaxHealthz {
			t.Errorf("/healthz took up to %s during %s, target %s", m, p.name, soakMaxHealthz)
		}
	}
	if notClosed.Load() > 0 || pct(closeTimes, 100) > soakMaxStallClose {
		t.Errorf("stalled bodies: %d never closed, slowest closed after %s; target all within %s", notClosed.Load(), pct(closeTimes, 100), soakMaxStallClose)
	}
	if !streamAlive {
		t.Error("the legitimate GET stream was closed by the attacks")
	}
	if !strings.Contains(whoami, `"guest":true`) {
		t.Errorf("the legitimate session after the attacks: %s", whoami)
	}
}

// soakDaemon is a running `plexus serve`.
type soakDaemon struct {
	pid int
	rt  localclient.Runtime
}

func (d *soakDaemon) rss(t *testing.T) int64 {
	n, err := procRSS(d.pid)
	if err != nil {
		t.Fatalf("read RSS: %v", err)
	}
	return n
}

// procRSS reads VmRSS of pid in bytes.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func startSoakDaemon(t *testing.T) *soakDaemon {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "plexus")
	build := exec.Command("go", "build", "-o", bin, "github.com/plexus-mcp/plexus")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build plexus: %v", err)
	}
	data := filepath.Join(dir, "data")
	key := make([]byte, 32)
	rand.Read(key)
	logs := &bytes.Buffer{}
	var logMu sync.Mutex
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data", data)
	cmd.Env = append(os.Environ(),
		"PLEXUS_MASTER_KEY="+base64.StdEncoding.EncodeToString(key),
		"DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(dir, "no-bus"),
		"ADMIN_API_KEY=", "HOST_APP_REGISTRATION_SECRET=")
	w := writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return logs.Write(p) })
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			logMu.Lock()
			t.Logf("daemon log (tail):\n%s", tail(logs.String(), 40))
			logMu.Unlock()
		}
	})
	var rt localclient.Runtime
	for range 300 {
		if r, err := localclient.ReadRuntime(data); err == nil && r.PID == pid {
			rt = r
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rt.Addr == "" {
		t.Fatal("plexus serve wrote no runtime file within 30s")
	}
	c := &localclient.Client{BaseURL: rt.BaseURL(), Token: rt.Token}
	if _, _, err := c.CreateTenant(t.Context(), "soak", "Soak"); err != nil {
		t.Fatal(err)
	}
	return &soakDaemon{pid: pid, rt: rt}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

const soakInitBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"soak","version":"1"}}}`

func soakTryInitialize(c *http.Client, base string) (string, error) {
	r, _ := http.NewRequest(http.MethodPost, base+"/soak/mcp", strings.NewReader(soakInitBody))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := c.Do(r)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	sid := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || sid == "" {
		return "", fmt.Errorf("initialize: status %d", resp.StatusCode)
	}
	return sid, nil
}

func soakInitialize(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	sid, err := soakTryInitialize(c, base)
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

// soakCall calls plexus_whoami in session sid and returns the response body.
func soakCall(t *testing.T, base, sid string) string {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, base+"/soak/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{}}}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json, text/event-stream")
	r.Header.Set("Mcp-Session-Id", sid)
	r.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(r)
	if err != nil {
		t.Fatalf("tools/call after the attacks: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var rpc struct {
		Result struct {
			Content []struct{ Text string } `json:"content"`
		} `json:"result"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &rpc) != nil || len(rpc.Result.Content) == 0 {
		return fmt.Sprintf("status %d: %s", resp.StatusCode, b)
	}
	return rpc.Result.Content[0].Text
}

// soakStream is an open legacy GET stream.
type soakStream struct {
	body   io.ReadCloser
	closed atomic.Bool
}

func soakOpenStream(t *testing.T, ctx context.Context, base, sid string) *soakStream {
	t.Helper()
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/soak/mcp", nil)
	r.Header.Set("Accept", "text/event-stream")
	r.Header.Set("Mcp-Session-Id", sid)
	r.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("open GET stream: %v %v", resp, err)
	}
	s := &soakStream{body: resp.Body}
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(resp.Body))
		s.closed.Store(true)
	}()
	return s
}

func (s *soakStream) alive() bool {
	time.Sleep(100 * time.Millisecond)
	return !s.closed.Load()
}

func (s *soakStream) Close() { s.body.Close() }

// monitor samples /healthz (a probe process, new connection every 50 ms)
// and the daemon's RSS.
type monitor struct {
	mu        sync.Mutex
	phases    []*soakPhase
	peakRSS   atomic.Int64
	done      chan struct{}
	wg        sync.WaitGroup
	stopProbe func()
	probeDone chan struct{}
}

type soakPhase struct {
	name       string
	start, end time.Time
	latencies  []time.Duration
	slowest    []slowSample // the 3 slowest, for the report
	failures   int
}

type slowSample struct{ at, took, connect time.Duration }

func startMonitor(t *testing.T, base string, d *soakDaemon) *monitor {
	t.Helper()
	m := &monitor{done: make(chan struct{})}
	// The probe is a process of its own, as a health monitor is: in this
	// one, the attackers' goroutines and garbage would delay it too.
	probe := exec.Command(os.Args[0], "-test.run=^TestSoakHealthProbe$")
	probe.Env = append(os.Environ(), "PLEXUS_SOAK_PROBE="+base)
	stdin, err := probe.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := probe.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	probe.Stderr = os.Stderr
	if err := probe.Start(); err != nil {
		t.Fatal(err)
	}
	m.stopProbe = func() {
		stdin.Close() // the probe stops at EOF on stdin
		select {
		case <-m.probeDone:
		case <-time.After(10 * time.Second):
			_ = probe.Process.Kill()
			<-m.probeDone
		}
		_ = probe.Wait()
	}
	m.probeDone = make(chan struct{})
	go func() {
		defer close(m.probeDone)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var at, took, connect int64
			var ok bool
			if _, err := fmt.Sscanf(sc.Text(), "probe %d %d %t %d", &at, &took, &ok, &connect); err != nil {
				continue
			}
			m.record(time.Unix(0, at), time.Duration(took), ok, time.Duration(connect))
		}
	}()
	m.wg.Go(func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			if n, err := procRSS(d.pid); err == nil && n > m.peakRSS.Load() {
				m.peakRSS.Store(n)
			}
			select {
			case <-m.done:
				return
			case <-tick.C:
			}
		}
	})
	return m
}

// record files a probe sample under the phase it was taken in.
func (m *monitor) record(at time.Time, took time.Duration, ok bool, connect time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var p *soakPhase
	for _, q := range m.phases {
		if !at.Before(q.start) && (q.end.IsZero() || at.Before(q.end)) {
			p = q
		}
	}
	if p == nil {
		return
	}
	if !ok {
		p.failures++
		return
	}
	p.latencies = append(p.latencies, took)
	p.slowest = append(p.slowest, slowSample{at: at.Sub(p.start), took: took, connect: connect})
	slices.SortFunc(p.slowest, func(a, b slowSample) int { return int(b.took - a.took) })
	p.slowest = p.slowest[:min(len(p.slowest), 3)]
}

// TestSoakHealthProbe is the soak's health probe (a child process): it
// times GET /healthz on a new connection every 50 ms and prints
// "probe <unix ns> <latency ns> <ok> <connect ns>" lines until its stdin
// closes.
func TestSoakHealthProbe(t *testing.T) {
	base := os.Getenv("PLEXUS_SOAK_PROBE")
	if base == "" {
		t.Skip("the soak's health probe runs only as TestSoakDoS's child process")
	}
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		start := time.Now()
		var connected time.Duration
		trace := &httptrace.ClientTrace{ConnectDone: func(string, string, error) { connected = time.Since(start) }}
		r, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, base+"/healthz", nil)
		resp, err := hc.Do(r)
		ok := err == nil && resp.StatusCode == http.StatusOK
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		fmt.Printf("probe %d %d %t %d\n", start.UnixNano(), time.Since(start).Nanoseconds(), ok, connected.Nanoseconds())
	}
}

func (m *monitor) current() *soakPhase {
	if len(m.phases) == 0 {
		return nil
	}
	return m.phases[len(m.phases)-1]
}

func (m *monitor) phase(name string) {
	m.mu.Lock()
	now := time.Now()
	if p := m.current(); p != nil {
		p.end = now
	}
	m.phases = append(m.phases, &soakPhase{name: name, start: now})
	m.mu.Unlock()
}

func (m *monitor) stop() {
	m.stopProbe()
	close(m.done)
	m.wg.Wait()
}

func (m *monitor) report() {
	for _, p := range m.phases {
		slices.Sort(p.latencies)
		var slow []string
		for _, s := range p.slowest {
			slow = append(slow, fmt.Sprintf("%s at +%.1fs (TCP connect %s)", s.took.Round(100*time.Microsecond), s.at.Seconds(), s.connect.Round(100*time.Microsecond)))
		}
		fmt.Printf("soak: /healthz during %s: %d answered, %d failed; p50 %s, p99 %s, max %s (target %s); slowest: %s\n",
			p.name, len(p.latencies), p.failures, pct(p.latencies, 50), pct(p.latencies, 99), pct(p.latencies, 100), soakMaxHealthz,
			strings.Join(slow, ", "))
	}
}

// pct returns the p-th percentile of sorted (p 100 = max).
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)].Round(100 * time.Microsecond)
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }
