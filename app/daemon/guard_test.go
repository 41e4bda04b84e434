package daemon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

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
