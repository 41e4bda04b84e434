package vault

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

func TestEnsureUser(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")
	u, created, err := v.EnsureUser(ctx, "acme", "alice@example.com")
	if err != nil || !created {
		t.Fatalf("first EnsureUser: %+v, %v, %v", u, created, err)
	}
	if u.ID != "alice@example.com" || u.HostUserID != "alice@example.com" {
		t.Fatalf("persistent id %q, want the host user id (as MCP Plexus)", u.ID)
	}
	again, created, err := v.EnsureUser(ctx, "acme", "alice@example.com")
	if err != nil || created || again.ID != u.ID {
		t.Fatalf("second EnsureUser: %+v, %v, %v", again, created, err)
	}
	if _, err := v.GetUser(ctx, "beta", u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("user of acme read through beta: %v", err)
	}
	other, _, err := v.EnsureUser(ctx, "beta", "alice@example.com")
	if err != nil || other.TenantID != "beta" || other.ID != u.ID {
		t.Fatalf("same host user in another tenant: %+v, %v", other, err)
	}
	if got, err := v.GetUser(ctx, "acme", u.ID); err != nil || got != u {
		t.Fatalf("GetUser: %+v, %v", got, err)
	}
	if _, _, err := v.EnsureUser(ctx, "acme", "bob"); err != nil {
		t.Fatal(err)
	}
	us, err := v.ListUsers(ctx, "acme")
	if err != nil || len(us) != 2 || us[0].HostUserID != "alice@example.com" || us[1].HostUserID != "bob" {
		t.Fatalf("ListUsers: %+v, %v", us, err)
	}

	for _, tc := range []struct {
		name, tenant, host string
		want               error
	}{
		{"empty host id", "acme", "", ErrInvalid},
		{"long host id", "acme", strings.Repeat("x", 257), ErrInvalid},
		{"NUL in host id", "acme", "a\x00b", ErrInvalid},
		{"bad tenant", "Acme", "x", ErrInvalid},
		{"unknown tenant", "nope", "x", ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := v.EnsureUser(ctx, tc.tenant, tc.host); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, _, err := v.EnsureUser(ctx, "acme", strings.Repeat("x", 256)); err != nil {
		t.Fatalf("256-char host id: %v", err)
	}
}

func TestTokens(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")
	alice, _, _ := v.EnsureUser(ctx, "acme", "alice")
	bob, _, _ := v.EnsureUser(ctx, "acme", "bob")

	tok, info, err := v.IssueToken(ctx, "acme", alice.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, TokenPrefix) || len(tok) != len(TokenPrefix)+43 {
		t.Fatalf("token shape: %d chars", len(tok))
	}
	if len(info.ID) != 12 || sha256Hex(tok)[:12] != info.ID || !info.ExpiresAt.IsZero() {
		t.Fatalf("info = %+v", info)
	}
	short, _, err := v.IssueToken(ctx, "acme", bob.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.ResolveToken(ctx, tok)
	if err != nil || got.TenantID != "acme" || got.UserID != alice.ID {
		t.Fatalf("ResolveToken: %+v, %v", got, err)
	}

	for _, tc := range []struct{ name, tok string }{
		{"unknown", TokenPrefix + "nope"}, {"empty", ""}, {"huge", strings.Repeat("x", 10000)},
	} {
		if _, err := v.ResolveToken(ctx, tc.tok); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", tc.name, err)
		}
	}

	list, err := v.ListTokens(ctx, "acme", "")
	if err != nil || len(list) != 2 {
		t.Fatalf("ListTokens all: %+v, %v", list, err)
	}
	if list, _ := v.ListTokens(ctx, "acme", bob.ID); len(list) != 1 || list[0].UserID != bob.ID {
		t.Fatalf("ListTokens bob: %+v", list)
	}
	if list, _ := v.ListTokens(ctx, "beta", ""); len(list) != 0 {
		t.Fatalf("beta sees acme tokens: %+v", list)
	}

	clk.Add(time.Hour)
	if _, err := v.ResolveToken(ctx, short); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired token: %v", err)
	}
	if err := v.RevokeToken(ctx, "beta", info.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke via another tenant: %v", err)
	}
	if err := v.RevokeToken(ctx, "acme", info.ID); err != nil {
		t.Fatal(err)
	}
	if err := v.RevokeToken(ctx, "acme", info.ID); err != nil {
		t.Fatalf("revoke twice: %v", err)
	}
	if _, err := v.ResolveToken(ctx, tok); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("revoked token: %v", err)
	}
	if list, _ := v.ListTokens(ctx, "acme", alice.ID); len(list) != 1 || !list[0].Revoked {
		t.Fatalf("revoked not listed: %+v", list)
	}

	for _, tc := range []struct {
		name, tenant, user string
		ttl                time.Duration
		want               error
	}{
		{"unknown user", "acme", "nobody", 0, ErrNotFound},
		{"user of another tenant", "beta", alice.ID, 0, ErrNotFound},
		{"negative ttl", "acme", alice.ID, -time.Second, ErrInvalid},
		{"empty user", "acme", "", 0, ErrInvalid},
		{"unknown tenant", "gamma", alice.ID, 0, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := v.IssueToken(ctx, tc.tenant, tc.user, tc.ttl); !errors.Is(err, tc.want) {
				t.Fatalf("IssueToken: %v, want %v", err, tc.want)
			}
		})
	}
	if err := v.RevokeToken(ctx, "acme", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("revoke empty id: %v", err)
	}
}

// hostUserIDCases are ids from outside and whether ValidateHostUserID takes
// them; they seed FuzzValidateHostUserID.
var hostUserIDCases = []struct {
	id string
	ok bool
}{
	{"alice@example.com", true},
	{"auth0|5f7c8ec7c33c6c004bbafe82", true}, // Auth0-style, "|" allowed
	{"12345", true},
	{"Ünïcødé user", true},
	{"a/b?c#d%2F", true}, // escaped in paths by every client
	{"local-owner-fan", true},
	{"my-plexus-user", true},
	{strings.Repeat("x", 256), true},
	{"", false},
	{"   ", false},
	{"\u00a0", false}, // no-break space only: blank
	{strings.Repeat("x", 257), false},
	{"a\x00b", false},
	{"a\nb", false},
	{"\xff", false},
	{".", false},
	{"..", false},
	{LocalOwnerHostUserID, false},
	{"PLEXUS-LOCAL-OWNER", false},
	{"plexus-", false},
	{"Plexus-admin", false},
	{LocalOwnerAlias, false},
	{"LOCAL-OWNER", false},
}

func TestValidateHostUserID(t *testing.T) {
	for _, tc := range hostUserIDCases {
		t.Run(tc.id, func(t *testing.T) {
			err := ValidateHostUserID(tc.id)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidateHostUserID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
	err := ValidateHostUserID(LocalOwnerHostUserID)
	if err == nil || !strings.Contains(err.Error(), "reserved") || !strings.Contains(err.Error(), "local token") {
		t.Fatalf("reserved id error %v does not name the rule", err)
	}
}

func FuzzValidateHostUserID(f *testing.F) {
	for _, tc := range hostUserIDCases {
		f.Add(tc.id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := ValidateHostUserID(id)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		lower := strings.ToLower(id)
		switch {
		case id == "" || len(id) > maxHostUserIDLen || !utf8.ValidString(id) || strings.ContainsRune(id, 0):
			t.Fatalf("accepted malformed id %q", id)
		case strings.HasPrefix(lower, ReservedUserIDPrefix) || lower == LocalOwnerAlias:
			t.Fatalf("accepted reserved id %q", id)
		case strings.TrimSpace(id) == "" || id == "." || id == "..":
			t.Fatalf("accepted unusable id %q", id)
		}
	})
}

// putLegacyUser stores a user the way Plexus did before persistent ids
// became the host user ids: a random UUID as its id.
func putLegacyUser(t *testing.T, v *Vault, tenantID, hostUserID, id string) User {
	t.Helper()
	u := User{TenantID: tenantID, ID: id, HostUserID: hostUserID, CreatedAt: v.nowUTC()}
	err := v.db.Update(func(tx *bolt.Tx) error {
		if err := putJSON(tx.Bucket(bucketUsers), scoped(tenantID, id), u); err != nil {
			return err
		}
		return tx.Bucket(bucketUsersByHost).Put(scoped(tenantID, hostUserID), []byte(id))
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// putRawToken stores a token record directly, as an older Plexus could
// have issued it.
func putRawToken(t *testing.T, v *Vault, tenantID, userID, token string) {
	t.Helper()
	h := sha256Hex(token)
	info := TokenInfo{ID: h[:tokenIDLen], TenantID: tenantID, UserID: userID, CreatedAt: v.nowUTC()}
	err := v.db.Update(func(tx *bolt.Tx) error {
		if err := putJSON(tx.Bucket(bucketTokens), []byte(h), info); err != nil {
			return err
		}
		return tx.Bucket(bucketTokenIDs).Put(scoped(tenantID, info.ID), []byte(h))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUserIDCollisions: no id from outside reaches the local owner or
// another user's records.
func TestUserIDCollisions(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")

	// Reserved ids are refused, in any case.
	for _, id := range []string{LocalOwnerHostUserID, "Plexus-Local-Owner", LocalOwnerAlias, "plexus-anything", ".."} {
		if _, _, err := v.EnsureUser(ctx, "acme", id); !errors.Is(err, ErrInvalid) {
			t.Errorf("EnsureUser(%q) = %v, want ErrInvalid", id, err)
		}
	}

	// The local owner exists only through EnsureLocalOwner.
	owner, err := v.EnsureLocalOwner(ctx, "acme")
	if err != nil || owner.ID != LocalOwnerHostUserID || owner.HostUserID != LocalOwnerHostUserID {
		t.Fatalf("EnsureLocalOwner = %+v, %v", owner, err)
	}
	if again, err := v.EnsureLocalOwner(ctx, "acme"); err != nil || again != owner {
		t.Fatalf("EnsureLocalOwner again = %+v, %v", again, err)
	}
	if _, err := v.EnsureLocalOwner(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("EnsureLocalOwner of unknown tenant: %v", err)
	}
	if _, _, err := v.IssueToken(ctx, "acme", owner.ID, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("IssueToken for the local owner = %v, want ErrInvalid", err)
	}

	// A vault from before: users (and the local owner) with UUID ids. They
	// keep them; nothing is lost.
	const aliceUUID = "0b6c3a52-3c8e-4f34-9d7a-2f1e5c7b9a10"
	const ownerUUID = "7e2d1f0a-6b5c-4d3e-8f9a-0a1b2c3d4e5f"
	alice := putLegacyUser(t, v, "beta", "alice", aliceUUID)
	betaOwner := putLegacyUser(t, v, "beta", LocalOwnerHostUserID, ownerUUID)
	if got, created, err := v.EnsureUser(ctx, "beta", "alice"); err != nil || created || got != alice {
		t.Fatalf("legacy user: %+v created=%v %v, want %+v", got, created, err, alice)
	}
	if got, err := v.EnsureLocalOwner(ctx, "beta"); err != nil || got != betaOwner {
		t.Fatalf("legacy local owner: %+v %v, want %+v", got, err, betaOwner)
	}
	// A host id equal to another user's persistent id is refused, the
	// local owner's above all.
	for _, id := range []string{aliceUUID, ownerUUID} {
		if _, _, err := v.EnsureUser(ctx, "beta", id); !errors.Is(err, ErrExists) {
			t.Errorf("EnsureUser(%q) = %v, want ErrExists", id, err)
		}
	}
	if got, _ := v.GetUser(ctx, "beta", ownerUUID); got != betaOwner {
		t.Fatalf("local owner record changed: %+v", got)
	}
	// A token of the local owner issued before the fix is refused.
	const oldToken = TokenPrefix + "issued-to-an-impersonator"
	putRawToken(t, v, "beta", ownerUUID, oldToken)
	if _, err := v.ResolveToken(ctx, oldToken); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("old local-owner token: %v, want ErrTokenRevoked", err)
	}
	// A token whose user is gone is unknown.
	const orphan = TokenPrefix + "orphan"
	putRawToken(t, v, "beta", "ghost", orphan)
	if _, err := v.ResolveToken(ctx, orphan); !errors.Is(err, ErrNotFound) {
		t.Fatalf("orphan token: %v, want ErrNotFound", err)
	}
}

// TestDeleteUser: everything of the user goes, nothing of anyone else, and
// the same host id registered again starts from nothing.
func TestDeleteUser(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")
	seed := func(tenant, host string) (User, string) {
		u, _, err := v.EnsureUser(ctx, tenant, host)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := v.IssueToken(ctx, tenant, u.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		sid := "sess-" + tenant + "-" + host
		if err := v.CreateSession(ctx, Session{ID: sid, TenantID: tenant, UserID: u.ID}); err != nil {
			t.Fatal(err)
		}
		if err := v.SetSessionValue(ctx, tenant, sid, "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := v.PutCredential(ctx, tenant, u.ID, CredentialAPIKey, "weather", []byte("key")); err != nil {
			t.Fatal(err)
		}
		if err := v.PutOAuthState(ctx, OAuthState{State: "state-" + tenant + "-" + host + "-0123456789", TenantID: tenant,
			UserID: u.ID, Provider: "github", Verifier: testVerifier, Browser: "browser-binding-0123456789",
			ExpiresAt: clk.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		return u, tok
	}
	alice, aliceTok := seed("acme", "alice")
	bob, bobTok := seed("acme", "bob")
	_, betaAliceTok := seed("beta", "alice")

	if err := v.DeleteUser(ctx, "acme", alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GetUser(ctx, "acme", alice.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("user: %v", err)
	}
	if _, err := v.ResolveToken(ctx, aliceTok); !errors.Is(err, ErrNotFound) {
		t.Errorf("token: %v", err)
	}
	if list, _ := v.ListTokens(ctx, "acme", alice.ID); len(list) != 0 {
		t.Errorf("tokens listed: %+v", list)
	}
	if _, err := v.GetSession(ctx, "acme", "sess-acme-alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("session: %v", err)
	}
	if creds, _ := v.ListCredentials(ctx, "acme", alice.ID); len(creds) != 0 {
		t.Errorf("credentials: %+v", creds)
	}
	if _, err := v.TakeOAuthState(ctx, "state-acme-alice-0123456789", "browser-binding-0123456789"); !errors.Is(err, ErrNotFound) {
		t.Errorf("oauth state: %v", err)
	}
	// No key of acme's alice is left in any bucket.
	err := v.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, _ []byte) error {
				if bytes.HasPrefix(k, scoped("acme", alice.ID)) {
					t.Errorf("bucket %s still has key %q", name, k)
				}
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}

	// Bob and beta's alice are untouched.
	for _, tok := range []string{bobTok, betaAliceTok} {
		if _, err := v.ResolveToken(ctx, tok); err != nil {
			t.Errorf("other user's token: %v", err)
		}
	}
	if _, err := v.GetSession(ctx, "acme", "sess-acme-bob"); err != nil {
		t.Errorf("bob's session: %v", err)
	}
	if creds, _ := v.ListCredentials(ctx, "acme", bob.ID); len(creds) != 1 {
		t.Errorf("bob's credentials: %+v", creds)
	}

	// Registered again: the same id, a new user with nothing inherited.
	again, created, err := v.EnsureUser(ctx, "acme", "alice")
	if err != nil || !created || again.ID != alice.ID {
		t.Fatalf("EnsureUser after delete: %+v created=%v %v", again, created, err)
	}
	if creds, _ := v.ListCredentials(ctx, "acme", again.ID); len(creds) != 0 {
		t.Errorf("re-registered user inherits credentials: %+v", creds)
	}
	if _, err := v.ResolveToken(ctx, aliceTok); !errors.Is(err, ErrNotFound) {
		t.Errorf("re-registered user inherits the old token: %v", err)
	}

	for _, tc := range []struct {
		name, tenant, user string
		want               error
	}{
		{"unknown user", "acme", "nobody", ErrNotFound},
		{"unknown tenant", "gamma", "alice", ErrNotFound},
		{"empty user", "acme", "", ErrInvalid},
		{"bad tenant", "Acme", "alice", ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := v.DeleteUser(ctx, tc.tenant, tc.user); !errors.Is(err, tc.want) {
				t.Fatalf("DeleteUser = %v, want %v", err, tc.want)
			}
		})
	}
}
