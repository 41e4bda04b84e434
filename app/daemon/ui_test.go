package daemon

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWithUI(t *testing.T) {
	mark := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Handler", name) })
	}
	h := withUI(mark("ui"), mark("next"))
	for path, want := range map[string]string{
		"/ui": "ui", "/ui/": "ui", "/ui/tenants": "ui", "/ui/mcp": "ui", "/ui/static/app.css": "ui",
		"/uix": "next", "/": "next", "/api/v1/tenants": "next", "/acme/mcp": "next", "/acme/ui/": "next",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if got := rec.Header().Get("X-Handler"); got != want {
			t.Errorf("%s went to %q, want %q", path, got, want)
		}
	}
}
