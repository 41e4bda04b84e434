package daemon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	tests := []struct {
		name     string
		anyHost  bool
		host     string
		origin   string
		wantCode int
	}{
		{"loopback ip", false, "127.0.0.1:8765", "", 204},
		{"localhost", false, "localhost:8765", "", 204},
		{"ipv6 loopback", false, "[::1]:8765", "", 204},
		{"no port", false, "localhost", "", 204},
		{"same origin", false, "127.0.0.1:8765", "http://127.0.0.1:8765", 204},
		{"foreign host (dns rebinding)", false, "evil.example:8765", "", 403},
		{"other port", false, "127.0.0.1:9999", "", 403},
		{"foreign origin", false, "127.0.0.1:8765", "http://evil.example", 403},
		{"null origin", false, "127.0.0.1:8765", "null", 403},
		{"origin with other port", false, "127.0.0.1:8765", "http://127.0.0.1:3000", 403},
		{"any host allowed", true, "plexus.example.com", "", 204},
		{"any host still checks origin", true, "plexus.example.com", "https://evil.example", 403},
	}
	h := guard("127.0.0.1:8765", false, ok)
	hAny := guard("0.0.0.0:8765", true, ok)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/acme/mcp", nil)
			r.Host = tc.host
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			w := httptest.NewRecorder()
			if tc.anyHost {
				hAny.ServeHTTP(w, r)
			} else {
				h.ServeHTTP(w, r)
			}
			if w.Code != tc.wantCode {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.wantCode, w.Body)
			}
			if w.Code == 204 && w.Header().Get("X-Frame-Options") != "DENY" {
				t.Error("security headers missing")
			}
		})
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8765": true, "localhost:0": true, "[::1]:1": true, "127.1.2.3:80": true,
		"0.0.0.0:8765": false, ":8765": false, "192.168.1.2:80": false, "example.com:80": false,
	} {
		got, err := isLoopbackAddr(addr)
		if err != nil || got != want {
			t.Errorf("isLoopbackAddr(%q) = %v, %v; want %v", addr, got, err, want)
		}
	}
	if _, err := isLoopbackAddr("nonsense"); err == nil {
		t.Error("isLoopbackAddr(nonsense) gave no error")
	}
}

func TestEndStreamsOnShutdown(t *testing.T) {
	// The GET stream, with the token in the header or in the URL.
	for _, path := range []string{"/acme/mcp", "/acme/mcp/token_auth/plx_x"} {
		stopping, stop := context.WithCancel(context.Background())
		ended := make(chan struct{})
		h := endStreamsOn(stopping, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			close(ended)
		}))
		go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
		stop()
		<-ended // a GET stream ends when shutdown begins; the test would time out otherwise
	}
}
