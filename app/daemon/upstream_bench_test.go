package daemon

// Benchmark of Plexus in front of upstream MCP servers (issue 11, line 11):
// calls per second of an upstream echo tool (an mcp-go server) reached
//
//   - directly over HTTP (direct),
//   - through a blind reverse proxy in front of it (proxy:
//     net/http/httputil.ReverseProxy with Go's default transport, which
//     copies every request and answer),
//   - through Plexus, the upstream mounted over HTTP (plexus-http), and
//   - through Plexus, the same server mounted over stdio (plexus-stdio),
//
// at concurrency 1 and 8, in both protocol eras of the calling client,
// measured side by side in one run (alternating, in up to ten rounds) so
// a noisy machine slows all alike. It prints the ratios:
//
//	go test -run '^$' -bench Upstream -benchtime 3000x ./app/daemon/
//
// Targets: plexus-http >= 1.2x proxy (about 0.4 of direct); plexus-stdio
// >= 0.5 of direct (the direct HTTP rate). Plexus keeps one session per
// upstream open and reuses its connections: no call starts a process or
// a handshake.
//
// It also prints each path's floor: the rate of a gateway that costs
// nothing itself, 1/(1/direct + 1/upstream), where upstream is the rate of
// calling the upstream the way Plexus does, with nothing in front (over
// HTTP: mcp-go's server in the 2025-11-25 era, Plexus's session with it;
// over stdio: mcp-go's own stdio client, measured as stdio-direct). A
// gateway in series with the server it calls can't beat its floor, so
// plexus/floor says how much of what is reachable Plexus keeps, and a
// target above the floor can't be met on this machine.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/mcpserver/upstream"
	"github.com/plexus-mcp/plexus/vault"
)

// benchEchoCmd makes the test binary the stdio echo upstream.
const benchEchoCmd = "__bench-echo"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == benchEchoCmd {
		if err := server.ServeStdio(echoServer()); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// echoServer is the upstream: mcp-go with one echo tool.
func echoServer() *server.MCPServer {
	s := server.NewMCPServer("echo", "1", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("echo", mcp.WithString("message")), func(_ context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText(r.GetString("message", "")), nil
	})
	return s
}

// listen serves h on 127.0.0.1 and returns the base URL.
func listen(tb testing.TB, h http.Handler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// echoCaller is one MCP client connection calling an echo tool in a loop.
type echoCaller struct {
	url, token, era, sid, tool string
	hc                         *http.Client
}

func newEchoCaller(tb testing.TB, hc *http.Client, url, token, era, tool string) *echoCaller {
	c := &echoCaller{url: url, token: token, era: era, hc: hc, tool: tool}
	if era == mcp.ProtocolVersion20251125 {
		resp := c.post(tb, "initialize", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`, "")
		c.sid = resp.Header.Get("Mcp-Session-Id")
		if c.sid == "" {
			tb.Fatal("no session id from initialize")
		}
		c.post(tb, "notifications/initialized", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, "")
	}
	return c
}

func (c *echoCaller) post(tb testing.TB, method, body, want string) *http.Response {
	req, _ := http.NewRequest(http.MethodPost, c.url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.sid != "" {
		req.Header.Set("Mcp-Session-Id", c.sid)
	}
	req.Header.Set("Mcp-Protocol-Version", c.era)
	if c.era == mcp.ProtocolVersion20260728 {
		req.Header.Set("Mcp-Method", method)
		if method == "tools/call" {
			req.Header.Set("Mcp-Name", c.tool)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || !strings.Contains(string(b), want) {
		tb.Fatalf("%s %s: %d %s", method, c.url, resp.StatusCode, b)
	}
	return resp
}

func (c *echoCaller) call(tb testing.TB, id int64) {
	msg := fmt.Sprintf("m%d", id)
	params := `"name":"` + c.tool + `","arguments":{"message":"` + msg + `"}`
	if c.era == mcp.ProtocolVersion20260728 {
		params += "," + benchMeta
	}
	c.post(tb, "tools/call", fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{%s}}`, id, params), `"text":"`+msg+`"`)
}

// echoRate makes n calls over conc connections and returns calls per
// second.
func echoRate(tb testing.TB, url, token, era, tool string, conc, n int) float64 {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}}
	defer hc.CloseIdleConnections()
	callers := make([]*echoCaller, conc)
	for i := range callers {
		callers[i] = newEchoCaller(tb, hc, url, token, era, tool)
		callers[i].call(tb, 0) // warm
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range callers {
		wg.Go(func() {
			for id := next.Add(1); id <= int64(n); id = next.Add(1) {
				c.call(tb, id)
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// startStdioEcho starts the stdio echo upstream (this test binary) under
// mcp-go's own stdio client, with nothing in front.
func startStdioEcho(tb testing.TB) *mcpclient.Client {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cl, err := mcpclient.NewStdioMCPClient(exe, nil, benchEchoCmd)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cl.Close() })
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.ProtocolVersion20251125
	init.Params.ClientInfo = mcp.Implementation{Name: "bench", Version: "1"}
	if _, err := cl.Initialize(context.Background(), init); err != nil {
		tb.Fatal(err)
	}
	return cl
}

// stdioRate makes n echo calls through cl over conc goroutines and
// returns calls per second.
func stdioRate(tb testing.TB, cl *mcpclient.Client, conc, n int) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for id := next.Add(1); id <= int64(n); id = next.Add(1) {
				var req mcp.CallToolRequest
				req.Params.Name = "echo"
				msg := fmt.Sprintf("m%d", id)
				req.Params.Arguments = map[string]any{"message": msg}
				res, err := cl.CallTool(context.Background(), req)
				if err == nil && (len(res.Content) != 1 || mcp.GetTextFromContent(res.Content[0]) != msg) {
					err = fmt.Errorf("echo %s: got %+v", msg, res.Content)
				}
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		tb.Fatal(*err)
	}
	return float64(n) / time.Since(start).Seconds()
}

// verdict says how rate fares against target (a multiple of base, named
// baseName), knowing the floor: met, missed, or out of reach because even
// a zero-cost gateway would miss it.
func verdict(rate, target, floor, base float64, baseName string) string {
	switch {
	case rate >= target:
		return fmt.Sprintf("met (%.2fx %s)", rate/base, baseName)
	case floor < target:
		return fmt.Sprintf("out of reach here: the floor is %.2fx %s, the target %.2fx (Plexus %.2fx, %.0f%% of the floor)",
			floor/base, baseName, target/base, rate/base, 100*rate/floor)
	default:
		return fmt.Sprintf("missed: %.2fx %s, target %.2fx (%.0f%% of the floor, which allows %.2fx)",
			rate/base, baseName, target/base, 100*rate/floor, floor/base)
	}
}

// floor is the rate of a zero-cost gateway between a client whose direct
// rate is direct and an upstream called at rate up: the two in series.
func floor(direct, up float64) float64 { return 1 / (1/direct + 1/up) }

// startUpstreamBenchDaemon is startBenchDaemon whose tenant "bench" mounts
// the echo upstream twice: "http" at httpURL and "stdio" as this test
// binary.
func startUpstreamBenchDaemon(tb testing.TB, httpURL string) localclient.Runtime {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan localclient.Runtime, 1)
	done := make(chan error, 1)
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" // 32 zero bytes: a test key
	go func() {
		done <- Run(ctx, Config{
			DataDir:     tb.TempDir(),
			Listen:      "127.0.0.1:0",
			UpstreamEnv: upstream.BaseEnv(os.Getenv),
			Vault: vault.Config{
				Keyring: unavailableKeyring{},
				Getenv: func(k string) string {
					if k == "PLEXUS_MASTER_KEY" {
						return key
					}
					return ""
				},
			},
			Ready: func(rt localclient.Runtime) { ready <- rt },
		})
	}()
	var rt localclient.Runtime
	select {
	case rt = <-ready:
	case err := <-done:
		tb.Fatalf("daemon stopped: %v", err)
	case <-time.After(30 * time.Second):
		tb.Fatal("daemon not ready after 30s")
	}
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	c := &localclient.Client{BaseURL: rt.BaseURL(), Token: rt.Token}
	if _, _, err := c.CreateTenant(ctx, "bench", "Bench"); err != nil {
		tb.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	for _, req := range []apiv1.UpstreamRequest{
		{Name: "http", URL: httpURL},
		{Name: "stdio", Command: exe, Args: []string{benchEchoCmd}},
	} {
		u, err := c.AddUpstream(ctx, "bench", req)
		if err != nil {
			tb.Fatal(err)
		}
		if u.Status == nil || !u.Status.Listed || u.Status.Tools != 1 {
			tb.Fatalf("upstream %s did not start: %+v", req.Name, u.Status)
		}
	}
	return rt
}

// BenchmarkUpstreamEcho reports calls per second to an upstream echo tool
// directly, through a blind reverse proxy and through Plexus (HTTP and
// stdio upstream), and the ratios: plexus-http/proxy (target >= 1.2),
// plexus-http/direct and plexus-stdio/direct (target >= 0.5), and each
// Plexus path against its floor.
func BenchmarkUpstreamEcho(b *testing.B) {
	direct := listen(b, server.NewStreamableHTTPServer(echoServer())) + "/mcp"
	target, _ := url.Parse(direct)
	// Go's ReverseProxy as it comes (http.DefaultTransport), the blind
	// proxy of PLATFORM.md's measurement.
	proxy := listen(b, httputil.NewSingleHostReverseProxy(target)) + "/mcp"
	rt := startUpstreamBenchDaemon(b, direct)
	plexus := rt.BaseURL() + "/bench/mcp"
	stdio := startStdioEcho(b)
	type row struct {
		name                                string
		direct, proxy, plexusHTTP, plexusIO float64
		upHTTP, upStdio                     float64 // the upstream called as Plexus calls it
	}
	var rows []row
	for _, era := range []string{mcp.ProtocolVersion20251125, mcp.ProtocolVersion20260728} {
		for _, conc := range []int{1, 8} {
			name := fmt.Sprintf("%s/c=%d", era, conc)
			b.Run(name, func(b *testing.B) {
				n := max(b.N, 100)
				var r row
				// Alternate, in short rounds, so that a machine whose load
				// swings (2 shared cores) slows all four alike.
				rounds := min(10, max(2, n/200))
				for range rounds {
					d := echoRate(b, direct, "", era, "echo", conc, n/rounds)
					r.direct += d
					if era != mcp.ProtocolVersion20251125 {
						d = echoRate(b, direct, "", mcp.ProtocolVersion20251125, "echo", conc, n/rounds)
					}
					r.upHTTP += d
					r.upStdio += stdioRate(b, stdio, conc, n/rounds)
					r.proxy += echoRate(b, proxy, "", era, "echo", conc, n/rounds)
					r.plexusHTTP += echoRate(b, plexus, rt.Token, era, "http__echo", conc, n/rounds)
					r.plexusIO += echoRate(b, plexus, rt.Token, era, "stdio__echo", conc, n/rounds)
				}
				for _, v := range []*float64{&r.direct, &r.upHTTP, &r.upStdio, &r.proxy, &r.plexusHTTP, &r.plexusIO} {
					*v /= float64(rounds)
				}
				b.ReportMetric(r.direct, "direct-calls/s")
				b.ReportMetric(r.proxy/r.direct, "proxy/direct")
				b.ReportMetric(r.plexusHTTP/r.direct, "plexus-http/direct")
				b.ReportMetric(r.plexusHTTP/r.proxy, "plexus-http/proxy")
				b.ReportMetric(r.plexusHTTP/floor(r.direct, r.upHTTP), "plexus-http/floor")
				b.ReportMetric(r.plexusIO/r.direct, "plexus-stdio/direct")
				b.ReportMetric(r.plexusIO/floor(r.direct, r.upStdio), "plexus-stdio/floor")
				if b.N > 1 {
					r.name = name
					rows = append(rows, r)
				}
			})
		}
	}
	if len(rows) == 0 {
		return
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].name < rows[j].name })
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nUpstream echo through Plexus (ratios to the same upstream called directly over HTTP, one run):\n")
	fmt.Fprintf(&sb, "%-18s %9s %7s %12s %11s %11s %11s %13s %13s %11s %11s\n", "era/concurrency", "direct/s", "proxy",
		"plexus-http", "http/proxy", "http-floor", "http/floor", "stdio-direct", "plexus-stdio", "stdio-floor", "stdio/floor")
	for _, r := range rows {
		fh, fs := floor(r.direct, r.upHTTP), floor(r.direct, r.upStdio)
		fmt.Fprintf(&sb, "%-18s %9.0f %6.2fx %11.2fx %10.2fx %10.2fx %10.2fx %12.2fx %12.2fx %10.2fx %10.2fx\n", r.name, r.direct,
			r.proxy/r.direct, r.plexusHTTP/r.direct, r.plexusHTTP/r.proxy, fh/r.direct, r.plexusHTTP/fh,
			r.upStdio/r.direct, r.plexusIO/r.direct, fs/r.direct, r.plexusIO/fs)
	}
	fmt.Fprintf(&sb, "(every column but direct/s, http/proxy and x/floor is a ratio to direct; floor: a zero-cost gateway in series with the upstream)\n")
	fmt.Fprintf(&sb, "targets: plexus-http >= 1.2x proxy; plexus-stdio >= 0.5x direct\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "%-18s http: %s; stdio: %s\n", r.name,
			verdict(r.plexusHTTP, 1.2*r.proxy, floor(r.direct, r.upHTTP), r.proxy, "proxy"),
			verdict(r.plexusIO, 0.5*r.direct, floor(r.direct, r.upStdio), r.direct, "direct"))
	}
	fmt.Print(sb.String())
}
