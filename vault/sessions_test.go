package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
		sealed = bytes.Clone(tx.Bucket(bucketSessionValues).Get(scoped("acme", SessionHash("s1"), "token")))
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
				return tx.Bucket(bucketSessionValues).Put(scoped(tc.tenant, SessionHash(tc.sid), tc.key), sealed)
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

// ownerCount reads an owner's stored session count and index size.
func ownerCount(t *testing.T, v *Vault, tenant, user string) (count, indexed int) {
	t.Helper()
	_ = v.db.View(func(tx *bolt.Tx) error {
		count = int(sessionCount(tx, tenant, user))
		prefix := scoped(tenant, user, "")
		return forPrefix(tx.Bucket(bucketSessionIndex), prefix, func(k, _ []byte) error {
			if len(k) == len(prefix)+8+sessionHashLen {
				indexed++
			}
			return nil
		})
	})
	return count, indexed
}

// TestCreateSessionLimited: past the bound, the owner's sessions idle the
// longest go first (with their values); other owners are not touched; the
// new session is never the one evicted; counts and index stay exact.
func TestCreateSessionLimited(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	mustTenant(t, v, "beta")
	alice := mustUser(t, v, "acme", "alice")
	create := func(tenant, user, id string, max int) []string {
		t.Helper()
		clk.Add(time.Second)
		ev, err := v.CreateSessionLimited(ctx, Session{ID: id, TenantID: tenant, UserID: user}, max, nil)
		if err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
		return ev
	}
	for _, id := range []string{"g1", "g2", "g3"} {
		if ev := create("acme", "", id, 3); len(ev) != 0 {
			t.Fatalf("evicted %v below the bound", ev)
		}
		if err := v.SetSessionValue(ctx, "acme", id, "k", []byte(id)); err != nil {
			t.Fatal(err)
		}
	}
	create("acme", alice, "u1", 3)
	create("beta", "", "b1", 3)
	// g1 is used again: g2 is now the one idle the longest.
	clk.Add(time.Second)
	if err := v.TouchSessions(ctx, []SessionTouch{{TenantID: "acme", ID: "g1", LastSeen: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if ev := create("acme", "", "g4", 3); len(ev) != 1 || ev[0] != SessionHash("g2") {
		t.Fatalf("evicted %v, want [hash of g2]", ev)
	}
	if _, err := v.GetSession(ctx, "acme", "g2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("evicted session: %v", err)
	}
	if _, err := v.GetSessionValue(ctx, "acme", "g2", "k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("evicted session's value: %v", err)
	}
	for _, id := range []string{"g1", "g3", "g4"} {
		if _, err := v.GetSession(ctx, "acme", id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if _, err := v.GetSession(ctx, "acme", "u1"); err != nil {
		t.Fatalf("user session evicted with the guests: %v", err)
	}
	if _, err := v.GetSession(ctx, "beta", "b1"); err != nil {
		t.Fatalf("other tenant's guest evicted: %v", err)
	}
	if c, i := ownerCount(t, v, "acme", ""); c != 3 || i != 3 {
		t.Fatalf("acme guests: count %d, index %d; want 3, 3", c, i)
	}
	// A lower bound (or a file already over it) shrinks step by step.
	if ev := create("acme", "", "g5", 1); len(ev) != 3 {
		t.Fatalf("evicted %d, want 3", len(ev))
	}
	if c, i := ownerCount(t, v, "acme", ""); c != 1 || i != 1 {
		t.Fatalf("after bound 1: count %d, index %d", c, i)
	}
	if _, err := v.GetSession(ctx, "acme", "g5"); err != nil {
		t.Fatalf("new session evicted: %v", err)
	}
	// Same timestamps: the new session is still never the one evicted.
	for i := range 5 {
		id := fmt.Sprintf("same-%d", i)
		if _, err := v.CreateSessionLimited(ctx, Session{ID: id, TenantID: "beta"}, 2, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := v.GetSession(ctx, "beta", id); err != nil {
			t.Fatalf("%s evicted on its own creation: %v", id, err)
		}
	}
	// Delete, sweep and update keep the count and index exact.
	if err := v.DeleteSession(ctx, "acme", "g5"); err != nil {
		t.Fatal(err)
	}
	if c, i := ownerCount(t, v, "acme", ""); c != 0 || i != 0 {
		t.Fatalf("after delete: count %d, index %d", c, i)
	}
	if err := v.CreateSession(ctx, Session{ID: "short", TenantID: "acme", ExpiresAt: clk.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.UpdateSession(ctx, "acme", "short", func(s *Session) error { s.LastSeen = clk.Now().Add(time.Second); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := v.UpdateSession(ctx, "acme", "short", func(s *Session) error { s.UserID = alice; return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("update moving the session to a user: %v", err)
	}
	if c, i := ownerCount(t, v, "acme", ""); c != 1 || i != 1 {
		t.Fatalf("after update: count %d, index %d", c, i)
	}
	if n, err := v.SweepSessions(ctx, clk.Now().Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	if c, i := ownerCount(t, v, "acme", ""); c != 0 || i != 0 {
		t.Fatalf("after sweep: count %d, index %d", c, i)
	}
	if err := v.DeleteTenant(ctx, "beta"); err != nil {
		t.Fatal(err)
	}
	if c, i := ownerCount(t, v, "beta", ""); c != 0 || i != 0 {
		t.Fatalf("after DeleteTenant: count %d, index %d", c, i)
	}
	// A session in use is not idle: the next oldest goes instead.
	create("acme", "", "busy", 0)
	create("acme", "", "idle", 0)
	busy := SessionHash("busy")
	if ev, err := v.CreateSessionLimited(ctx, Session{ID: "g6", TenantID: "acme"}, 2, func(h string) bool { return h == busy }); err != nil || len(ev) != 1 || ev[0] != SessionHash("idle") {
		t.Fatalf("evicted %v, %v; want [hash of idle]", ev, err)
	}
	if _, err := v.GetSession(ctx, "acme", "busy"); err != nil {
		t.Fatalf("session in use evicted: %v", err)
	}
	for _, id := range []string{"busy", "g6"} {
		if err := v.DeleteSession(ctx, "acme", id); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTouchSessions: one transaction moves last-seen and expiry forward,
// skips gone sessions and never moves a session back in time.
func TestTouchSessions(t *testing.T) {
	ctx := t.Context()
	v, clk := newTestVault(t)
	mustTenant(t, v, "acme")
	if err := v.CreateSession(ctx, Session{ID: "s1", TenantID: "acme", ExpiresAt: clk.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	later := clk.Now().Add(30 * time.Minute)
	err := v.TouchSessions(ctx, []SessionTouch{
		{TenantID: "acme", ID: "s1", LastSeen: later, ExpiresAt: later.Add(time.Hour)},
		{TenantID: "acme", ID: "gone", LastSeen: later, ExpiresAt: later.Add(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.GetSession(ctx, "acme", "s1")
	if err != nil || !got.LastSeen.Equal(later) || !got.ExpiresAt.Equal(later.Add(time.Hour)) {
		t.Fatalf("touched session = %+v, %v", got, err)
	}
	if err := v.TouchSessions(ctx, []SessionTouch{{TenantID: "acme", ID: "s1", LastSeen: clk.Now(), ExpiresAt: clk.Now()}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := v.GetSession(ctx, "acme", "s1"); !got.LastSeen.Equal(later) {
		t.Fatalf("older touch moved last seen back: %v", got.LastSeen)
	}
	if err := v.TouchSessions(ctx, []SessionTouch{{TenantID: "acme", ID: ""}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty id: %v", err)
	}
}

// TestSessionIDsNotInFile: session ids are credentials; the raw file holds
// only their hashes (before schema 3 they were the bbolt keys).
func TestSessionIDsNotInFile(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t)
	v := openT(t, cfg)
	mustTenant(t, v, "acme")
	alice := mustUser(t, v, "acme", "alice")
	ids := []string{"mcp-session-GUESTCANARY2345ABCDEFGHIJK", "mcp-session-USERCANARY2345ABCDEFGHIJKL"}
	for i, id := range ids {
		user := ""
		if i == 1 {
			user = alice
		}
		if err := v.CreateSession(ctx, Session{ID: id, TenantID: "acme", UserID: user, Client: json.RawMessage(`{"clientInfo":{"name":"probe-client"}}`)}); err != nil {
			t.Fatal(err)
		}
		if err := v.SetSessionValue(ctx, "acme", id, "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		if _, err := v.UpdateSession(ctx, "acme", id, func(s *Session) error { s.Protocol = "2025-11-25"; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if bytes.Contains(raw, []byte(id)) {
			t.Errorf("session id %s… found in the raw vault file", id[:16])
		}
		if bytes.Contains(raw, []byte(id[len("mcp-session-"):])) {
			t.Errorf("session id body %s… found in the raw vault file", id[12:20])
		}
		if !bytes.Contains(raw, []byte(SessionHash(id))) {
			t.Fatalf("scan is blind: the hash of %s… is not in the file", id[:16])
		}
	}
	if !bytes.Contains(raw, []byte("probe-client")) {
		t.Fatal("scan is blind: client state not found")
	}
}

// TestSessionErrorsHideID: errors name a session by a short fingerprint,
// never by its id.
func TestSessionErrorsHideID(t *testing.T) {
	ctx := t.Context()
	v, _ := newTestVault(t)
	mustTenant(t, v, "acme")
	const id = "mcp-session-SECRETIDCANARY"
	if err := v.CreateSession(ctx, Session{ID: id, TenantID: "acme"}); err != nil {
		t.Fatal(err)
	}
	errs := []error{v.CreateSession(ctx, Session{ID: id, TenantID: "acme"})}
	_, err := v.GetSession(ctx, "acme", id+"x")
	errs = append(errs, err)
	_, err = v.UpdateSession(ctx, "acme", id, func(s *Session) error { s.ID = "other"; return nil })
	errs = append(errs, err, v.DeleteSession(ctx, "acme", id+"x"), v.SetSessionValue(ctx, "acme", id+"x", "k", nil))
	for _, err := range errs {
		if err == nil {
			t.Fatal("want an error")
		}
		if strings.Contains(err.Error(), "SECRETIDCANARY") {
			t.Errorf("error shows the session id: %v", err)
		}
	}
}

// TestMigrationV2ToV4Sessions opens a schema-2 file whose sessions and
// values were written in the old layout (raw ids as keys, values sealed
// with the raw id in the AAD): the sessions and their values still work,
// the ids are gone from the file, and the bounds apply to them.
func TestMigrationV2ToV4Sessions(t *testing.T) {
	ctx := t.Context()
	cfg := testConfig(t)
	v2 := testOptions()
	v2.migrations = defaultMigrations()[:2]
	old, err := openWith(ctx, cfg, v2)
	if err != nil {
		t.Fatal(err)
	}
	mustTenant(t, old, "acme")
	mustTenant(t, old, "beta")
	alice := mustUser(t, old, "acme", "alice")
	now := time.Now().UTC().Truncate(time.Second)
	type oldSession struct {
		s     Session
		value string
	}
	olds := []oldSession{
		{Session{ID: "mcp-session-OLDGUESTAAAAAAAAAAAAAAAAAAA", TenantID: "acme", Protocol: "2025-11-25", CreatedAt: now.Add(-3 * time.Hour), LastSeen: now.Add(-3 * time.Hour), ExpiresAt: now.Add(21 * time.Hour)}, "guest-key"},
		{Session{ID: "mcp-session-OLDGUESTBBBBBBBBBBBBBBBBBBB", TenantID: "acme", Protocol: "2025-06-18", CreatedAt: now.Add(-time.Hour), LastSeen: now.Add(-time.Hour), ExpiresAt: now.Add(23 * time.Hour)}, ""},
		{Session{ID: "mcp-session-OLDUSERCCCCCCCCCCCCCCCCCCCC", TenantID: "acme", UserID: alice, Protocol: "2025-11-25", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(24 * time.Hour)}, "user-note"},
	}
	// The old code's layout, written as it wrote it.
	err = old.db.Update(func(tx *bolt.Tx) error {
		for _, o := range olds {
			if err := putJSON(tx.Bucket(bucketSessions), scoped("acme", o.s.ID), o.s); err != nil {
				return err
			}
			if o.value == "" {
				continue
			}
			sealed, err := old.Seal(sessionValueAAD("acme", o.s.ID, "k"), []byte(o.value))
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketSessionValues).Put(scoped("acme", o.s.ID, "k"), sealed); err != nil {
				return err
			}
		}
		// A record the old code could not read either.
		return tx.Bucket(bucketSessions).Put(scoped("acme", "broken"), []byte("{"))
	})
	if err != nil {
		t.Fatal(err)
	}
	// More sessions, one transaction each as the old code wrote them, so
	// that pages holding raw ids are freed and rewritten many times.
	var fillers []string
	for i := range 200 {
		id := fmt.Sprintf("mcp-session-FILLER%06dPROBE", i)
		fillers = append(fillers, id)
		s := Session{ID: id, TenantID: "beta", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
		if err := old.db.Update(func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bucketSessions), scoped("beta", id), s) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	v := openT(t, cfg)
	if n, err := v.SchemaVersion(ctx); err != nil || n != len(defaultMigrations()) {
		t.Fatalf("schema version = %d, %v, want %d", n, err, len(defaultMigrations()))
	}
	for _, o := range olds {
		got, err := v.GetSession(ctx, "acme", o.s.ID)
		if err != nil || got.ID != o.s.ID || got.UserID != o.s.UserID || got.Protocol != o.s.Protocol || !got.LastSeen.Equal(o.s.LastSeen) {
			t.Fatalf("migrated session %s…: %+v, %v", o.s.ID[:20], got, err)
		}
		if o.value == "" {
			continue
		}
		val, err := v.GetSessionValue(ctx, "acme", o.s.ID, "k")
		if err != nil || string(val) != o.value {
			t.Fatalf("migrated value: %q, %v", val, err)
		}
	}
	for _, id := range fillers {
		if _, err := v.GetSession(ctx, "beta", id); err != nil {
			t.Fatalf("migrated filler: %v", err)
		}
	}
	if c, i := ownerCount(t, v, "acme", ""); c != 2 || i != 2 {
		t.Fatalf("migrated guest count %d, index %d; want 2, 2", c, i)
	}
	if c, i := ownerCount(t, v, "acme", alice); c != 1 || i != 1 {
		t.Fatalf("migrated user count %d, index %d; want 1, 1", c, i)
	}
	// The oldest-idle migrated guest session goes first.
	ev, err := v.CreateSessionLimited(ctx, Session{ID: "new-guest", TenantID: "acme"}, 2, nil)
	if err != nil || len(ev) != 1 || ev[0] != SessionHash(olds[0].s.ID) {
		t.Fatalf("eviction after migration: %v, %v", ev, err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	// Not in live records, nor in the pages bbolt freed (the file was
	// compacted after the migration).
	for _, o := range olds {
		if bytes.Contains(raw, []byte(o.s.ID[len("mcp-session-"):])) {
			t.Errorf("session id %s… still in the migrated file", o.s.ID[:20])
		}
	}
	found := 0
	for _, id := range fillers {
		if bytes.Contains(raw, []byte(id[len("mcp-session-"):])) {
			found++
		}
	}
	if found > 0 {
		t.Errorf("%d of %d old session ids still in the migrated file", found, len(fillers))
	}
	if _, err := os.Stat(cfg.Path + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("compaction left its temp file: %v", err)
	}
	if _, err := openWith(ctx, cfg, v2); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("schema-2 binary on a schema-3 file: %v, want ErrSchemaTooNew", err)
	}
}

// FuzzSessionIDs: any presented session id (an Mcp-Session-Id header is
// outside input) is refused or looked up without a panic, and errors
// never repeat it.
func FuzzSessionIDs(f *testing.F) {
	for _, s := range []string{"", "mcp-session-ABC", "a\x00b", "bad|id", strings.Repeat("s", 300), "\xff\xfe", "sid-1"} {
		f.Add(s)
	}
	v, _ := newTestVault(f)
	mustTenant(f, v, "acme")
	if err := v.CreateSession(f.Context(), Session{ID: "sid-1", TenantID: "acme"}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id string) {
		ctx := t.Context()
		_, err := v.GetSession(ctx, "acme", id)
		if id == "sid-1" {
			if err != nil {
				t.Fatalf("stored session: %v", err)
			}
			return
		}
		errs := []error{err, v.SetSessionValue(ctx, "acme", id, "k", []byte("v")), v.DeleteSession(ctx, "acme", id)}
		_, err = v.GetSessionValue(ctx, "acme", id, "k")
		errs = append(errs, err)
		for _, err := range errs {
			if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("id %q: %v, want not found or invalid", id, err)
			}
			if len(id) >= 12 && strings.Contains(err.Error(), id) {
				t.Fatalf("error repeats the session id: %v", err)
			}
		}
	})
}
