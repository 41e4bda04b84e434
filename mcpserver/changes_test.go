package mcpserver

// Tests of issue 9 item 6: a change in the vault takes effect on the very
// next request. None of them sleeps or moves a clock: each changes the
// vault, then calls at once.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/plexus-mcp/plexus/mcpserver/examples"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
	"github.com/plexus-mcp/plexus/vault/vaulttest"
)

// revokeAll revokes every token of a user through the vault, as the admin
// API does.
func revokeAll(t *testing.T, v *vault.Vault, tenant, user string) {
	t.Helper()
	list, err := v.ListTokens(t.Context(), tenant, user)
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range list {
		if err := v.RevokeToken(t.Context(), tenant, info.ID); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRevocationIsImmediate(t *testing.T) {
	e := newEnv(t)
	uid, tok := e.user("acme", "alice")
	sid := e.initialize("acme", tok)
	// Both eras work, and the token is cached now.
	whoami(t, e.modernCall("acme", tok, tools.WhoamiName, ""))
	whoami(t, e.legacyCall("acme", tok, sid, tools.WhoamiName, ""))

	revokeAll(t, e.v, "acme", uid)
	wantRPCError(t, e.modernCall("acme", tok, tools.WhoamiName, ""), http.StatusUnauthorized, msgBadToken)
	wantRPCError(t, e.legacyCall("acme", tok, sid, tools.WhoamiName, ""), http.StatusUnauthorized, msgBadToken)
	if st, _ := e.apiKeys(http.MethodGet, "acme", tok, "", ""); st != http.StatusUnauthorized {
		t.Fatalf("api-keys with a revoked token: %d", st)
	}
}

// racingStore revokes a token while the Server resolves it: the store's
// answer predates the revocation, so the Server must not cache it.
type racingStore struct {
	*vault.Vault
	t      *testing.T
	revoke func()
}

func (r *racingStore) ResolveToken(ctx context.Context, token string) (vault.TokenInfo, error) {
	info, err := r.Vault.ResolveToken(ctx, token)
	if r.revoke != nil {
		f := r.revoke
		r.revoke = nil
		f() // commits and announces before the Server caches info
	}
	return info, err
}

func TestRevocationRacingACacheFill(t *testing.T) {
	e := newEnv(t)
	uid, tok := e.user("acme", "alice")
	rs := &racingStore{Vault: e.v, t: t}
	rs.revoke = func() { revokeAll(t, e.v, "acme", uid) }
	srv := New(rs, WithLocalToken(localToken))
	mux := http.NewServeMux()
	srv.Routes(mux)
	e.srv = srv
	e.hs.Config.Handler = mux

	// The first call was authorised with what the store said before the
	// revocation committed; the next one must not be.
	whoami(t, e.modernCall("acme", tok, tools.WhoamiName, ""))
	wantRPCError(t, e.modernCall("acme", tok, tools.WhoamiName, ""), http.StatusUnauthorized, msgBadToken)
}

// TestDeleteUserIsImmediate: the user's token fails at once, and their
// sessions are gone even for a new user registered under the same id.
func TestDeleteUserIsImmediate(t *testing.T) {
	e := newEnv(t)
	if err := e.v.SetHostAppSecret(t.Context(), "acme", acmeSecret); err != nil {
		t.Fatal(err)
	}
	first := e.register("acme", acmeSecret, "application/json", `{"user_id_from_host_app":"alice"}`)
	if first.status != http.StatusOK || first.resp.PersistentUserID != "alice" {
		t.Fatalf("register = %+v", first)
	}
	tok := first.resp.Token
	sid := e.initialize("acme", tok)
	whoami(t, e.legacyCall("acme", tok, sid, tools.WhoamiName, ""))
	if st, body := e.apiKeys(http.MethodPost, "acme", tok, "", `{"provider_name":"openweathermap","api_key_value":"alice-key-0123"}`); st != http.StatusOK {
		t.Fatalf("store key: %d %s", st, body)
	}
	_, bobTok := e.user("acme", "bob")
	bobSid := e.initialize("acme", bobTok)

	if err := e.v.DeleteUser(t.Context(), "acme", "alice"); err != nil {
		t.Fatal(err)
	}
	wantRPCError(t, e.modernCall("acme", tok, tools.WhoamiName, ""), http.StatusUnauthorized, msgBadToken)
	wantRPCError(t, e.legacyCall("acme", tok, sid, tools.WhoamiName, ""), http.StatusUnauthorized, msgBadToken)

	// Registered again: the same persistent id, a fresh user. The old
	// session and token stay dead; the old key is gone.
	again := e.register("acme", acmeSecret, "application/json", `{"user_id_from_host_app":"alice"}`)
	if again.status != http.StatusOK || again.resp.PersistentUserID != "alice" {
		t.Fatalf("register again = %+v", again)
	}
	wantRPCError(t, e.legacyCall("acme", again.resp.Token, sid, tools.WhoamiName, ""), http.StatusNotFound, "session not found")
	if st, _ := e.openGET("acme", again.resp.Token, sid); st != http.StatusNotFound {
		t.Fatalf("GET stream of the deleted user's session: %d", st)
	}
	wantRPCError(t, e.modernCall("acme", tok, tools.WhoamiName, ""), http.StatusUnauthorized, msgBadToken)
	if st, body := e.apiKeys(http.MethodGet, "acme", again.resp.Token, "", ""); st != http.StatusOK || strings.Contains(body, "openweathermap") {
		t.Fatalf("new alice sees the old key: %d %s", st, body)
	}
	// Bob is untouched.
	whoami(t, e.legacyCall("acme", bobTok, bobSid, tools.WhoamiName, ""))
}

func TestDeleteTenantIsImmediate(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("beta", "bob")
	sid := e.initialize("beta", tok)
	whoami(t, e.legacyCall("beta", tok, sid, tools.WhoamiName, ""))
	whoami(t, e.modernCall("beta", "", tools.WhoamiName, ""))

	if err := e.v.DeleteTenant(t.Context(), "beta"); err != nil {
		t.Fatal(err)
	}
	wantRPCError(t, e.modernCall("beta", tok, tools.WhoamiName, ""), http.StatusNotFound, `unknown tenant "beta"`)
	wantRPCError(t, e.legacyCall("beta", tok, sid, tools.WhoamiName, ""), http.StatusNotFound, `unknown tenant "beta"`)
	wantRPCError(t, e.modernCall("beta", localToken, tools.WhoamiName, ""), http.StatusNotFound, `unknown tenant "beta"`)
	if st, _ := e.apiKeys(http.MethodGet, "beta", tok, "", ""); st != http.StatusNotFound {
		t.Fatalf("api-keys of a deleted tenant: %d", st)
	}
	// A tenant created again under the same id starts empty: the old
	// token and session mean nothing there.
	if _, err := e.v.CreateTenant(t.Context(), vault.Tenant{ID: "beta"}); err != nil {
		t.Fatal(err)
	}
	wantRPCError(t, e.modernCall("beta", tok, tools.WhoamiName, ""), http.StatusUnauthorized, msgBadToken)
	wantRPCError(t, e.legacyCall("beta", localToken, sid, tools.WhoamiName, ""), http.StatusNotFound, "session not found")
	// acme is untouched.
	whoami(t, e.modernCall("acme", "", tools.WhoamiName, ""))
}

func TestDisableToolIsImmediate(t *testing.T) {
	e := newEnv(t, WithRegistry(scopedRegistry(t)))
	for _, er := range eras(t) {
		t.Run(er.name, func(t *testing.T) {
			if err := e.v.PutToolSettings(t.Context(), "acme", vault.ToolSettings{}); err != nil {
				t.Fatal(err)
			}
			// Settings read and cached.
			if got := toolNames(t, er.list(e, "acme", "")); !slices.Contains(got, "plain_tool") {
				t.Fatalf("tools/list = %v", got)
			}
			if text, _ := toolText(t, er.call(e, "acme", "plain_tool")); text != "plain_tool ran" {
				t.Fatalf("plain_tool = %q", text)
			}
			if err := e.v.PutToolSettings(t.Context(), "acme", vault.ToolSettings{DisabledTools: []string{"plain_tool"}}); err != nil {
				t.Fatal(err)
			}
			if got := toolNames(t, er.list(e, "acme", "")); slices.Contains(got, "plain_tool") {
				t.Fatalf("tools/list right after disabling = %v", got)
			}
			notFound(t, er.call(e, "acme", "plain_tool"), "plain_tool")
			// A whole tool set, too.
			if err := e.v.PutToolSettings(t.Context(), "acme", vault.ToolSettings{DisabledToolSets: []string{"ops"}}); err != nil {
				t.Fatal(err)
			}
			if got := toolNames(t, er.list(e, "acme", "")); slices.Contains(got, "ops_tool") || !slices.Contains(got, "plain_tool") {
				t.Fatalf("tools/list right after disabling the set = %v", got)
			}
			notFound(t, er.call(e, "acme", "ops_tool"), "ops_tool")
		})
	}
}

func TestRemoveProviderIsImmediate(t *testing.T) {
	ce := newCredEnv(t, nil)
	_, tok := ce.user("acme", "alice")
	alice := caller{name: "alice", tenant: "acme", token: tok, sid: ce.initialize("acme", tok)}
	ce.connect(t, credResult(t, ce.callAs(alice, examples.GitHubWhoamiName, "")))
	if text, isErr := toolText(t, ce.callAs(alice, examples.GitHubWhoamiName, "")); isErr {
		t.Fatalf("connected call failed: %s", text)
	}

	if err := ce.v.DeleteOAuthProvider(t.Context(), "acme", "github"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []caller{alice, {tenant: "acme", token: tok}} {
		text, isErr := toolText(t, ce.callAs(c, examples.GitHubWhoamiName, ""))
		if !isErr || !strings.Contains(text, "has not configured") || !strings.Contains(text, "plexus admin ext-oauth create") {
			t.Fatalf("call right after removing the provider: isError=%v %q", isErr, text)
		}
	}
}

// TestRevocationUnderLoad: callers keep authenticating with a token while
// it is revoked; no call that starts after RevokeToken returned succeeds,
// however the cache fills raced with the revocation.
func TestRevocationUnderLoad(t *testing.T) {
	v := vaulttest.New(t)
	ctx := t.Context()
	if _, err := v.CreateTenant(ctx, vault.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	u, _, err := v.EnsureUser(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	s := New(v)
	const rounds, callers = 30, 4
	for round := range rounds {
		tok, info, err := v.IssueToken(ctx, "acme", u.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/acme/mcp", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		var revoked atomic.Bool
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				for range 200 {
					after := revoked.Load()
					_, err := s.authenticate(ctx, "acme", r)
					if after && err == nil {
						t.Errorf("round %d: a call that started after the revocation succeeded", round)
						return
					}
				}
			})
		}
		if err := v.RevokeToken(ctx, "acme", info.ID); err != nil {
			t.Fatal(err)
		}
		revoked.Store(true)
		wg.Wait()
		if _, err := s.authenticate(ctx, "acme", r); err == nil {
			t.Fatalf("round %d: revoked token still accepted", round)
		}
	}
}

// TestDeleteLocalOwner: deleting the local owner (its keys, sessions) is
// seen at once; the local token then acts as a new, empty local owner.
func TestDeleteLocalOwner(t *testing.T) {
	e := newEnv(t)
	sid := e.initialize("acme", localToken)
	first := whoami(t, e.legacyCall("acme", localToken, sid, tools.WhoamiName, ""))
	if st, body := e.apiKeys(http.MethodPost, "acme", localToken, "", `{"provider_name":"openweathermap","api_key_value":"owner-key-0123"}`); st != http.StatusOK {
		t.Fatalf("store key: %d %s", st, body)
	}
	if err := e.v.DeleteUser(t.Context(), "acme", first.User); err != nil {
		t.Fatal(err)
	}
	wantRPCError(t, e.legacyCall("acme", localToken, sid, tools.WhoamiName, ""), http.StatusNotFound, "session not found")
	if got := whoami(t, e.modernCall("acme", localToken, tools.WhoamiName, "")); got.User != vault.LocalOwnerHostUserID {
		t.Fatalf("local token after deleting the local owner = %+v", got)
	}
	if st, body := e.apiKeys(http.MethodGet, "acme", localToken, "", ""); st != http.StatusOK || strings.Contains(body, "openweathermap") {
		t.Fatalf("keys of the new local owner: %d %s", st, body)
	}
}
