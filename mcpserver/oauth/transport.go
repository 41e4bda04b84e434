package oauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/egress"
)

// refreshTimeout bounds a refresh, which runs detached from the caller's
// context: a rotated refresh token must be stored even if the caller gives
// up, or the connection would be lost.
const refreshTimeout = 30 * time.Second

// Client returns an *http.Client that sends owner's token for provider,
// refreshing it before expiry (storing rotated tokens), refreshing and
// retrying once on 401, and retrying 429/5xx with capped backoff that
// honours Retry-After. It returns an error wrapping ErrConsentRequired when
// no usable token exists (or lacks a required scope).
//
// The token goes only to the provider's API origins: a request for any
// other origin fails with an *egress.OriginError naming it (before a token
// is even loaded), and a redirect that leaves the request's origin or goes
// from https to http is not followed (the request fails with an
// *egress.RedirectError).
//
// Retries: 429 and 503 are retried for any method, 502, 504 and network
// errors only for idempotent methods (GET, HEAD, OPTIONS, TRACE, PUT,
// DELETE, or a request with an Idempotency-Key header); at most 3 retries,
// backoff 200ms doubling to 5s with jitter, Retry-After (seconds or HTTP
// date, capped at 30s) wins; a wait that would pass the request's deadline
// is not taken (the last response is returned). A request whose body
// cannot be replayed (no GetBody) is never retried. Errors from the
// client's requests wrap ErrConsentRequired when the user must consent
// again (errors.Is works through *url.Error).
func (m *Manager) Client(ctx context.Context, owner Owner, provider string, scopes []string) (*http.Client, error) {
	if err := validOwner(owner); err != nil {
		return nil, err
	}
	p, err := m.provider(ctx, owner.TenantID, provider)
	if err != nil {
		return nil, err
	}
	binding := p.Binding()
	st, err := m.load(ctx, owner, provider, binding)
	ts := st.ts
	switch {
	case isNotFound(err):
		return nil, consentErr(provider, "not connected")
	case err != nil:
		return nil, err
	case !ts.usable():
		return nil, consentErr(provider, "connection expired")
	case !hasScopes(ts.Scopes, scopes):
		return nil, consentErr(provider, "connection lacks required scopes")
	case ts.RefreshToken == "" && m.expired(ts):
		m.markExpired(ctx, owner, provider, binding, st)
		return nil, consentErr(provider, "access token expired and cannot be refreshed")
	}
	base := m.http.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	origins := make([]egress.Origin, len(p.APIOrigins))
	for i, o := range p.APIOrigins {
		origins[i] = egress.Origin(o) // canonical: the vault stores them so
	}
	return &http.Client{
		Transport:     egress.Guard(origins, &transport{m: m, owner: owner, p: p, binding: binding, base: base}),
		CheckRedirect: egress.CheckRedirect,
	}, nil
}

func (m *Manager) expired(ts tokenSet) bool {
	return !ts.Expiry.IsZero() && !m.now().Before(ts.Expiry)
}

func (m *Manager) expiresSoon(ts tokenSet) bool {
	return !ts.Expiry.IsZero() && m.now().Add(refreshLeeway).After(ts.Expiry)
}

// token returns a usable token set for o at p, refreshing it if it
// expires soon, or — when stale is the access token the API just refused —
// unless another caller already replaced it. Refreshes of one owner and
// provider are serialised (with consent and disconnect), so concurrent
// callers refresh once.
func (m *Manager) token(ctx context.Context, o Owner, p vault.OAuthProvider, binding, stale string) (tokenSet, error) {
	st, err := m.usableToken(ctx, o, p.Name, binding)
	if err != nil {
		return tokenSet{}, err
	}
	if stale != "" && st.ts.AccessToken != stale {
		return st.ts, nil // already replaced since the API refused stale
	}
	if stale == "" && !m.expiresSoon(st.ts) {
		return st.ts, nil
	}
	seen := st.ts.AccessToken
	unlock, err := m.lockOwner(ctx, o, p.Name)
	if err != nil {
		return tokenSet{}, err
	}
	defer unlock()
	st, err = m.usableToken(ctx, o, p.Name, binding)
	if err != nil {
		return tokenSet{}, err
	}
	if st.ts.AccessToken != seen {
		return st.ts, nil // another caller refreshed while we waited
	}
	return m.refresh(ctx, o, p, binding, st, stale != "")
}

func (m *Manager) usableToken(ctx context.Context, o Owner, provider, binding string) (stored, error) {
	st, err := m.load(ctx, o, provider, binding)
	switch {
	case isNotFound(err):
		return st, consentErr(provider, "not connected")
	case err != nil:
		return st, err
	case !st.ts.usable():
		return st, consentErr(provider, "connection expired")
	}
	return st, nil
}

// refresh runs the refresh_token grant (x/oauth2, with resource added by
// tokenContext) and stores the new set, keeping a rotated refresh token,
// with compare-and-swap on the set it started from: if that set was
// removed or replaced meanwhile (the provider removed or re-pointed, or
// another process), the refreshed tokens are dropped and what is stored
// now wins. Must be called with the owner lock held.
func (m *Manager) refresh(ctx context.Context, o Owner, p vault.OAuthProvider, binding string, st stored, forced bool) (tokenSet, error) {
	ts := st.ts
	stillValid := !forced && !m.expired(ts)
	if ts.RefreshToken == "" {
		if stillValid {
			return ts, nil
		}
		m.markExpired(ctx, o, p.Name, binding, st)
		return tokenSet{}, consentErr(p.Name, "access token refused and no refresh token")
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
	defer cancel()
	src := m.config(p, ts.Scopes).TokenSource(m.tokenContext(rctx, p), &oauth2.Token{RefreshToken: ts.RefreshToken})
	tok, err := src.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			m.markExpired(ctx, o, p.Name, binding, st)
			return tokenSet{}, consentErr(p.Name, "refresh token refused")
		}
		if errors.As(err, &re) {
			status := 0
			if re.Response != nil {
				status = re.Response.StatusCode
			}
			err = fmt.Errorf("token endpoint answered status %d (error %q)", status, clip(re.ErrorCode, maxErrorLen))
		}
		err = redactErr(err)
		if stillValid {
			m.log.WarnContext(ctx, "oauth: refresh failed, using current token", "tenant", o.TenantID, "provider", p.Name, "err", err)
			return ts, nil
		}
		return tokenSet{}, fmt.Errorf("refresh token for %q: %w", p.Name, err)
	}
	nts := fromOAuth2(tok, ts.Scopes, m.now())
	if _, err := m.save(context.WithoutCancel(ctx), o, p.Name, binding, st, nts); err != nil {
		if !conflict(err) {
			return tokenSet{}, err
		}
		// Changed while we refreshed: what is stored now wins.
		m.log.InfoContext(ctx, "oauth: connection changed during a refresh; refreshed tokens dropped", "tenant", o.TenantID, "provider", p.Name)
		cur, err := m.usableToken(context.WithoutCancel(ctx), o, p.Name, binding)
		if err != nil {
			return tokenSet{}, err
		}
		return cur.ts, nil
	}
	m.log.DebugContext(ctx, "oauth: token refreshed", "tenant", o.TenantID, "provider", p.Name)
	return nts, nil
}

// transport sends owner's token and implements refresh and retries. It
// sits behind egress.Guard, so it only ever sees requests for the
// provider's API origins.
type transport struct {
	m       *Manager
	owner   Owner
	p       vault.OAuthProvider
	binding string
	base    http.RoundTripper
}

// maxAttempts bounds RoundTrip's loop: first try, one 401 retry, retries.
const maxAttempts = 2 + maxTransientRetry

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	ts, err := t.m.token(ctx, t.owner, t.p, t.binding, "")
	if err != nil {
		closeBody(req)
		return nil, err
	}
	retried401, transient := false, 0
	for attempt := range maxAttempts {
		out, err := prepare(req, ts, attempt)
		if err != nil {
			return nil, err
		}
		resp, err := t.base.RoundTrip(out)
		if err != nil {
			if !replayable || !idempotent(req) || transient >= maxTransientRetry || ctx.Err() != nil {
				return nil, err
			}
			if serr := sleep(ctx, t.m.backoff(transient)); serr != nil {
				return nil, err
			}
			transient++
			continue
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized && !retried401 && replayable:
			retried401 = true
			drain(resp)
			ts, err = t.m.token(ctx, t.owner, t.p, t.binding, ts.AccessToken)
			if err != nil {
				return nil, err
			}
		case retryableStatus(resp.StatusCode, req) && replayable && transient < maxTransientRetry:
			wait := t.m.retryWait(resp, transient)
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
				return resp, nil // waiting would outlive the request
			}
			drain(resp)
			if err := sleep(ctx, wait); err != nil {
				return nil, err
			}
			transient++
		default:
			return resp, nil
		}
	}
	return nil, errors.New("oauth transport: too many attempts") // not reached: each retry kind is bounded
}

// prepare copies req with the bearer token; attempts after the first get a
// fresh body from GetBody.
func prepare(req *http.Request, ts tokenSet, attempt int) (*http.Request, error) {
	out := req.Clone(req.Context())
	if attempt > 0 && req.Body != nil && req.Body != http.NoBody {
		b, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("replay request body: %w", err)
		}
		out.Body = b
	}
	// Every token Plexus obtains is used as a bearer token (RFC 6750):
	// providers' own token_type values such as Slack's "bot" or "user" are
	// not HTTP auth schemes, and Plexus does not do DPoP or MAC.
	out.Header.Set("Authorization", "Bearer "+ts.AccessToken)
	return out, nil
}

func idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != ""
}

// retryableStatus: 429 and 503 say the request was not processed; 502 and
// 504 may hide a processed request, so only idempotent ones are retried.
func retryableStatus(code int, req *http.Request) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return idempotent(req)
	}
	return false
}

// backoff is the n-th (from 0) retry's wait: base·2^n capped, with jitter
// in [d/2, d].
func (m *Manager) backoff(n int) time.Duration {
	d := m.retryCap
	if n < 16 && m.retryBase<<n < m.retryCap {
		d = m.retryBase << n
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

func (m *Manager) retryWait(resp *http.Response, n int) time.Duration {
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), m.now()); ok {
		return d
	}
	return m.backoff(n)
}

// parseRetryAfter reads delay-seconds or an HTTP date, capped at 30s.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), maxRetryAfter), true
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// resourceTransport adds resource=<uri> (RFC 8707) to form POSTs to the
// token endpoint that lack it.
type resourceTransport struct {
	base     http.RoundTripper
	tokenURL string
	resource string
}

func (rt resourceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := rt.base
	if base == nil {
		base = http.DefaultTransport
	}
	if req.Body == nil || !isTokenRequest(req, rt.tokenURL) {
		return base.RoundTrip(req)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	_ = req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read token request: %w", err)
	}
	if form, err := url.ParseQuery(string(body)); err == nil && form.Get("resource") == "" {
		form.Set("resource", rt.resource)
		body = []byte(form.Encode())
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return base.RoundTrip(out)
}

// isTokenRequest reports whether req is a POST to the token endpoint.
func isTokenRequest(req *http.Request, tokenURL string) bool {
	tu, err := url.Parse(tokenURL)
	return err == nil && req.Method == http.MethodPost &&
		req.URL.Scheme == tu.Scheme && req.URL.Host == tu.Host && req.URL.Path == tu.Path
}
