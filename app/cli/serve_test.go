package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestServeURLFlagsRefusePlainHTTPElsewhere (acceptance 7): every serve
// flag naming a URL that receives a credential (the API base URLs of the
// example tools, which get an OAuth token or API key, and the public URL,
// which gets authorization codes and the consent cookie) goes through the
// one validator: plain http only to loopback, no user info. The check runs
// before anything starts, and the error does not echo the URL.
func TestServeURLFlagsRefusePlainHTTPElsewhere(t *testing.T) {
	for _, tc := range []struct {
		flag, value string
		ok          bool
	}{
		{"--github-api-url", "http://192.0.2.10", false},
		{"--weather-api-url", "http://192.0.2.10/data", false},
		{"--public-url", "http://plexus.example.com", false},
		{"--github-api-url", "https://user:pw@api.github.com", false},
		{"--weather-api-url", "ftp://example.com", false},
		{"--weather-api-url", "https://api.example.com/?appid=x", false},
		{"--github-api-url", "http://127.0.0.1:9/api", true},
		{"--weather-api-url", "http://[::1]:9", true},
		{"--public-url", "https://plexus.example.com", true},
	} {
		t.Run(tc.flag+"="+tc.value, func(t *testing.T) {
			var stderr bytes.Buffer
			env := Env{Getenv: func(string) string { return "" }, Stderr: &stderr, Stdout: &bytes.Buffer{}}
			// An unknown --log-level makes a valid URL fail right after
			// the URL checks, so nothing is started either way.
			err := Serve(t.Context(), []string{tc.flag, tc.value, "--log-level", "bogus", "--data", t.TempDir()}, env)
			urlErr := err != nil && strings.Contains(err.Error(), tc.flag+":")
			if urlErr == tc.ok {
				t.Fatalf("Serve = %v, want URL accepted=%v", err, tc.ok)
			}
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("Serve = %v, want a usage error", err)
			}
			if !tc.ok && strings.Contains(err.Error(), tc.value) {
				t.Errorf("error echoes the URL: %v", err)
			}
		})
	}
}
