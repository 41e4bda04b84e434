package vault

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var tenantIDCases = []struct {
	id      string
	ok      bool
	message string // substring of the error
}{
	{"acme", true, ""},
	{"a", true, ""},
	{"0day", true, ""},
	{"acme-inc_2", true, ""},
	{strings.Repeat("a", 63), true, ""},
	{"", false, "must not be empty"},
	{strings.Repeat("a", 64), false, "at most 63"},
	{"Acme", false, `tenant id "Acme": use lowercase letters, digits, "-" and "_"`},
	{"ac me", false, "lowercase"},
	{"acme.com", false, "lowercase"},
	{"acme/x", false, "lowercase"},
	{"ac\x00me", false, "lowercase"},
	{"émile", false, "lowercase"},
	{"-acme", false, "start with a letter or digit"},
	{"_acme", false, "start with a letter or digit"},
	{"api", false, `tenant id "api": reserved word`},
	{"ui", false, "reserved"},
	{"healthz", false, "reserved"},
	{"readyz", false, "reserved"},
	{"metrics", false, "reserved"},
	{"static", false, "reserved"},
	{"assets", false, "reserved"},
	{"well-known", false, "reserved"},
	{".well-known", false, "lowercase"},
	{"oauth", false, "reserved"},
	{"admin", false, "reserved"},
	{"mcp", false, "reserved"},
	{"login", false, "reserved"},
	{"logout", false, "reserved"},
	{"plexus", false, "reserved"},
	{"plexus-auth", false, "reserved"},
	{"favicon.ico", false, "lowercase"},
}

func TestValidateTenantID(t *testing.T) {
	for _, tc := range tenantIDCases {
		t.Run(tc.id, func(t *testing.T) {
			err := ValidateTenantID(tc.id)
			if tc.ok {
				if err != nil {
					t.Fatalf("ValidateTenantID(%q) = %v", tc.id, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ValidateTenantID(%q) = %v, want ErrInvalid", tc.id, err)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("error %q does not contain %q", err, tc.message)
			}
		})
	}
}

func FuzzValidateTenantID(f *testing.F) {
	for _, tc := range tenantIDCases {
		f.Add(tc.id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := ValidateTenantID(id)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if len(id) < 1 || len(id) > 63 || reservedTenantIDs[id] {
			t.Fatalf("accepted %q", id)
		}
		for _, c := range []byte(id) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				t.Fatalf("accepted %q", id)
			}
		}
	})
}

func TestTenantCRUD(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	tn, err := v.CreateTenant(ctx, Tenant{ID: "acme", Name: "Acme Inc."})
	if err != nil {
		t.Fatal(err)
	}
	if tn.CreatedAt.IsZero() || !tn.CreatedAt.Equal(tn.UpdatedAt) || tn.HasHostAppSecret {
		t.Fatalf("created tenant = %+v", tn)
	}
	if _, err := v.CreateTenant(ctx, Tenant{ID: "acme", Name: "again"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v, want ErrExists", err)
	}
	if tn, err := v.CreateTenant(ctx, Tenant{ID: "beta"}); err != nil || tn.Name != "beta" {
		t.Fatalf("empty name: %+v, %v", tn, err)
	}
	clk.Add(time.Minute)
	up, err := v.UpdateTenantName(ctx, "acme", "Acme Corp")
	if err != nil || up.Name != "Acme Corp" || !up.UpdatedAt.After(up.CreatedAt) {
		t.Fatalf("update: %+v, %v", up, err)
	}
	got, err := v.GetTenant(ctx, "acme")
	if err != nil || got.Name != "Acme Corp" {
		t.Fatalf("get: %+v, %v", got, err)
	}
	list, err := v.ListTenants(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "acme" || list[1].ID != "beta" {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if err := v.DeleteTenant(ctx, "beta"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GetTenant(ctx, "beta"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if err := v.DeleteTenant(ctx, "beta"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if _, err := v.UpdateTenantName(ctx, "nope", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
}

func TestTenantBadInput(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	tests := []struct {
		name string
		call func() error
	}{
		{"create bad id", func() error { _, err := v.CreateTenant(ctx, Tenant{ID: "API"}); return err }},
		{"create long name", func() error {
			_, err := v.CreateTenant(ctx, Tenant{ID: "x", Name: strings.Repeat("n", 201)})
			return err
		}},
		{"create control char", func() error { _, err := v.CreateTenant(ctx, Tenant{ID: "x", Name: "a\nb"}); return err }},
		{"create bad utf8", func() error { _, err := v.CreateTenant(ctx, Tenant{ID: "x", Name: "\xff"}); return err }},
		{"update empty name", func() error { _, err := v.UpdateTenantName(ctx, "acme", ""); return err }},
		{"update long name", func() error { _, err := v.UpdateTenantName(ctx, "acme", strings.Repeat("n", 201)); return err }},
		{"get empty id", func() error { _, err := v.GetTenant(ctx, ""); return err }},
		{"delete bad id", func() error { return v.DeleteTenant(ctx, "A") }},
		{"long secret", func() error { return v.SetHostAppSecret(ctx, "acme", strings.Repeat("s", 1025)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	if tn, err := v.CreateTenant(ctx, Tenant{ID: "x", Name: strings.Repeat("n", 200)}); err != nil || len(tn.Name) != 200 {
		t.Fatalf("200-char name: %v", err)
	}
	if _, err := v.GetTenant(ctx, "acme"); err != nil {
		t.Fatalf("acme changed by bad input: %v", err)
	}
}

func TestHostAppSecret(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	if ok, err := v.CheckHostAppSecret(ctx, "acme", "anything"); ok || err != nil {
		t.Fatalf("no secret set: %v, %v", ok, err)
	}
	if err := v.SetHostAppSecret(ctx, "acme", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if tn, _ := v.GetTenant(ctx, "acme"); !tn.HasHostAppSecret {
		t.Fatal("HasHostAppSecret = false")
	}
	for _, tc := range []struct {
		presented string
		want      bool
	}{{"s3cret", true}, {"s3cre", false}, {"s3cret ", false}, {"", false}} {
		if ok, err := v.CheckHostAppSecret(ctx, "acme", tc.presented); ok != tc.want || err != nil {
			t.Errorf("Check(%q) = %v, %v; want %v", tc.presented, ok, err, tc.want)
		}
	}
	if err := v.SetHostAppSecret(ctx, "acme", "rotated"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := v.CheckHostAppSecret(ctx, "acme", "s3cret"); ok {
		t.Fatal("old secret still accepted after rotation")
	}
	if err := v.SetHostAppSecret(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	if tn, _ := v.GetTenant(ctx, "acme"); tn.HasHostAppSecret {
		t.Fatal("secret not cleared")
	}
	if _, err := v.CheckHostAppSecret(ctx, "nope", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
}

// TestDeleteTenantCascade: deleting a tenant removes its users, tokens,
// sessions, session values, credentials, OAuth providers, OAuth states,
// tool settings and upstreams, and nothing of other tenants.
func TestDeleteTenantCascade(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	toks := map[string]string{}
	for _, id := range []string{"acme", "acme-2", "beta"} {
		mustTenant(t, v, id)
		u, _, err := v.EnsureUser(ctx, id, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if toks[id], _, err = v.IssueToken(ctx, id, u.ID, 0); err != nil {
			t.Fatal(err)
		}
		if err := v.CreateSession(ctx, Session{ID: "s1", TenantID: id, UserID: u.ID}); err != nil {
			t.Fatal(err)
		}
		if err := v.SetSessionValue(ctx, id, "s1", "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := v.PutCredential(ctx, id, u.ID, CredentialAPIKey, "weather", []byte("key")); err != nil {
			t.Fatal(err)
		}
		if _, err := v.CreateOAuthProvider(ctx, testProvider(id, "github")); err != nil {
			t.Fatal(err)
		}
		if err := v.PutOAuthState(ctx, testState(id, u.ID, "github", "state-of-"+id+"-0123456789", time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := v.PutToolSettings(ctx, id, ToolSettings{DisabledTools: []string{"x"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := v.CreateUpstream(ctx, Upstream{TenantID: id, Name: "everything", Transport: UpstreamStdio, Command: "server"}); err != nil {
			t.Fatal(err)
		}
		if _, err := v.CreateHTTPTool(ctx, weatherTool(id)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := v.CreateGate(ctx, Gate{TenantID: id, ToolSet: "github"}); err != nil {
			t.Fatal(err)
		}
		if err := v.SetToolSearch(ctx, id, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.ResolveToken(ctx, toks["acme"]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token of deleted tenant: %v", err)
	}
	// Nothing left under "acme\x00" in any bucket; others intact.
	err := v.db.View(func(tx *bolt.Tx) error {
		for _, b := range tenantScoped {
			n := 0
			_ = forPrefix(tx.Bucket(b), scoped("acme", ""), func(_, _ []byte) error { n++; return nil })
			if n != 0 {
				t.Errorf("bucket %s still has %d acme keys", b, n)
			}
			for _, other := range []string{"acme-2", "beta"} {
				m := 0
				_ = forPrefix(tx.Bucket(b), scoped(other, ""), func(_, _ []byte) error { m++; return nil })
				if m == 0 {
					t.Errorf("bucket %s lost %s's keys", b, other)
				}
			}
		}
		for _, b := range tenantKeyed {
			if tx.Bucket(b).Get([]byte("acme")) != nil {
				t.Errorf("bucket %s still has acme's key", b)
			}
			for _, other := range []string{"acme-2", "beta"} {
				if tx.Bucket(b).Get([]byte(other)) == nil {
					t.Errorf("bucket %s lost %s's key", b, other)
				}
			}
		}
		if n := tx.Bucket(bucketTokens).Stats().KeyN; n != 2 {
			t.Errorf("tokens left = %d, want 2", n)
		}
		var states []string
		_ = tx.Bucket(bucketOAuthStates).ForEach(func(k, _ []byte) error { states = append(states, string(k)); return nil })
		want := []string{string(flowKey(flowState, "state-of-acme-2-0123456789")), string(flowKey(flowState, "state-of-beta-0123456789"))}
		slices.Sort(want)
		if !slices.Equal(states, want) {
			t.Errorf("oauth states left = %q, want %q", states, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"acme-2", "beta"} {
		if _, err := v.ResolveToken(ctx, toks[id]); err != nil {
			t.Errorf("token of %s: %v", id, err)
		}
		if _, err := v.GetSessionValue(ctx, id, "s1", "k"); err != nil {
			t.Errorf("session value of %s: %v", id, err)
		}
	}
	// Re-creating the tenant starts empty.
	mustTenant(t, v, "acme")
	if us, err := v.ListUsers(ctx, "acme"); err != nil || len(us) != 0 {
		t.Fatalf("users of re-created tenant: %v, %v", us, err)
	}
	if ps, err := v.ListOAuthProviders(ctx, "acme"); err != nil || len(ps) != 0 {
		t.Fatalf("providers of re-created tenant: %v, %v", ps, err)
	}
	if cs, err := v.ListCredentials(ctx, "acme", ""); err != nil || len(cs) != 0 {
		t.Fatalf("credentials of re-created tenant: %v, %v", cs, err)
	}
	if st, err := v.GetToolSettings(ctx, "acme"); err != nil || !reflect.DeepEqual(st, ToolSettings{}) {
		t.Fatalf("tool settings of re-created tenant: %+v, %v", st, err)
	}
}

// TestCreateTenantWithSecretIsAtomic: the tenant and its host-app secret
// are stored together or not at all; a failure after the tenant record
// was written (here: a secret the vault refuses) leaves no tenant, and
// nothing is announced.
func TestCreateTenantWithSecretIsAtomic(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	var changes []Change
	v.Subscribe(func(c Change) { changes = append(changes, c) })
	mustTenant(t, v, "taken")
	tests := []struct {
		name, id, tenantName, secret string
		want                         error // nil: created
	}{
		{name: "ok", id: "acme", tenantName: "Acme", secret: "phs_OK"},
		{name: "secret too long", id: "long", secret: strings.Repeat("s", maxSecretLen+1), want: ErrInvalid},
		{name: "empty secret", id: "empty", secret: "", want: ErrInvalid},
		{name: "bad id", id: "API", secret: "phs_X", want: ErrInvalid},
		{name: "bad name", id: "ctl", tenantName: "a\x00b", secret: "phs_X", want: ErrInvalid},
		{name: "taken", id: "taken", secret: "phs_X", want: ErrExists},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.CreateTenantWithSecret(ctx, Tenant{ID: tc.id, Name: tc.tenantName}, tc.secret)
			if tc.want == nil {
				if err != nil || !got.HasHostAppSecret || got.ID != tc.id {
					t.Fatalf("CreateTenantWithSecret = %+v, %v", got, err)
				}
				if ok, err := v.CheckHostAppSecret(ctx, tc.id, tc.secret); !ok || err != nil {
					t.Fatalf("the secret does not check: %v, %v", ok, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("CreateTenantWithSecret = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.secret) && tc.secret != "" {
				t.Error("the error shows the secret")
			}
			if tc.want == ErrExists {
				if tn, err := v.GetTenant(ctx, tc.id); err != nil || tn.HasHostAppSecret {
					t.Fatalf("the existing tenant changed: %+v, %v", tn, err)
				}
				return
			}
			if _, err := v.GetTenant(ctx, tc.id); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("after a failed create, GetTenant = %v, want not found", err)
			}
		})
	}
	ts, err := v.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ids := tenantIDs(ts); !slices.Equal(ids, []string{"acme", "taken"}) {
		t.Fatalf("tenants = %v, want [acme taken]", ids)
	}
	if len(changes) != 0 {
		t.Fatalf("changes announced: %v", changes)
	}
}

func tenantIDs(ts []Tenant) []string {
	ids := make([]string, 0, len(ts))
	for _, tn := range ts {
		ids = append(ids, tn.ID)
	}
	return ids
}

// TestDeleteTenantCounted: CountTenant says what the tenant holds, and
// DeleteTenantCounted returns the same counts as it deletes all of it.
func TestDeleteTenantCounted(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	for _, id := range []string{"acme", "beta"} {
		mustTenant(t, v, id)
	}
	for _, hu := range []string{"alice", "bob"} {
		u, _, err := v.EnsureUser(ctx, "acme", hu)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, _, err := v.IssueToken(ctx, "acme", u.ID, 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := v.PutCredential(ctx, "acme", u.ID, CredentialAPIKey, "weather", []byte("key")); err != nil {
			t.Fatal(err)
		}
		if err := v.CreateSession(ctx, Session{ID: "s-" + hu, TenantID: "acme", UserID: u.ID}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.EnsureLocalOwner(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.CreateOAuthProvider(ctx, testProvider("acme", "github")); err != nil {
		t.Fatal(err)
	}
	if err := v.PutCredential(ctx, "acme", "alice", CredentialOAuth, "github", []byte(`{"access_token":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.EnsureUser(ctx, "beta", "carol"); err != nil {
		t.Fatal(err)
	}
	want := TenantCounts{Users: 3, Tokens: 4, Sessions: 2, Providers: 1, OAuthConnections: 1, APIKeys: 2}
	if got, err := v.CountTenant(ctx, "acme"); err != nil || got != want {
		t.Fatalf("CountTenant = %+v, %v; want %+v", got, err, want)
	}
	if got, err := v.DeleteTenantCounted(ctx, "acme"); err != nil || got != want {
		t.Fatalf("DeleteTenantCounted = %+v, %v; want %+v", got, err, want)
	}
	if _, err := v.CountTenant(ctx, "acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CountTenant of a deleted tenant = %v", err)
	}
	if _, err := v.DeleteTenantCounted(ctx, "acme"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DeleteTenantCounted again = %v", err)
	}
	if got, err := v.CountTenant(ctx, "beta"); err != nil || got != (TenantCounts{Users: 1}) {
		t.Fatalf("CountTenant(beta) = %+v, %v", got, err)
	}
}
