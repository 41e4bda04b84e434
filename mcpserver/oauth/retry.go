package oauth

import (
	"net/http"
	"time"
)

// WithRetryPolicy sets the transient-failure backoff of every client the
// Manager hands out (Client, RetryTransport): base doubling up to max
// (defaults 200ms and 5s). Tests shorten it.
func WithRetryPolicy(base, max time.Duration) Option {
	return func(m *Manager) { m.retryBase, m.retryCap = base, max }
}

// RetryTransport returns a RoundTripper that retries transient failures
// of requests through next exactly as Client's requests are retried (see
// Client: 429 and 503 for any method, 502, 504 and network errors only
// for idempotent ones, at most 3 retries with capped, jittered backoff,
// Retry-After honoured, no wait past the request's deadline, a body
// without GetBody never replayed), without any token: for requests that
// carry an API key or nothing, so every outbound tool call backs off the
// same way.
func (m *Manager) RetryTransport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &retrying{m: m, next: next}
}

type retrying struct {
	m    *Manager
	next http.RoundTripper
}

func (t *retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	for transient := 0; ; transient++ {
		out := req
		if transient > 0 {
			out = req.Clone(ctx)
			if req.Body != nil && req.Body != http.NoBody {
				b, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				out.Body = b
			}
		}
		resp, err := t.next.RoundTrip(out)
		if err != nil {
			if !replayable || !idempotent(req) || transient >= maxTransientRetry || ctx.Err() != nil {
				return nil, err
			}
			if serr := sleep(ctx, t.m.backoff(transient)); serr != nil {
				return nil, err
			}
			continue
		}
		if !retryableStatus(resp.StatusCode, req) || !replayable || transient >= maxTransientRetry {
			return resp, nil
		}
		wait := t.m.retryWait(resp, transient)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return resp, nil // waiting would outlive the request
		}
		drain(resp)
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}
