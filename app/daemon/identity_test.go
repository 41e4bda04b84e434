package daemon

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/localclient"
)

func TestHealthzProof(t *testing.T) {
	rt := localclient.Runtime{PID: 42, Addr: "127.0.0.1:8765", Token: "plxl_t", Instance: "inst-1"}
	h := healthz(rt)
	nonce := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	tests := []struct {
		name      string
		query     string
		wantCode  int
		wantProof string
	}{
		{"plain health probe", "", 200, ""},
		{"challenge", localclient.ChallengeParam + "=" + nonce, 200, localclient.Proof(rt.Token, rt.Instance, rt.PID, rt.Addr, nonce)},
		{"empty challenge", localclient.ChallengeParam + "=", 400, ""},
		{"short challenge", localclient.ChallengeParam + "=AAAA", 400, ""},
		{"not base64url", localclient.ChallengeParam + "=" + url.QueryEscape(strings.Repeat("*", 43)), 400, ""},
		{"huge challenge", localclient.ChallengeParam + "=" + strings.Repeat("A", 100000), 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h(w, httptest.NewRequest(http.MethodGet, "/healthz?"+tc.query, nil))
			if w.Code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantCode, w.Body)
			}
			if strings.Contains(w.Body.String(), rt.Token) {
				t.Fatal("the answer contains the token")
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", w.Header().Get("Cache-Control"))
			}
			var a localclient.IdentityAnswer
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
				t.Fatalf("answer is not JSON: %s", w.Body)
			}
			if a.Proof != tc.wantProof {
				t.Fatalf("proof = %q, want %q", a.Proof, tc.wantProof)
			}
			if tc.wantProof != "" && (a.Instance != rt.Instance || a.PID != rt.PID || a.Status != "ok") {
				t.Fatalf("answer = %+v", a)
			}
		})
	}
}

// FuzzHealthzChallenge: any query gets a JSON answer, 200 with a proof
// for a well-formed challenge, else 400 or a plain probe; never a panic.
func FuzzHealthzChallenge(f *testing.F) {
	for _, s := range []string{"", "AAAA", strings.Repeat("A", 43), strings.Repeat("_-", 40), "%zz", "a b"} {
		f.Add(s)
	}
	rt := localclient.Runtime{PID: 1, Addr: "127.0.0.1:1", Token: "t", Instance: "i"}
	h := healthz(rt)
	f.Fuzz(func(t *testing.T, challenge string) {
		w := httptest.NewRecorder()
		h(w, httptest.NewRequest(http.MethodGet, "/healthz?"+localclient.ChallengeParam+"="+url.QueryEscape(challenge), nil))
		var a localclient.IdentityAnswer
		if json.Unmarshal(w.Body.Bytes(), &a) != nil {
			t.Fatalf("answer is not JSON: %q", w.Body)
		}
		ok := localclient.ParseChallenge(challenge) == nil
		if ok != (w.Code == 200) || ok != (a.Proof != "") {
			t.Fatalf("challenge %q: status %d proof %q", challenge, w.Code, a.Proof)
		}
	})
}

// TestDaemonProvesItself runs a real daemon: localclient.Ping (what every
// local client does first) accepts it with its runtime file, and refuses
// it for a runtime with any other token, pid or instance.
func TestDaemonProvesItself(t *testing.T) {
	rt := startBenchDaemon(t)
	if rt.Instance == "" {
		t.Fatal("the runtime file has no instance id")
	}
	ctx := context.Background()
	if err := localclient.Ping(ctx, rt); err != nil {
		t.Fatalf("Ping of the real daemon: %v", err)
	}
	for name, mod := range map[string]func(*localclient.Runtime){
		"stale token":    func(r *localclient.Runtime) { r.Token = "plxl_old" },
		"reused pid":     func(r *localclient.Runtime) { r.PID++ },
		"stale instance": func(r *localclient.Runtime) { r.Instance = localclient.NewInstanceID() },
	} {
		r := rt
		mod(&r)
		if err := localclient.Ping(ctx, r); !errors.Is(err, localclient.ErrImpostor) {
			t.Errorf("%s: Ping = %v, want ErrImpostor", name, err)
		}
	}
	// The proved client reaches the admin API through the guard.
	if _, err := localclient.NewClient(rt).ListTenants(ctx); err != nil {
		t.Fatalf("NewClient(rt).ListTenants: %v", err)
	}
}
