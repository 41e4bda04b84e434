package oauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzCallbackQuery feeds arbitrary query strings to the callback: it must
// never panic, never answer 200 and never store anything. It runs on the
// in-memory store so the fuzzer is fast; one real pending state exists, so
// a well-formed but foreign state path is exercised too.
func FuzzCallbackQuery(f *testing.F) {
	for _, seed := range []string{
		"",
		"state=" + strings.Repeat("A", 43),
		"state=" + strings.Repeat("A", 43) + "&code=abc",
		"code=abc",
		"error=access_denied&state=" + strings.Repeat("B", 43),
		"error=access_denied",
		"error=%3Cscript%3E&error_description=%3Cb%3Ehi",
		"state=%zz&code=%",
		"state=;&code=;;",
		"state=" + strings.Repeat("x", 5000),
		"code=" + strings.Repeat("c", 5000) + "&state=" + strings.Repeat("-", 43),
		"state=a&state=b&code=1&code=2",
		"\x00\xff=\xfe",
	} {
		f.Add(seed)
	}
	e := newEnv(f, withMemStore())
	_ = e.authURL(e.user, "gh", nil) // a real pending state the fuzzer cannot guess
	f.Fuzz(func(t *testing.T, rawQuery string) {
		before := e.store.writes.Load()
		req := httptest.NewRequest(http.MethodGet, "/acme/oauth/external_callback/gh", nil)
		req.URL.RawQuery = rawQuery
		rec := httptest.NewRecorder()
		e.mux.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			t.Fatalf("garbage query %q connected", rawQuery)
		}
		if n := e.store.writes.Load() - before; n != 0 {
			t.Fatalf("garbage query %q stored %d values", rawQuery, n)
		}
		if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatal("page without CSP")
		}
	})
}
