package egress

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRedact(t *testing.T) {
	const key = "sk-live-abcdef0123"
	secrets := []string{"short", key, key + "-and-more"}
	if got := RedactText("echo: "+key+"-and-more, and "+key+", not short", secrets); got != "echo: [redacted], and [redacted], not short" {
		t.Errorf("RedactText = %q", got)
	}
	raw := []byte(`{"content":[{"type":"text","text":"key=` + key + `"}]}`)
	got := RedactJSON(raw, secrets)
	if strings.Contains(string(got), key) || !json.Valid(got) || !strings.Contains(string(got), "key=[redacted]") {
		t.Errorf("RedactJSON = %s", got)
	}
	clean := []byte(`{"a":"b"}`)
	if got := RedactJSON(clean, secrets); &got[0] != &clean[0] {
		t.Error("a document without a credential was copied")
	}
	// A credential that looks like a number is replaced only in strings.
	num := []byte(`{"n":123456789,"s":"id 123456789"}`)
	if got := RedactJSON(num, []string{"123456789"}); string(got) != `{"n":123456789,"s":"id [redacted]"}` {
		t.Errorf("numeric credential: %s", got)
	}
	// A credential with characters JSON escapes is found escaped.
	odd := `k"ey\with<html>`
	doc, _ := json.Marshal(map[string]string{"echo": "got " + odd})
	if got := RedactJSON(doc, []string{odd}); strings.Contains(string(got), `with\u003chtml`) || !json.Valid(got) {
		t.Errorf("escaped credential kept: %s", got)
	}
}

// FuzzRedactJSON: whatever the document and credential, a JSON document
// stays JSON, and no string in it holds the credential any more.
func FuzzRedactJSON(f *testing.F) {
	f.Add(`{"text":"sk-0123456789"}`, "sk-0123456789")
	f.Add(`["a\"b"]`, `a"bcdefgh`)
	f.Add(`[12345678]`, "12345678")
	f.Fuzz(func(t *testing.T, doc, secret string) {
		valid := json.Valid([]byte(doc))
		got := RedactJSON([]byte(doc), []string{secret})
		if !valid {
			return
		}
		if !json.Valid(got) {
			t.Fatalf("%q with %q: %s is not JSON", doc, secret, got)
		}
		if len(secret) < MinRedactLen || strings.Contains(Redacted, secret) || !utf8.ValidString(secret) {
			return
		}
		var v any
		if err := json.Unmarshal(got, &v); err != nil {
			t.Fatal(err)
		}
		var walk func(any)
		walk = func(v any) {
			switch x := v.(type) {
			case string:
				if strings.Contains(x, secret) {
					t.Fatalf("%q with %q: a string still holds it: %s", doc, secret, got)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case map[string]any:
				for k, e := range x {
					walk(k)
					walk(e)
				}
			}
		}
		walk(v)
	})
}

// TestBearerSeen: the token a lower transport adds (as an OAuth transport
// does) is known from the response, and the last few are kept.
func TestBearerSeen(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	n := 0
	adds := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		n++
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", fmt.Sprintf("Bearer token-number-%d", n%6))
		return http.DefaultTransport.RoundTrip(r)
	})
	var seen BearerSeen
	hc := &http.Client{Transport: seen.Wrap(adds)}
	for range 8 {
		resp, err := hc.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := SentBearer(resp); !strings.HasPrefix(got, "token-number-") {
			t.Fatalf("SentBearer = %q", got)
		}
	}
	if got := seen.Tokens(); len(got) != bearersKept || got[len(got)-1] != "token-number-2" {
		t.Errorf("Tokens = %q", got)
	}
	if SentBearer(nil) != "" || SentBearer(&http.Response{}) != "" {
		t.Error("no request, yet a token")
	}
}
