package vault

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// memKeyring is an in-memory Keyring; err makes every call fail.
type memKeyring struct {
	mu    sync.Mutex
	items map[string]string
	err   error
	sets  int
}

func newMemKeyring() *memKeyring { return &memKeyring{items: map[string]string{}} }

func (k *memKeyring) Get(service, user string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return "", k.err
	}
	s, ok := k.items[service+"/"+user]
	if !ok {
		return "", fmt.Errorf("item %s/%s: %w", service, user, ErrNotFound)
	}
	return s, nil
}

func (k *memKeyring) Set(service, user, password string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return k.err
	}
	k.sets++
	k.items[service+"/"+user] = password
	return nil
}

func (k *memKeyring) Delete(service, user string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return k.err
	}
	delete(k.items, service+"/"+user)
	return nil
}

func (k *memKeyring) setErr(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.err = err
}

// env is a fake environment for Config.Getenv.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// testOptions are defaultOptions with cheap Argon2id and no retry delay.
func testOptions() options {
	o := defaultOptions()
	o.retryDelay = 0
	o.kdf = kdfParams{Alg: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1}
	return o
}

// testConfig is a Config with a temp path, an in-memory keyring, an empty
// environment and a short lock timeout.
func testConfig(t testing.TB) Config {
	t.Helper()
	return Config{
		Path:        filepath.Join(t.TempDir(), "data", "plexus.db"),
		LockTimeout: 50 * time.Millisecond,
		Keyring:     newMemKeyring(),
		Getenv:      env{}.get,
	}
}

// openT opens a vault with test options and closes it in t.Cleanup.
func openT(t testing.TB, cfg Config) *Vault {
	t.Helper()
	v, err := openWith(context.Background(), cfg, testOptions())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// newTestVault opens a fresh vault with a settable clock.
func newTestVault(t testing.TB) (*Vault, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg := testConfig(t)
	cfg.Now = clk.Now
	return openT(t, cfg), clk
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer is a slog logger writing text to a buffer.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func mustTenant(t testing.TB, v *Vault, id string) {
	t.Helper()
	if _, err := v.CreateTenant(context.Background(), Tenant{ID: id, Name: "Tenant " + id}); err != nil {
		t.Fatalf("create tenant %s: %v", id, err)
	}
}
