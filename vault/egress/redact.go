package egress

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Redacted is what a credential becomes in an answer going back to a
// client.
const Redacted = "[redacted]"

// MinRedactLen is the shortest credential Redact hides: shorter values
// would hide ordinary words (no real key or token is that short).
const MinRedactLen = 8

// redactable returns the credentials worth looking for, longest first (a
// credential that contains another is hidden whole).
func redactable(secrets []string) []string {
	var out []string
	for _, s := range secrets {
		if len(s) >= MinRedactLen {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// RedactText replaces every occurrence of the credentials in s with
// Redacted: an API that echoes the key it was sent must not hand it to
// the model.
func RedactText(s string, secrets []string) string {
	for _, sec := range redactable(secrets) {
		s = strings.ReplaceAll(s, sec, Redacted)
	}
	return s
}

// RedactJSON is RedactText for a JSON document: each credential is
// replaced where it stands in a string (or an object key). It returns raw
// itself when no credential is in it, so the common case costs a search
// and no copy. When one is, the document is decoded and encoded again
// (numbers kept as written, object keys sorted); a document that is not
// JSON has its bytes replaced.
func RedactJSON(raw []byte, secrets []string) []byte {
	secrets = redactable(secrets)
	found := false
	for _, sec := range secrets {
		if bytes.Contains(raw, []byte(sec)) || bytes.Contains(raw, escaped(sec)) {
			found = true
			break
		}
	}
	if !found {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil || dec.More() {
		for _, sec := range secrets {
			raw = bytes.ReplaceAll(raw, []byte(sec), []byte(Redacted))
		}
		return raw
	}
	out, err := json.Marshal(redactValue(doc, secrets))
	if err != nil {
		return raw
	}
	return out
}

// escaped is s as it appears inside a JSON string.
func escaped(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b[1 : len(b)-1]
}

// redactValue replaces the credentials in every string of a decoded
// JSON value.
func redactValue(v any, secrets []string) any {
	switch x := v.(type) {
	case string:
		for _, sec := range secrets {
			x = strings.ReplaceAll(x, sec, Redacted)
		}
		return x
	case []any:
		for i := range x {
			x[i] = redactValue(x[i], secrets)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[redactValue(k, secrets).(string)] = redactValue(val, secrets)
		}
		return out
	}
	return v // numbers, booleans, null
}

// SentBearer returns the bearer token the request behind resp carried
// (resp.Request is the request as it went out, after every transport
// added its headers), or "": an OAuth token a transport added is known
// to the caller only this way.
func SentBearer(resp *http.Response) string {
	if resp == nil || resp.Request == nil {
		return ""
	}
	scheme, tok, ok := strings.Cut(resp.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// BearerSeen remembers the bearer tokens a client's requests carried (the
// last few: an OAuth token changes when it is refreshed), for Redact.
// Wrap a client's transport with Wrap; Tokens is safe for concurrent use.
type BearerSeen struct {
	mu     sync.Mutex
	tokens []string
}

// bearersKept is how many tokens a BearerSeen keeps.
const bearersKept = 4

// Wrap returns next, noting the bearer token of each request it sends.
func (b *BearerSeen) Wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(r)
		if tok := SentBearer(resp); tok != "" {
			b.note(tok)
		}
		return resp, err
	})
}

func (b *BearerSeen) note(tok string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if slices.Contains(b.tokens, tok) {
		return
	}
	b.tokens = append(b.tokens, tok)
	if len(b.tokens) > bearersKept {
		b.tokens = slices.Delete(b.tokens, 0, len(b.tokens)-bearersKept)
	}
}

// Tokens returns the tokens seen, oldest first.
func (b *BearerSeen) Tokens() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.tokens)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
