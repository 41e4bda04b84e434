package vault

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recorder collects announced changes.
type recorder struct {
	mu sync.Mutex
	cs []Change
}

func (r *recorder) add(c Change) {
	r.mu.Lock()
	r.cs = append(r.cs, c)
	r.mu.Unlock()
}

// take returns and forgets what was announced so far.
func (r *recorder) take() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	cs := r.cs
	r.cs = nil
	return cs
}

// TestChangesAnnounced: every write a cache may depend on is announced,
// synchronously (already there when the method returns), and only once it
// committed.
func TestChangesAnnounced(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	var rec recorder
	unsubscribe := v.Subscribe(rec.add)

	u, _, err := v.EnsureUser(ctx, "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	_, info, err := v.IssueToken(ctx, "acme", u.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("creating a user and a token announced %+v", got)
	}

	steps := []struct {
		name string
		do   func() error
		want []Change
	}{
		{"revoke", func() error { return v.RevokeToken(ctx, "acme", info.ID) },
			[]Change{{Kind: TokenRevoked, TenantID: "acme", UserID: u.ID, TokenID: info.ID}}},
		{"revoke again", func() error { return v.RevokeToken(ctx, "acme", info.ID) },
			[]Change{{Kind: TokenRevoked, TenantID: "acme", UserID: u.ID, TokenID: info.ID}}},
		{"tool settings", func() error {
			return v.PutToolSettings(ctx, "acme", ToolSettings{DisabledTools: []string{"x"}})
		}, []Change{{Kind: ToolSettingsChanged, TenantID: "acme"}}},
		{"create provider", func() error { _, err := v.CreateOAuthProvider(ctx, testProvider("acme", "github")); return err },
			[]Change{{Kind: ProviderChanged, TenantID: "acme", Provider: "github"}}},
		{"update provider", func() error { _, _, err := v.UpdateOAuthProvider(ctx, testProvider("acme", "github")); return err },
			[]Change{{Kind: ProviderChanged, TenantID: "acme", Provider: "github"}}},
		{"put credential", func() error { return v.PutCredential(ctx, "acme", u.ID, CredentialAPIKey, "weather", []byte("k")) },
			[]Change{{Kind: CredentialChanged, TenantID: "acme", UserID: u.ID, CredentialKind: CredentialAPIKey, Provider: "weather"}}},
		{"delete credential", func() error { return v.DeleteCredential(ctx, "acme", u.ID, CredentialAPIKey, "weather") },
			[]Change{{Kind: CredentialChanged, TenantID: "acme", UserID: u.ID, CredentialKind: CredentialAPIKey, Provider: "weather"}}},
		{"delete provider", func() error { return v.DeleteOAuthProvider(ctx, "acme", "github") },
			[]Change{{Kind: ProviderChanged, TenantID: "acme", Provider: "github", ProviderDeleted: true}}},
		{"delete user", func() error { return v.DeleteUser(ctx, "acme", u.ID) },
			[]Change{{Kind: UserDeleted, TenantID: "acme", UserID: u.ID}}},
		{"delete tenant", func() error { return v.DeleteTenant(ctx, "acme") },
			[]Change{{Kind: TenantDeleted, TenantID: "acme"}}},
		// Failed writes announce nothing.
		{"revoke unknown", func() error { return v.RevokeToken(ctx, "acme", "nope") }, nil},
		{"delete unknown user", func() error { return v.DeleteUser(ctx, "acme", "nobody") }, nil},
		{"delete unknown tenant", func() error { return v.DeleteTenant(ctx, "acme") }, nil},
		{"settings of unknown tenant", func() error { return v.PutToolSettings(ctx, "acme", ToolSettings{}) }, nil},
	}
	for _, st := range steps {
		err := st.do()
		if (err == nil) != (st.want != nil) {
			t.Fatalf("%s: err = %v", st.name, err)
		}
		if got := rec.take(); !slices.Equal(got, st.want) {
			t.Fatalf("%s: announced %+v, want %+v", st.name, got, st.want)
		}
	}

	unsubscribe()
	unsubscribe() // twice is harmless
	mustTenant(t, v, "beta")
	if err := v.PutToolSettings(ctx, "beta", ToolSettings{}); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("announced after unsubscribe: %+v", got)
	}
}

// TestChangeSubscriberPanics: a panicking subscriber neither undoes the
// write nor keeps the others from hearing of it; it is logged.
func TestChangeSubscriberPanics(t *testing.T) {
	ctx := t.Context()
	var logs logBuffer
	cfg := testConfig(t)
	cfg.Logger = logs.logger()
	v := openT(t, cfg)
	mustTenant(t, v, "acme")
	var rec recorder
	v.Subscribe(func(Change) { panic("boom") })
	v.Subscribe(rec.add)
	if err := v.PutToolSettings(ctx, "acme", ToolSettings{DisabledTools: []string{"x"}}); err != nil {
		t.Fatalf("write failed because of a subscriber: %v", err)
	}
	if got := rec.take(); len(got) != 1 {
		t.Fatalf("second subscriber heard %+v", got)
	}
	if s, _ := v.GetToolSettings(ctx, "acme"); len(s.DisabledTools) != 1 {
		t.Fatalf("write undone: %+v", s)
	}
	if !strings.Contains(logs.String(), "Change subscriber panicked") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

// TestChangeSubscribersConcurrent: subscribing, unsubscribing and writing
// at once is race-free, and Close drops every subscriber.
func TestChangeSubscribersConcurrent(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 20 {
				var rec recorder
				stop := v.Subscribe(rec.add)
				if err := v.PutToolSettings(ctx, "acme", ToolSettings{}); err != nil {
					t.Error(err)
				}
				stop()
				if len(rec.take()) == 0 {
					t.Errorf("writer %d: own write not announced", i)
				}
			}
		})
	}
	wg.Wait()
	var rec recorder
	v.Subscribe(rec.add)
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	v.publish(Change{Kind: TenantDeleted, TenantID: "acme"})
	if got := rec.take(); len(got) != 0 {
		t.Fatalf("announced after Close: %+v", got)
	}
	if err := v.PutToolSettings(ctx, "acme", ToolSettings{}); err == nil || errors.Is(err, ErrInvalid) {
		t.Fatalf("write after Close: %v", err)
	}
}
