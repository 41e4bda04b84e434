package daemon

// Benchmarks that compare Plexus with a bare mark3labs/mcp-go server doing
// the same work, measured side by side in one run so a noisy machine slows
// both alike. They print ratios, not absolute targets:
//
//	go test -run '^$' -bench . -benchtime 2000x ./app/daemon/
//
// Targets (issue 3): Plexus >= 0.7x the bare server's tools/call rate at
// concurrency 8 in both protocol eras; the stdio bridge adds < 0.3 ms per
// call over a direct stdio server.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/app/localclient"
	"github.com/plexus-mcp/plexus/mcpserver/bridge"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

const benchConcurrency = 8

// startBenchDaemon runs a real daemon (bbolt file, master key from env) with
// a tenant "bench" and returns its runtime.
func startBenchDaemon(tb testing.TB) localclient.Runtime {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan localclient.Runtime, 1)
	done := make(chan error, 1)
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" // 32 zero bytes: a test key
	go func() {
		done <- Run(ctx, Config{
			DataDir: tb.TempDir(),
			Listen:  "127.0.0.1:0",
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
	if _, _, err := c.CreateTenant(context.Background(), "bench", "Bench"); err != nil {
		tb.Fatal(err)
	}
	return rt
}

// unavailableKeyring stands for a machine without a Secret Service.
type unavailableKeyring struct{}

func (unavailableKeyring) Get(string, string) (string, error) { return "", errNoKeyring }
func (unavailableKeyring) Set(string, string, string) error   { return errNoKeyring }
func (unavailableKeyring) Delete(string, string) error        { return errNoKeyring }

var errNoKeyring = fmt.Errorf("no secret service on this bus")

// bareServer is mcp-go alone with a tool doing plexus_whoami's work.
func bareServer(tb testing.TB) *server.MCPServer {
	s := server.NewMCPServer("bare", "1", server.WithToolCapabilities(true), server.WithRecovery())
	s.AddTool(mcp.NewTool("plexus_whoami"), func(ctx context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		sid := ""
		if cs := server.ClientSessionFromContext(ctx); cs != nil {
			sid = cs.SessionID()
		}
		b, err := json.Marshal(map[string]any{"tenant": "bench", "user": "u", "guest": false, "session_fingerprint": tools.SessionFingerprint(sid), "protocol": server.RequestProtocolVersion(ctx)})
		if err != nil {
			return nil, err
		}
		return mcp.NewToolResultText(string(b)), nil
	})
	return s
}

func startBareHTTP(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: server.NewStreamableHTTPServer(bareServer(tb)), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/mcp"
}

// caller is one MCP client connection doing tools/call in a loop.
type caller struct {
	url, token, era, sid string
	hc                   *http.Client
}

const benchMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

func newCaller(tb testing.TB, hc *http.Client, url, token, era string) *caller {
	c := &caller{url: url, token: token, era: era, hc: hc}
	if era == mcp.ProtocolVersion20251125 {
		resp := c.post(tb, "initialize", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`)
		c.sid = resp.Header.Get("Mcp-Session-Id")
		if c.sid == "" {
			tb.Fatal("no session id from initialize")
		}
		c.post(tb, "notifications/initialized", `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	}
	return c
}

func (c *caller) post(tb testing.TB, method, body string) *http.Response {
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
			req.Header.Set("Mcp-Name", "plexus_whoami")
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || (method == "tools/call" && !strings.Contains(string(b), "plexus_whoami") && !strings.Contains(string(b), `\"tenant\"`)) {
		tb.Fatalf("%s: %d %s", method, resp.StatusCode, b)
	}
	return resp
}

func (c *caller) call(tb testing.TB, id int64) {
	params := `"name":"plexus_whoami","arguments":{}`
	if c.era == mcp.ProtocolVersion20260728 {
		params += "," + benchMeta
	}
	c.post(tb, "tools/call", fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{%s}}`, id, params))
}

// rate runs n tools/call spread over benchConcurrency connections and
// returns calls per second.
func rate(tb testing.TB, url, token, era string, n int) float64 {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchConcurrency * 2}}
	defer hc.CloseIdleConnections()
	callers := make([]*caller, benchConcurrency)
	for i := range callers {
		callers[i] = newCaller(tb, hc, url, token, era)
		callers[i].call(tb, 0) // warm
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := next.Add(1); id <= int64(n); id = next.Add(1) {
				c.call(tb, id)
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkToolsCallVsBare reports Plexus's tools/call rate over a bare
// mcp-go server's at concurrency 8 (metric plexus/bare; target >= 0.7).
func BenchmarkToolsCallVsBare(b *testing.B) {
	rt := startBenchDaemon(b)
	bare := startBareHTTP(b)
	for _, era := range []string{mcp.ProtocolVersion20251125, mcp.ProtocolVersion20260728} {
		b.Run(era, func(b *testing.B) {
			n := max(b.N, 200)
			// Alternate to spread machine noise over both.
			var bareRate, plexusRate float64
			for range 2 {
				bareRate += rate(b, bare, "", era, n/2)
				plexusRate += rate(b, rt.BaseURL()+"/bench/mcp", rt.Token, era, n/2)
			}
			b.ReportMetric(plexusRate/2, "plexus-calls/s")
			b.ReportMetric(bareRate/2, "bare-calls/s")
			b.ReportMetric(plexusRate/bareRate, "plexus/bare")
		})
	}
}

// lineClient speaks newline-delimited JSON-RPC over a pipe pair.
type lineClient struct {
	w  io.Writer
	rd *bufio.Reader
}

func (c *lineClient) roundTrip(tb testing.TB, line string, id int64) {
	if _, err := io.WriteString(c.w, line+"\n"); err != nil {
		tb.Fatal(err)
	}
	want := fmt.Sprintf(`"id":%d`, id)
	for {
		l, err := c.rd.ReadString('\n')
		if err != nil {
			tb.Fatal(err)
		}
		if strings.Contains(l, want) {
			if strings.Contains(l, `"error"`) {
				tb.Fatalf("error reply: %s", l)
			}
			return
		}
	}
}

func (c *lineClient) handshake(tb testing.TB) {
	c.roundTrip(tb, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`, 1)
	io.WriteString(c.w, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n")
}

// latency measures the mean time of n sequential tools/call.
func (c *lineClient) latency(tb testing.TB, n int) time.Duration {
	start := time.Now()
	for i := range n {
		id := int64(100 + i)
		c.roundTrip(tb, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{}}}`, id), id)
	}
	return time.Since(start) / time.Duration(n)
}

func pipeClient(tb testing.TB, serve func(ctx context.Context, in io.Reader, out io.Writer) error) *lineClient {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		serve(ctx, inR, outW)
		outW.Close()
		close(done)
	}()
	tb.Cleanup(func() {
		inW.Close()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	})
	c := &lineClient{w: inW, rd: bufio.NewReader(outR)}
	c.handshake(tb)
	return c
}

// BenchmarkStdioBridgeAddedLatency reports how much `plexus stdio` (bridge
// + daemon) adds per sequential tools/call over a direct mcp-go stdio server
// doing the same work (metric added-ms/call; target < 0.3).
func BenchmarkStdioBridgeAddedLatency(b *testing.B) {
	rt := startBenchDaemon(b)
	direct := pipeClient(b, func(ctx context.Context, in io.Reader, out io.Writer) error {
		return server.NewStdioServer(bareServer(b)).Listen(ctx, in, out)
	})
	bridged := pipeClient(b, func(ctx context.Context, in io.Reader, out io.Writer) error {
		return bridge.Run(ctx, bridge.Config{URL: rt.BaseURL() + "/bench/mcp", Token: rt.Token}, in, out)
	})
	direct.latency(b, 50) // warm
	bridged.latency(b, 50)
	n := max(b.N, 200)
	var d, p time.Duration
	for range 2 {
		d += direct.latency(b, n/2)
		p += bridged.latency(b, n/2)
	}
	b.ReportMetric(float64(d/2)/1e6, "direct-ms/call")
	b.ReportMetric(float64(p/2)/1e6, "bridged-ms/call")
	b.ReportMetric(float64(p/2-d/2)/1e6, "added-ms/call")
}
