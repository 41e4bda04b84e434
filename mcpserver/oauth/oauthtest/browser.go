package oauthtest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Recorder is an HTTP server on 127.0.0.1 that answers 200 "ok" to every
// request and records it: a host that must never receive a credential.
type Recorder struct {
	URL    string
	Server *httptest.Server

	mu   sync.Mutex
	reqs []Recorded
}

// Recorded is one request a Recorder got.
type Recorded struct {
	Method, Path  string
	Authorization string
	Query         string
	Body          string
}

// NewRecorder starts a Recorder; it is closed by t.Cleanup.
func NewRecorder(t testing.TB) *Recorder {
	r := &Recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		r.mu.Lock()
		r.reqs = append(r.reqs, Recorded{
			Method: req.Method, Path: req.URL.Path, Authorization: req.Header.Get("Authorization"),
			Query: req.URL.RawQuery, Body: string(body),
		})
		r.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	r.URL = r.Server.URL
	t.Cleanup(r.Server.Close)
	return r
}

// Requests returns what the Recorder got, in order.
func (r *Recorder) Requests() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Recorded(nil), r.reqs...)
}

// Saw reports whether any request it got carried s (in its Authorization
// header, query or body).
func (r *Recorder) Saw(s string) bool {
	if s == "" {
		return false
	}
	for _, q := range r.Requests() {
		if strings.Contains(q.Authorization+"\n"+q.Query+"\n"+q.Body, s) {
			return true
		}
	}
	return false
}

// Browser is a person's browser for tests of the consent flow: it keeps
// cookies, sends Origin on POSTs as browsers do, and follows no redirect
// by itself (each step is explicit).
type Browser struct {
	Client *http.Client
}

// NewBrowser returns a Browser with an empty cookie jar.
func NewBrowser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{Client: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Get fetches rawURL and returns status, body and headers.
func (b *Browser) Get(rawURL string) (int, string, http.Header, error) {
	resp, err := b.Client.Get(rawURL)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), resp.Header, nil
}

// csrfField finds the consent page's per-page token in its form.
var csrfField = regexp.MustCompile(`name="csrf" value="([A-Za-z0-9_-]+)"`)

// Answer opens a Plexus consent page and presses the button action
// ("approve" or "deny"), as a browser would (the page's CSRF token, the
// page's cookies, Origin of the page). It returns the answer's status,
// its Location (for Approve: the provider's authorization URL) and body.
func (b *Browser) Answer(consentURL, action string) (status int, location, body string, err error) {
	st, page, _, err := b.Get(consentURL)
	if err != nil {
		return 0, "", "", err
	}
	if st != http.StatusOK {
		return st, "", page, nil
	}
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		return 0, "", page, fmt.Errorf("consent page has no csrf field")
	}
	u, err := url.Parse(consentURL)
	if err != nil {
		return 0, "", "", err
	}
	form := url.Values{"csrf": {m[1]}, "action": {action}}
	req, _ := http.NewRequest(http.MethodPost, consentURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.Client.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header.Get("Location"), string(raw), nil
}

// Approve presses Approve on a consent page and returns the provider URL
// Plexus redirects to; it fails the test unless Plexus answers 303.
func (b *Browser) Approve(t testing.TB, consentURL string) string {
	t.Helper()
	status, loc, body, err := b.Answer(consentURL, "approve")
	if err != nil || status != http.StatusSeeOther || loc == "" {
		t.Fatalf("oauthtest: approve consent: status %d, err %v, body %q", status, err, body)
	}
	return loc
}

// Connect runs the whole consent as the person would: Approve on Plexus's
// consent page, consent at the provider p, then the callback on Plexus in
// the same browser. It returns the callback page's status and body.
func (b *Browser) Connect(t testing.TB, p *Provider, consentURL string) (int, string) {
	t.Helper()
	cb := p.Authorize(t, b.Approve(t, consentURL))
	status, body, _, err := b.Get(cb)
	if err != nil {
		t.Fatalf("oauthtest: callback: %v", err)
	}
	return status, body
}
