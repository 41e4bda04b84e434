package mcpserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// TestAuth: who a request acts as, in both eras.
func TestAuth(t *testing.T) {
	e := newEnv(t)
	uid, tok := e.user("acme", "alice")
	_, betaTok := e.user("beta", "bob")
	owner, err := e.v.EnsureLocalOwner(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		token string
		want  tools.Whoami
	}{
		{"user token", tok, tools.Whoami{Tenant: "acme", User: uid}},
		{"local token", localToken, tools.Whoami{Tenant: "acme", User: owner.ID}},
		{"no token", "", tools.Whoami{Tenant: "acme", Guest: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := whoami(t, e.modernCall("acme", tc.token, tools.WhoamiName, ""))
			tc.want.Protocol = modern
			if got != tc.want {
				t.Fatalf("modern whoami = %+v, want %+v", got, tc.want)
			}
			sid := e.initialize("acme", tc.token)
			got = whoami(t, e.legacyCall("acme", tc.token, sid, tools.WhoamiName, ""))
			tc.want.Protocol, tc.want.SessionFingerprint = legacy, tools.SessionFingerprint(sid)
			if got != tc.want {
				t.Fatalf("legacy whoami = %+v, want %+v", got, tc.want)
			}
		})
	}

	refused := []struct {
		name  string
		token string
		auth  string // raw Authorization header, if set
	}{
		{"other tenant's token", betaTok, ""},
		{"unknown token", "not-a-token", ""},
		{"basic scheme", "", "Basic YWxhZGRpbjpvcGVuc2VzYW1l"},
		{"empty bearer", "", "Bearer "},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := req{tenant: "acme", token: tc.token, body: `{"jsonrpc":"2.0","id":9,"method":"initialize","params":{}}`}
			if tc.auth != "" {
				r.headers = map[string]string{"Authorization": tc.auth}
			}
			rep := e.do(r)
			wantRPCError(t, rep, http.StatusUnauthorized, msgBadToken)
			if got := rep.header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
				t.Fatalf("WWW-Authenticate = %q", got)
			}
			if string(rep.rpc.ID) != "9" {
				t.Fatalf("id = %s, want 9", rep.rpc.ID)
			}
		})
	}

	t.Run("revoked", func(t *testing.T) {
		_, tok2 := e.user("acme", "carol")
		whoami(t, e.modernCall("acme", tok2, tools.WhoamiName, "")) // cached now
		info, err := e.v.ResolveToken(t.Context(), tok2)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.v.RevokeToken(t.Context(), "acme", info.ID); err != nil {
			t.Fatal(err)
		}
		// No clock advance, no sleep: the very next request is refused.
		wantRPCError(t, e.modernCall("acme", tok2, tools.WhoamiName, ""), http.StatusUnauthorized, msgBadToken)
	})

	t.Run("expired", func(t *testing.T) {
		u, _, err := e.v.EnsureUser(t.Context(), "acme", "dave")
		if err != nil {
			t.Fatal(err)
		}
		tok3, _, err := e.v.IssueToken(t.Context(), "acme", u.ID, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		wantRPCError(t, e.modernCall("acme", tok3, tools.WhoamiName, ""), http.StatusUnauthorized, msgBadToken)
	})
}

// BenchmarkAuthenticate measures the per-request cost of working out the
// caller: the local token (the stdio bridge), a cached user token, a guest.
func BenchmarkAuthenticate(b *testing.B) {
	v := vaulttest.New(b)
	ctx := b.Context()
	if _, err := v.CreateTenant(ctx, vault.Tenant{ID: "acme"}); err != nil {
		b.Fatal(err)
	}
	u, _, err := v.EnsureUser(ctx, "acme", "alice")
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := v.IssueToken(ctx, "acme", u.ID, 0)
	if err != nil {
		b.Fatal(err)
	}
	s := New(v, WithLocalToken(localToken))
	for _, bc := range []struct{ name, auth string }{
		{"local", "Bearer " + localToken},
		{"user", "Bearer " + tok},
		{"guest", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodPost, "/acme/mcp", nil)
			if bc.auth != "" {
				r.Header.Set("Authorization", bc.auth)
			}
			if _, err := s.authenticate(ctx, "acme", r); err != nil { // warm the caches
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.authenticate(ctx, "acme", r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
