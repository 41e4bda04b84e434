// Package egress decides where a credential may be sent, and builds the
// HTTP clients that hold to it. It is the one place Plexus answers "may
// this URL receive a secret?":
//
//   - CheckURL is the validator for every configured URL that receives a
//     credential (OAuth endpoints, API base URLs, upstream servers): an
//     absolute http(s) URL, https unless the host is loopback, with no user
//     info and no fragment.
//   - An Origin (scheme, host and port) names where an injected credential
//     may go; ParseOrigin reads one from configuration.
//   - NewClient is the "credential destination" client: it adds the
//     credential only to requests for its allowed origins, refuses any
//     other request with an *OriginError naming the origin, and never
//     follows a redirect that leaves the origin of the request or goes
//     from https to http (the caller gets a *RedirectError).
//   - NoRedirects makes a client for token, refresh, revocation and
//     userinfo requests: it never follows a redirect and reports one as a
//     *RedirectError, so a client secret, code or refresh token is never
//     re-sent elsewhere.
//   - RedactText and RedactJSON keep a credential from coming back: an
//     API or upstream server that echoes the key it was sent has it
//     replaced with "[redacted]" before the answer reaches a client.
//
// The package has no Plexus dependencies (the vault validates stored
// provider settings with it) and never puts a URL's query, user info or a
// credential in an error.
package egress

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// MaxURLLen bounds a URL that CheckURL accepts (bytes).
const MaxURLLen = 2048

// maxRedirects bounds the same-origin redirects a destination client
// follows (http.Client's own default is 10).
const maxRedirects = 10

// Errors. Callers test them with errors.Is.
var (
	// ErrInvalidURL is wrapped by CheckURL's and ParseOrigin's errors.
	ErrInvalidURL = errors.New("url not allowed to receive a credential")
	// ErrOrigin is wrapped by *OriginError: a request for an origin the
	// credential is not allowed to reach was refused before it was sent.
	ErrOrigin = errors.New("origin not allowed for this credential")
	// ErrRedirect is wrapped by *RedirectError: a redirect was not followed.
	ErrRedirect = errors.New("redirect not followed")
)

// urlError is a validation failure naming the rule; it matches ErrInvalidURL.
type urlError struct{ msg string }

func (e *urlError) Error() string        { return e.msg }
func (e *urlError) Is(target error) bool { return target == ErrInvalidURL }

func invalid(format string, args ...any) error {
	return &urlError{msg: fmt.Sprintf(format, args...)}
}

// IsLoopbackHost reports whether host (without port; brackets allowed) is
// "localhost", an address in 127.0.0.0/8 or ::1.
func IsLoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckURL reports whether raw may receive a credential: an absolute URL
// with a host, scheme https (http only when the host is localhost,
// 127.0.0.0/8 or ::1), no user info, no fragment, at most MaxURLLen bytes.
// The error wraps ErrInvalidURL, names the rule and never contains the
// URL (it may carry a query with a secret); callers prefix the field name.
func CheckURL(raw string) error {
	_, err := parseURL(raw)
	return err
}

func parseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, invalid("must not be empty")
	}
	if len(raw) > MaxURLLen {
		return nil, invalid("at most %d bytes", MaxURLLen)
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, invalid("must not contain spaces or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalid("not a valid URL")
	}
	if !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, invalid("must be an absolute URL with a host (https://host/...)")
	}
	if err := checkScheme(u); err != nil {
		return nil, err
	}
	if u.User != nil {
		return nil, invalid("must not contain user info (put credentials in the vault, not in the URL)")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, invalid("must not contain a fragment")
	}
	if u.Hostname() == "" {
		return nil, invalid("must name a host")
	}
	if p := u.Port(); p != "" && !validPort(p) {
		return nil, invalid("port must be 1-65535")
	}
	return u, nil
}

func checkScheme(u *url.URL) error {
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if IsLoopbackHost(u.Hostname()) {
			return nil
		}
		return invalid("must use https (plain http only to localhost, 127.0.0.0/8 or ::1)")
	}
	return invalid("scheme %q not allowed, use https", clip(u.Scheme))
}

func validPort(p string) bool {
	if len(p) > 5 {
		return false
	}
	n := 0
	for _, c := range []byte(p) {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n >= 1 && n <= 65535
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// Origin is where a credential may go: "scheme://host[:port]", canonical
// (lower-case scheme and host, default port omitted, IPv6 in brackets).
// Two URLs have the same origin exactly when their Origins are equal.
type Origin string

// OriginOf returns u's origin (u is not validated).
func OriginOf(u *url.URL) Origin {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if port == "" || scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		return Origin(scheme + "://" + host)
	}
	return Origin(scheme + "://" + host + ":" + port)
}

// ParseOrigin reads an origin from configuration: "https://api.example.com"
// (a trailing "/" is allowed; a path, query, fragment, user info or
// wildcard is not), with CheckURL's scheme rules. The error wraps
// ErrInvalidURL.
func ParseOrigin(s string) (Origin, error) {
	u, err := parseURL(s)
	if err != nil {
		return "", err
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.ForceQuery {
		return "", invalid("an origin is scheme://host[:port] only, without a path or query (e.g. https://api.example.com)")
	}
	if strings.ContainsAny(u.Hostname(), "*?") {
		return "", invalid("an origin names one host; wildcards are not allowed")
	}
	return OriginOf(u), nil
}

// ParseOrigins parses and de-duplicates origins (sorted). The error names
// the position of the bad entry.
func ParseOrigins(in []string) ([]Origin, error) {
	out := make([]Origin, 0, len(in))
	for i, s := range in {
		o, err := ParseOrigin(s)
		if err != nil {
			return nil, fmt.Errorf("origin %d: %w", i+1, err)
		}
		out = append(out, o)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// OriginOfURL returns the origin of a URL that passes CheckURL.
func OriginOfURL(raw string) (Origin, error) {
	u, err := parseURL(raw)
	if err != nil {
		return "", err
	}
	return OriginOf(u), nil
}

// OriginError is a request refused because its origin is not one the
// credential may reach. It names the origin (never the path or query).
type OriginError struct {
	Origin  Origin
	Allowed []Origin
}

func (e *OriginError) Error() string {
	allowed := "none"
	if len(e.Allowed) > 0 {
		s := make([]string, len(e.Allowed))
		for i, o := range e.Allowed {
			s[i] = string(o)
		}
		allowed = strings.Join(s, ", ")
	}
	return fmt.Sprintf("request to %s refused: the credential may only be sent to %s", e.Origin, allowed)
}

// Is makes errors.Is(err, ErrOrigin) true.
func (e *OriginError) Is(target error) bool { return target == ErrOrigin }

// RedirectError is a redirect that was not followed. From and To are
// origins (never paths or queries); To is "" when Location is missing or
// does not parse.
type RedirectError struct {
	Status int
	From   Origin
	To     Origin
	// Reason says why it was not followed.
	Reason string
}

func (e *RedirectError) Error() string {
	to := string(e.To)
	if to == "" {
		to = "(no usable Location)"
	}
	return fmt.Sprintf("redirect (%d) from %s to %s not followed: %s", e.Status, e.From, to, e.Reason)
}

// Is makes errors.Is(err, ErrRedirect) true.
func (e *RedirectError) Is(target error) bool { return target == ErrRedirect }

// Guard returns a RoundTripper that passes to next only requests whose
// origin is in allowed, and answers others with an *OriginError before
// anything is sent (the request body is closed). Put the transport that
// adds the credential in next: it then never sees a foreign request.
func Guard(allowed []Origin, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &guard{allowed: slices.Clone(allowed), next: next}
}

type guard struct {
	allowed []Origin
	next    http.RoundTripper
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil {
		closeBody(req)
		return nil, &OriginError{Allowed: g.allowed}
	}
	o := OriginOf(req.URL)
	if !slices.Contains(g.allowed, o) {
		closeBody(req)
		return nil, &OriginError{Origin: o, Allowed: g.allowed}
	}
	return g.next.RoundTrip(req)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// CheckRedirect is an http.Client CheckRedirect for clients that carry a
// credential: it follows a redirect only to the origin of the request that
// received it (so never from https to http), at most 10 in a row, and
// otherwise stops with a *RedirectError (http.Client returns it wrapped in
// a *url.Error).
func CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil
	}
	prev := via[len(via)-1]
	from, to := OriginOf(prev.URL), OriginOf(req.URL)
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	switch {
	case len(via) >= maxRedirects:
		return &RedirectError{Status: status, From: from, To: to, Reason: fmt.Sprintf("more than %d redirects", maxRedirects)}
	case strings.EqualFold(prev.URL.Scheme, "https") && !strings.EqualFold(req.URL.Scheme, "https"):
		return &RedirectError{Status: status, From: from, To: to, Reason: "it goes from https to http"}
	case from != to:
		return &RedirectError{Status: status, From: from, To: to, Reason: "a credential never follows a redirect to another origin"}
	}
	return nil
}

// Option configures NewClient.
type Option func(*clientConfig)

type clientConfig struct {
	base http.RoundTripper
}

// WithTransport sets the transport requests go out through (default
// http.DefaultTransport); tests point it at local servers.
func WithTransport(rt http.RoundTripper) Option { return func(c *clientConfig) { c.base = rt } }

// NewClient returns the credential destination client: set adds the
// credential to each outgoing request (it gets a clone it may change), but
// only requests for one of allowed reach it; others fail with an
// *OriginError naming their origin. Redirects are followed only within the
// origin of the request (CheckRedirect); the credential is added again on
// each hop by set, never copied by http.Client. Give each request a
// context with a deadline.
func NewClient(allowed []Origin, set func(*http.Request), opts ...Option) *http.Client {
	var cfg clientConfig
	for _, o := range opts {
		o(&cfg)
	}
	base := cfg.base
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{
		Transport:     Guard(allowed, &injector{set: set, next: base}),
		CheckRedirect: CheckRedirect,
	}
}

// injector adds the credential to a clone of the request.
type injector struct {
	set  func(*http.Request)
	next http.RoundTripper
}

func (in *injector) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	if in.set != nil {
		in.set(out)
	}
	return in.next.RoundTrip(out)
}

// NoRedirects returns a copy of c (nil: a zero client) that never follows
// a redirect: a 3xx answer becomes a *RedirectError naming the Location's
// origin, and the answer's body is closed. Use it for every request that
// carries a client secret, authorization code, PKCE verifier or refresh
// token (token, refresh, revocation, userinfo).
func NoRedirects(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	}
	base := out.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if _, ok := base.(noRedirect); !ok {
		out.Transport = noRedirect{next: base}
	}
	out.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &out
}

type noRedirect struct{ next http.RoundTripper }

func (n noRedirect) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := n.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 300 || resp.StatusCode > 399 || resp.StatusCode == http.StatusNotModified {
		return resp, err
	}
	re := &RedirectError{Status: resp.StatusCode, From: OriginOf(req.URL), Reason: "requests carrying OAuth secrets never follow redirects"}
	if loc, lerr := resp.Location(); lerr == nil {
		re.To = OriginOf(loc)
	}
	_ = resp.Body.Close()
	return nil, re
}
