package egress

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

var urlCases = []struct {
	name, in string
	ok       bool
}{
	{"https", "https://api.example.com/v1", true},
	{"https port", "https://api.example.com:8443/x?y=1", true},
	{"http loopback v4", "http://127.0.0.1:8080/api", true},
	{"http loopback v4 range", "http://127.1.2.3/api", true},
	{"http localhost", "http://LOCALHOST:1/x", true},
	{"http loopback v6", "http://[::1]:9/x", true},
	{"http documentation net", "http://192.0.2.10", false},
	{"http public", "http://api.example.com", false},
	{"http localhost lookalike", "http://localhost.example.com", false},
	{"http loopback-looking name", "http://127.0.0.1.nip.io", false},
	{"ftp", "ftp://example.com", false},
	{"javascript", "javascript:alert(1)", false},
	{"relative", "/api", false},
	{"no host", "https:///x", false},
	{"userinfo", "https://user:pw@example.com", false},
	{"fragment", "https://example.com/#x", false},
	{"empty fragment", "https://example.com/#", false},
	{"space", "https://example.com/a b", false},
	{"newline", "https://example.com/\n", false},
	{"empty", "", false},
	{"port zero", "https://example.com:0/", false},
	{"port too big", "https://example.com:70000/", false},
	{"too long", "https://example.com/" + strings.Repeat("a", MaxURLLen), false},
}

func TestCheckURL(t *testing.T) {
	for _, tc := range urlCases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckURL(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckURL = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidURL) {
				t.Errorf("error %v does not wrap ErrInvalidURL", err)
			}
			if err != nil && tc.in != "" && len(tc.in) > 12 && strings.Contains(err.Error(), tc.in) {
				t.Errorf("error echoes the URL: %v", err)
			}
		})
	}
}

func TestParseOrigin(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Origin
		ok   bool
	}{
		{"https://api.github.com", "https://api.github.com", true},
		{"https://API.GitHub.com/", "https://api.github.com", true},
		{"https://api.github.com:443", "https://api.github.com", true},
		{"https://api.github.com:8443", "https://api.github.com:8443", true},
		{"http://127.0.0.1:80", "http://127.0.0.1", true},
		{"http://[::1]:8080", "http://[::1]:8080", true},
		{"http://example.com", "", false},
		{"https://api.github.com/user", "", false},
		{"https://api.github.com?x", "", false},
		{"https://*.github.com", "", false},
		{"api.github.com", "", false},
	} {
		got, err := ParseOrigin(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	os, err := ParseOrigins([]string{"https://b.example", "https://a.example/", "https://b.example:443"})
	if err != nil || len(os) != 2 || os[0] != "https://a.example" || os[1] != "https://b.example" {
		t.Fatalf("ParseOrigins = %v, %v", os, err)
	}
	if _, err := ParseOrigins([]string{"https://a.example", "http://b.example"}); err == nil || !strings.Contains(err.Error(), "origin 2") {
		t.Fatalf("ParseOrigins bad second = %v", err)
	}
}

// recorder is a server that records the credential header it gets.
type recorder struct {
	mu   sync.Mutex
	seen []string
	srv  *httptest.Server
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen = append(r.seen, req.Header.Get("Authorization")+"|"+req.URL.Query().Get("appid"))
		r.mu.Unlock()
		if h != nil {
			h(w, req)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

func origin(t *testing.T, raw string) Origin {
	t.Helper()
	o, err := OriginOfURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestClientKeepsCredentialAtItsOrigins: the credential reaches the
// allowed origin, a request elsewhere is refused with the origin named,
// and a redirect to another origin is not followed (the second server
// never sees the credential).
func TestClientKeepsCredentialAtItsOrigins(t *testing.T) {
	other := newRecorder(t, nil)
	api := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.srv.URL+"/steal", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/ok", http.StatusMovedPermanently)
		default:
			io.WriteString(w, "ok")
		}
	})
	c := NewClient([]Origin{origin(t, api.srv.URL)}, func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer secret-token")
		q := r.URL.Query()
		q.Set("appid", "secret-key")
		r.URL.RawQuery = q.Encode()
	})

	resp, err := c.Get(api.srv.URL + "/here")
	if err != nil {
		t.Fatalf("same-origin redirect: %v", err)
	}
	resp.Body.Close()
	if got := api.got(); len(got) != 2 || got[1] != "Bearer secret-token|secret-key" {
		t.Fatalf("api saw %q", got)
	}

	_, err = c.Get(api.srv.URL + "/away")
	var re *RedirectError
	if !errors.As(err, &re) || !errors.Is(err, ErrRedirect) || re.To != origin(t, other.srv.URL) {
		t.Fatalf("cross-origin redirect: err %v", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error carries the credential: %v", err)
	}

	_, err = c.Get(other.srv.URL + "/direct?x=1")
	var oe *OriginError
	if !errors.As(err, &oe) || !errors.Is(err, ErrOrigin) || oe.Origin != origin(t, other.srv.URL) || !strings.Contains(err.Error(), string(oe.Origin)) {
		t.Fatalf("foreign request: err %v", err)
	}
	if got := other.got(); len(got) != 0 {
		t.Fatalf("the other origin received %d requests", len(got))
	}
}

// TestCheckRedirect covers the https->http rule, which a local test server
// cannot exercise end to end.
func TestCheckRedirect(t *testing.T) {
	mk := func(raw string) *http.Request {
		u, _ := url.Parse(raw)
		return &http.Request{URL: u, Response: &http.Response{StatusCode: 302}}
	}
	for _, tc := range []struct {
		from, to string
		ok       bool
	}{
		{"https://api.example.com/a", "https://api.example.com/b", true},
		{"https://api.example.com/a", "https://API.example.com:443/b", true},
		{"https://api.example.com/a", "http://api.example.com/b", false},
		{"https://api.example.com/a", "https://evil.example.com/b", false},
		{"https://api.example.com/a", "https://api.example.com:8443/b", false},
		{"http://127.0.0.1:1/a", "http://127.0.0.1:2/b", false},
	} {
		err := CheckRedirect(mk(tc.to), []*http.Request{mk(tc.from)})
		if (err == nil) != tc.ok {
			t.Errorf("%s -> %s: %v, want ok=%v", tc.from, tc.to, err, tc.ok)
		}
	}
	via := make([]*http.Request, maxRedirects)
	for i := range via {
		via[i] = mk("https://api.example.com/a")
	}
	if err := CheckRedirect(mk("https://api.example.com/a"), via); err == nil {
		t.Error("endless same-origin redirects followed")
	}
}

// TestNoRedirects: a token endpoint answering 307 gets an error, and the
// other origin never sees the POST (which would carry the client secret).
func TestNoRedirects(t *testing.T) {
	other := newRecorder(t, nil)
	tokenEP := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.srv.URL+"/token", http.StatusTemporaryRedirect)
	})
	c := NoRedirects(&http.Client{})
	req, _ := http.NewRequest(http.MethodPost, tokenEP.srv.URL+"/token", strings.NewReader("client_secret=s"))
	req.SetBasicAuth("id", "secret")
	_, err := c.Do(req)
	var re *RedirectError
	if !errors.As(err, &re) || re.Status != http.StatusTemporaryRedirect || re.To != origin(t, other.srv.URL) {
		t.Fatalf("Do = %v, want a RedirectError", err)
	}
	if n := len(other.got()); n != 0 {
		t.Fatalf("redirect target received %d requests", n)
	}
	// Wrapping twice keeps one layer; a nil client works.
	if c2 := NoRedirects(c); c2.Transport != c.Transport {
		t.Error("NoRedirects wrapped its own transport again")
	}
	if NoRedirects(nil).CheckRedirect == nil {
		t.Error("nil client: no CheckRedirect")
	}
}

func FuzzParseOrigin(f *testing.F) {
	for _, tc := range urlCases {
		f.Add(tc.in)
	}
	f.Add("https://api.github.com")
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOrigin(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("error %v does not wrap ErrInvalidURL", err)
			}
			return
		}
		// An origin round-trips and passes the URL check itself.
		o2, err := ParseOrigin(string(o))
		if err != nil || o2 != o {
			t.Fatalf("origin %q does not round-trip: %q, %v", o, o2, err)
		}
		if CheckURL(string(o)) != nil {
			t.Fatalf("origin %q fails CheckURL", o)
		}
	})
}

func FuzzCheckURL(f *testing.F) {
	for _, tc := range urlCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := CheckURL(s); err != nil {
			return
		}
		u, err := url.Parse(s)
		if err != nil || u.User != nil || u.Host == "" {
			t.Fatalf("accepted %q", s)
		}
		if !strings.EqualFold(u.Scheme, "https") && !IsLoopbackHost(u.Hostname()) {
			t.Fatalf("accepted plain http to %q", u.Hostname())
		}
	})
}
