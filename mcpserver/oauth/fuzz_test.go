package oauth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
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

// FuzzConsentAnswer feeds arbitrary form bodies to the consent page's POST
// (with the page's CSRF cookie set): it must never panic, and must start
// an authorization (303) only for action=approve with the page's token.
func FuzzConsentAnswer(f *testing.F) {
	const token = "CSRFtoken0123456789CSRFtoken0123456789abcde"
	for _, seed := range []string{
		"",
		"action=approve",
		"action=approve&csrf=" + token,
		"action=deny&csrf=" + token,
		"action=APPROVE&csrf=" + token,
		"csrf=" + token + "&csrf=x&action=approve",
		"action=approve&csrf=" + strings.Repeat("A", 43),
		"action=%zz&csrf=%",
		"action=approve&csrf=" + token + "&" + strings.Repeat("x=1&", 2000),
		"\x00\xff=\xfe",
	} {
		f.Add(seed)
	}
	e := newEnv(f, withMemStore())
	f.Fuzz(func(t *testing.T, body string) {
		link, err := e.m.ConsentURL(t.Context(), ConsentRequest{Owner: e.user, Provider: "gh"})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(link)
		req := httptest.NewRequest(http.MethodPost, u.Path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: csrfCookie, Value: token})
		rec := httptest.NewRecorder()
		e.mux.ServeHTTP(rec, req)
		form, _ := url.ParseQuery(body)
		ok := len(body) <= maxConsentForm && form.Get("csrf") == token && form.Get("action") == "approve"
		if (rec.Code == http.StatusSeeOther) != ok {
			t.Fatalf("body %q: status %d", body, rec.Code)
		}
		if rec.Code != http.StatusSeeOther && !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatal("page without CSP")
		}
	})
}
