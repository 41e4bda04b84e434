package vault

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestSessions(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")
	start := clk.Now()
	s := Session{ID: "sid-1", TenantID: "acme", Protocol: "2025-11-25", ExpiresAt: start.Add(time.Hour)}
	if err := v.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := v.CreateSession(ctx, s); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	got, err := v.GetSession(ctx, "acme", "sid-1")
	if err != nil || got.Protocol != "2025-11-25" || !got.CreatedAt.Equal(start) || !got.LastSeen.Equal(start) {
		t.Fatalf("GetSession: %+v, %v", got, err)
	}
	if _, err := v.GetSession(ctx, "beta", "sid-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("session read through another tenant: %v", err)
	}

	clk.Add(30 * time.Minute)
	up, err := v.UpdateSession(ctx, "acme", "sid-1", func(s *Session) error {
		s.LastSeen = clk.Now()
		s.ExpiresAt = clk.Now().Add(time.Hour)
		return nil
	})
	if err != nil || !up.LastSeen.Equal(clk.Now()) {
		t.Fatalf("UpdateSession: %+v, %v", up, err)
	}
	if _, err := v.UpdateSession(ctx, "acme", "sid-1", func(s *Session) error { s.TenantID = "beta"; return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("update moving tenant: %v", err)
	}
	boom := errors.New("boom")
	if _, err := v.UpdateSession(ctx, "acme", "sid-1", func(s *Session) error { s.Protocol = "x"; return boom }); !errors.Is(err, boom) {
		t.Fatalf("fn error: %v", err)
	}
	if got, _ := v.GetSession(ctx, "acme", "sid-1"); got.Protocol != "2025-11-25" {
		t.Fatalf("failed update was written: %+v", got)
	}

	clk.Add(time.Hour) // now expired
	if _, err := v.GetSession(ctx, "acme", "sid-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	if _, err := v.UpdateSession(ctx, "acme", "sid-1", func(*Session) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update expired: %v", err)
	}
	if err := v.SetSessionValue(ctx, "acme", "sid-1", "k", []byte("v")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("value on expired session: %v", err)
	}

	if err := v.CreateSession(ctx, Session{ID: "forever", TenantID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := v.DeleteSession(ctx, "acme", "forever"); err != nil {
		t.Fatal(err)
	}
	if err := v.DeleteSession(ctx, "acme", "forever"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}

	for _, tc := range []struct {
		name string
		s    Session
		want error
	}{
		{"empty id", Session{TenantID: "acme"}, ErrInvalid},
		{"long id", Session{ID: strings.Repeat("s", 257), TenantID: "acme"}, ErrInvalid},
		{"NUL in id", Session{ID: "a\x00b", TenantID: "acme"}, ErrInvalid},
		{"bad tenant", Session{ID: "x", TenantID: "API"}, ErrInvalid},
		{"unknown tenant", Session{ID: "x", TenantID: "gamma"}, ErrNotFound},
		{"unknown user", Session{ID: "x", TenantID: "acme", UserID: "nobody"}, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := v.CreateSession(ctx, tc.s); !errors.Is(err, tc.want) {
				t.Fatalf("CreateSession: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSessionValues(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	if err := v.CreateSession(ctx, Session{ID: "s1", TenantID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GetSessionValue(ctx, "acme", "s1", "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unset value: %v", err)
	}
	for _, val := range [][]byte{[]byte("one"), []byte("two"), {}} {
		if err := v.SetSessionValue(ctx, "acme", "s1", "k", val); err != nil {
			t.Fatal(err)
		}
		got, err := v.GetSessionValue(ctx, "acme", "s1", "k")
		if err != nil || !bytes.Equal(got, val) {
			t.Fatalf("GetSessionValue = %q, %v; want %q", got, err, val)
		}
	}
	for _, tc := range []struct {
		name, sid, key string
		val            []byte
		want           error
	}{
		{"unknown session", "s2", "k", nil, ErrNotFound},
		{"empty key", "s1", "", nil, ErrInvalid},
		{"pipe in key", "s1", "a|b", nil, ErrInvalid},
		{"long key", "s1", strings.Repeat("k", 257), nil, ErrInvalid},
		{"huge value", "s1", "k", make([]byte, 1<<20+1), ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := v.SetSessionValue(ctx, "acme", tc.sid, tc.key, tc.val); !errors.Is(err, tc.want) {
				t.Fatalf("SetSessionValue: %v, want %v", err, tc.want)
			}
		})
	}
	if err := v.DeleteSession(ctx, "acme", "s1"); err != nil {
		t.Fatal(err)
	}
	if err := v.CreateSession(ctx, Session{ID: "s1", TenantID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GetSessionValue(ctx, "acme", "s1", "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("value survived its session's deletion: %v", err)
	}
}

func TestSweepSessions(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")
	now := clk.Now()
	for _, s := range []Session{
		{ID: "old1", TenantID: "acme", ExpiresAt: now.Add(time.Minute)},
		{ID: "old2", TenantID: "beta", ExpiresAt: now.Add(2 * time.Minute)},
		{ID: "edge", TenantID: "acme", ExpiresAt: now.Add(10 * time.Minute)},
		{ID: "live", TenantID: "acme", ExpiresAt: now.Add(time.Hour)},
		{ID: "forever", TenantID: "beta"},
	} {
		if err := v.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := v.SetSessionValue(ctx, s.TenantID, s.ID, "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	n, err := v.SweepSessions(ctx, now.Add(10*time.Minute))
	if err != nil || n != 3 {
		t.Fatalf("SweepSessions = %d, %v; want 3", n, err)
	}
	if n, _ := v.SweepSessions(ctx, now.Add(10*time.Minute)); n != 0 {
		t.Fatalf("second sweep removed %d", n)
	}
	_ = v.db.View(func(tx *bolt.Tx) error {
		if k := tx.Bucket(bucketSessions).Stats().KeyN; k != 2 {
			t.Errorf("sessions left = %d, want 2", k)
		}
		if k := tx.Bucket(bucketSessionValues).Stats().KeyN; k != 2 {
			t.Errorf("session values left = %d, want 2", k)
		}
		return nil
	})
	for _, id := range []string{"live"} {
		if _, err := v.GetSessionValue(ctx, "acme", id, "k"); err != nil {
			t.Errorf("value of %s: %v", id, err)
		}
	}
}

// TestSessionValueAADSwap copies a sealed session value to another
// tenant's, session's and key's record: none of them opens it.
func TestSessionValueAADSwap(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	for _, id := range []string{"acme", "beta"} {
		mustTenant(t, v, id)
		for _, sid := range []string{"s1", "s2"} {
			if err := v.CreateSession(ctx, Session{ID: sid, TenantID: id}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := v.SetSessionValue(ctx, "acme", "s1", "token", []byte("secret value")); err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	_ = v.db.View(func(tx *bolt.Tx) error {
		sealed = bytes.Clone(tx.Bucket(bucketSessionValues).Get(scoped("acme", "s1", "token")))
		return nil
	})
	if sealed == nil {
		t.Fatal("no sealed value stored")
	}
	for _, tc := range []struct{ name, tenant, sid, key string }{
		{"other tenant", "beta", "s1", "token"},
		{"other session", "acme", "s2", "token"},
		{"other key", "acme", "s1", "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := v.db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketSessionValues).Put(scoped(tc.tenant, tc.sid, tc.key), sealed)
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := v.GetSessionValue(ctx, tc.tenant, tc.sid, tc.key); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("moved value: %v, want ErrDecrypt", err)
			}
		})
	}
	if got, err := v.GetSessionValue(ctx, "acme", "s1", "token"); err != nil || string(got) != "secret value" {
		t.Fatalf("original: %q, %v", got, err)
	}
}
