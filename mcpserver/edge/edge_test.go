package edge

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// guardCases is the rule as a table; seeds FuzzGuard too.
var guardCases = []struct {
	name     string
	anyHost  bool
	host     string
	origin   string
	wantCode int
}{
	{"loopback ip", false, "127.0.0.1:8765", "", 204},
	{"localhost", false, "localhost:8765", "", 204},
	{"localhost upper case", false, "LOCALHOST:8765", "", 204},
	{"ipv6 loopback", false, "[::1]:8765", "", 204},
	{"other loopback ip", false, "127.1.2.3:8765", "", 204},
	{"no port", false, "localhost", "", 204},
	{"same origin", false, "127.0.0.1:8765", "http://127.0.0.1:8765", 204},
	{"same origin https", false, "127.0.0.1:8765", "https://127.0.0.1:8765", 204},
	{"same origin trailing slash", false, "localhost:8765", "http://localhost:8765/", 204},
	{"foreign host (dns rebinding)", false, "evil.example:8765", "", 403},
	{"foreign host no port", false, "evil.example", "", 403},
	{"empty host", false, "", "", 403},
	{"localhost with dot", false, "localhost.:8765", "", 403},
	{"short loopback form", false, "127.1:8765", "", 403},
	{"ipv6 zone", false, "[::1%25lo]:8765", "", 403},
	{"other port", false, "127.0.0.1:9999", "", 403},
	{"foreign origin", false, "127.0.0.1:8765", "http://evil.example", 403},
	{"null origin", false, "127.0.0.1:8765", "null", 403},
	{"origin with other port", false, "127.0.0.1:8765", "http://127.0.0.1:3000", 403},
	{"loopback origin other name", false, "127.0.0.1:8765", "http://localhost:8765", 403},
	{"origin with path", false, "127.0.0.1:8765", "http://127.0.0.1:8765/x", 403},
	{"origin with user", false, "127.0.0.1:8765", "http://u@127.0.0.1:8765", 403},
	{"origin other scheme", false, "127.0.0.1:8765", "file://127.0.0.1:8765", 403},
	{"any host allowed", true, "plexus.example.com", "", 204},
	{"any host same origin", true, "plexus.example.com", "https://plexus.example.com", 204},
	{"any host still checks origin", true, "plexus.example.com", "https://evil.example", 403},
}

func ok() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Checked(r.Context()) {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func TestGuard(t *testing.T) {
	strict := Guard(ok(), Options{ListenAddr: "127.0.0.1:8765"})
	anyHost := Guard(ok(), Options{ListenAddr: "0.0.0.0:8765", AllowAnyHost: true})
	for _, tc := range guardCases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/acme/mcp", nil)
			r.Host = tc.host
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			w := httptest.NewRecorder()
			if tc.anyHost {
				anyHost.ServeHTTP(w, r)
			} else {
				strict.ServeHTTP(w, r)
			}
			if w.Code != tc.wantCode {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.wantCode, w.Body)
			}
			if w.Code == 204 && w.Header().Get("X-Frame-Options") != "DENY" {
				t.Error("security headers missing")
			}
			if w.Code == 403 {
				var e struct {
					JSONRPC string          `json:"jsonrpc"`
					ID      json.RawMessage `json:"id"`
					Error   struct{ Code int }
				}
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.JSONRPC != "2.0" || string(e.ID) != "null" || e.Error.Code != CodeServerError {
					t.Errorf("refusal on /acme/mcp is not a JSON-RPC error: %s", w.Body)
				}
			}
		})
	}
}

// TestGuardPortFromConnection: without a configured listen address, the
// port a Host may name is the one the request arrived on.
func TestGuardPortFromConnection(t *testing.T) {
	hs := httptest.NewServer(Guard(ok(), Options{}))
	t.Cleanup(hs.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(hs.URL, "http://"))
	for host, want := range map[string]int{
		"127.0.0.1:" + port:    204,
		"localhost:" + port:    204,
		"localhost":            204,
		"127.0.0.1:1":          403,
		"evil.example:" + port: 403,
	} {
		req, _ := http.NewRequest(http.MethodGet, hs.URL+"/x", nil)
		req.Host = host
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: status %d, want %d", host, resp.StatusCode, want)
		}
	}
}

// TestErrorShapes: a refusal answers in the shape of its route family.
func TestErrorShapes(t *testing.T) {
	h := Guard(ok(), Options{ListenAddr: "127.0.0.1:8765"})
	for _, tc := range []struct {
		path string
		key  string
	}{
		{"/acme/mcp", "jsonrpc"},
		{"/acme/mcp/", "jsonrpc"},
		{"/api/v1/tenants", "error"},
		{"/api/v1", "error"},
		{"/acme/plexus-auth/register-user", "detail"},
		{"/acme/plexus-services/api-keys", "detail"},
		{"/acme/oauth/external_callback/github", "detail"},
		{"/healthz", "detail"},
		{"/acme/mcp/x", "detail"},
		{"//mcp", "detail"},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.path, nil)
		r.Host = "evil.example"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Errorf("%s: not JSON: %s", tc.path, w.Body)
			continue
		}
		if _, ok := m[tc.key]; !ok || w.Code != 403 || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s, want 403 with %q", tc.path, w.Code, w.Body, tc.key)
		}
	}
}

// TestRequire: a handler mounted without Guard still applies the rule;
// behind Guard it does not check again.
func TestRequire(t *testing.T) {
	calls := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Require(w, r) {
			return
		}
		calls++
		w.WriteHeader(http.StatusNoContent)
	})
	bare := httptest.NewServer(h)
	t.Cleanup(bare.Close)
	for _, tc := range []struct {
		host, origin string
		want         int
	}{
		{"", "", 204},
		{"evil.example", "", 403},
		{"", "http://evil.example", 403},
	} {
		req, _ := http.NewRequest(http.MethodPost, bare.URL+"/acme/mcp", nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := bare.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("unguarded, Host %q Origin %q: %d, want %d", tc.host, tc.origin, resp.StatusCode, tc.want)
		}
	}
	// Behind Guard with AllowAnyHost, Require trusts Guard's verdict.
	guarded := Guard(h, Options{AllowAnyHost: true})
	r := httptest.NewRequest(http.MethodPost, "/acme/mcp", nil)
	r.Host = "plexus.example.com"
	w := httptest.NewRecorder()
	guarded.ServeHTTP(w, r)
	if w.Code != 204 {
		t.Errorf("guarded with any host: %d, want 204", w.Code)
	}
	if Checked(context.Background()) {
		t.Error("Checked on a bare context")
	}
}

func TestFamilyOf(t *testing.T) {
	for path, want := range map[string]Family{
		"/acme/mcp": FamilyMCP, "/acme/mcp/": FamilyMCP, "/x%3Brm/mcp": FamilyMCP,
		"/api/v1": FamilyAdmin, "/api/v1/": FamilyAdmin, "/api/v1/tenants/x": FamilyAdmin,
		"/api/v10": FamilyDetail, "/": FamilyDetail, "": FamilyDetail, "/mcp": FamilyDetail,
		"//mcp": FamilyDetail, "/a/b/mcp": FamilyDetail, "/acme/mcpx": FamilyDetail,
	} {
		if got := FamilyOf(path); got != want {
			t.Errorf("FamilyOf(%q) = %d, want %d", path, got, want)
		}
	}
}

func TestRPCErrorJSON(t *testing.T) {
	for _, tc := range []struct {
		id   string
		data any
		want string
	}{
		{"", nil, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"m"}}`},
		{`7`, nil, `{"jsonrpc":"2.0","id":7,"error":{"code":-32600,"message":"m"}}`},
		{`"a"`, map[string]int{"x": 1}, `{"jsonrpc":"2.0","id":"a","error":{"code":-32600,"message":"m","data":{"x":1}}}`},
		{`{bad`, nil, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"m"}}`},
		{`1`, func() {}, `{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"m"}}`},
	} {
		if got := string(RPCErrorJSON(json.RawMessage(tc.id), -32600, "m", tc.data)); got != tc.want {
			t.Errorf("RPCErrorJSON(%s) = %s, want %s", tc.id, got, tc.want)
		}
	}
}

func TestWriteJSONUnmarshalable(t *testing.T) {
	w := httptest.NewRecorder()
	WriteJSON(w, http.StatusOK, func() {})
	if w.Code != 500 || !json.Valid(w.Body.Bytes()) || !strings.Contains(w.Body.String(), "detail") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// FuzzGuard: any Host and Origin either pass with a loopback Host (or any
// host when allowed) and a same-origin Origin, or get a 403 in JSON; never
// a panic.
func FuzzGuard(f *testing.F) {
	for _, tc := range guardCases {
		f.Add(tc.host, tc.origin, "/acme/mcp", tc.anyHost)
	}
	f.Add("127.0.0.1:8765", "", "/api/v1/tenants", false)
	strict := Guard(ok(), Options{ListenAddr: "127.0.0.1:8765"})
	anyHost := Guard(ok(), Options{ListenAddr: "127.0.0.1:8765", AllowAnyHost: true})
	f.Fuzz(func(t *testing.T, host, origin, path string, any bool) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.Path = path
		r.Host = host
		if origin != "" {
			r.Header["Origin"] = []string{origin}
		}
		w := httptest.NewRecorder()
		h := strict
		if any {
			h = anyHost
		}
		h.ServeHTTP(w, r)
		switch w.Code {
		case 204:
			if !any && !LoopbackHost(host, "8765") {
				t.Fatalf("passed a non-loopback Host %q", host)
			}
			if origin != "" && !SameOrigin(origin, host) {
				t.Fatalf("passed Origin %q for Host %q", origin, host)
			}
		case 403:
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("refusal is not JSON: %q", w.Body)
			}
		default:
			t.Fatalf("status %d", w.Code)
		}
	})
}
