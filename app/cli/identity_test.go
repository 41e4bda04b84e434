package cli

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/plexus-mcp/plexus/app/localclient"
)

// TestSetAPIKeyRefusesImpostor is issue 13's measurement: after a crash a
// process took the daemon's port (here even with the dead daemon's pid) and
// answers everything with 200. `plexus admin connections set-api-key` must
// not send it the local token or the key a person typed, must not print
// "Stored", and must say that another process holds the daemon's port.
func TestSetAPIKeyRefusesImpostor(t *testing.T) {
	const (
		token = "plxl_local-token-of-the-dead-daemon"
		key   = "sk-live-the-key-a-person-typed"
	)
	var mu sync.Mutex
	var seen []string
	impostor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.RequestURI+" "+r.Header.Get("Authorization")+" "+string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	}))
	t.Cleanup(impostor.Close)
	dir := t.TempDir()
	rt := localclient.Runtime{PID: os.Getpid(), Addr: impostor.Listener.Addr().String(), Token: token, Instance: localclient.NewInstanceID()}
	if err := localclient.WriteRuntime(dir, rt); err != nil {
		t.Fatal(err)
	}

	for _, how := range []struct {
		name  string
		stdin string
		vars  map[string]string
		args  []string
	}{
		{"key on stdin", key + "\n", nil, []string{"--api-key", "-"}},
		{"key in PLEXUS_API_KEY", "", map[string]string{apiKeyEnv: key}, nil},
	} {
		t.Run(how.name, func(t *testing.T) {
			args := append([]string{"--data", dir, "connections", "set-api-key", "--entity-id", "acme", "--provider-name", "openai"}, how.args...)
			stdout, stderr, err := runAdminIO(t, "", how.stdin, how.vars, args...)
			if !errors.Is(err, localclient.ErrImpostor) {
				t.Fatalf("set-api-key = %v, want ErrImpostor", err)
			}
			t.Logf("plexus: %v", err)
			if strings.Contains(stdout, "Stored") {
				t.Errorf("stdout claims the key was stored: %q", stdout)
			}
			for _, want := range []string{"another process", rt.Addr, "nothing was sent"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			for _, out := range []string{stdout, stderr, err.Error()} {
				if strings.Contains(out, key) || strings.Contains(out, token) {
					t.Errorf("a secret appears in the output: %q", out)
				}
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if !strings.HasPrefix(s, "GET "+localclient.IdentityPath+"?"+localclient.ChallengeParam+"=") {
			t.Errorf("the impostor received more than the challenge: %.40q", s)
		}
		if strings.Contains(s, key) || strings.Contains(s, token) {
			t.Error("the impostor received a secret")
		}
	}
	if len(seen) == 0 {
		t.Error("the impostor was never challenged")
	}
}
