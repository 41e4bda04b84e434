package vault

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

//lint:ignore ST1005 the exact text of the D-Bus error this stands for
var errNoDBus = errors.New("The name org.freedesktop.secrets was not provided by any .service files")

func b64(n int, enc *base64.Encoding) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return enc.EncodeToString(b)
}

var masterKeyCases = []struct {
	name string
	in   string
	ok   bool
}{
	{"std padded", b64(32, base64.StdEncoding), true},
	{"std raw", b64(32, base64.RawStdEncoding), true},
	{"url padded", b64(32, base64.URLEncoding), true},
	{"url raw", b64(32, base64.RawURLEncoding), true},
	{"surrounding space", "  " + b64(32, base64.StdEncoding) + "\n", true},
	{"empty", "", false},
	{"spaces", "   ", false},
	{"31 bytes", b64(31, base64.StdEncoding), false},
	{"33 bytes", b64(33, base64.StdEncoding), false},
	{"64 bytes", b64(64, base64.StdEncoding), false},
	{"not base64", "this is not base64 at all!!", false},
	{"hex", strings.Repeat("ab", 32), false},
}

func TestParseMasterKey(t *testing.T) {
	for _, tc := range masterKeyCases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := parseMasterKey(tc.in)
			if tc.ok {
				if err != nil || len(k) != 32 {
					t.Fatalf("parseMasterKey: %d bytes, %v", len(k), err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if s := strings.TrimSpace(tc.in); s != "" && strings.Contains(err.Error(), s) {
				t.Fatalf("error echoes the key material: %v", err)
			}
		})
	}
}

func FuzzParseMasterKey(f *testing.F) {
	for _, tc := range masterKeyCases {
		f.Add(tc.in)
	}
	var templates string
	for _, in := range []string{"", "!", b64(31, base64.StdEncoding)} {
		_, err := parseMasterKey(in)
		templates += err.Error() + "\n"
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := parseMasterKey(s)
		if err == nil && len(k) != masterKeyLen {
			t.Fatalf("accepted %d-byte key", len(k))
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error does not wrap ErrInvalid: %v", err)
		}
		// Errors are fixed templates (plus a byte count): they may contain
		// the input only where the input is itself template text.
		if in := strings.TrimSpace(s); err != nil && len(in) >= 8 && strings.Contains(err.Error(), in) &&
			!strings.Contains(templates, in) {
			t.Fatalf("error echoes input")
		}
	})
}

// countingKeyring counts every call that reaches the keyring.
type countingKeyring struct {
	Keyring
	calls atomic.Int32
}

func (k *countingKeyring) Get(s, u string) (string, error) {
	k.calls.Add(1)
	return k.Keyring.Get(s, u)
}
func (k *countingKeyring) Set(s, u, p string) error { k.calls.Add(1); return k.Keyring.Set(s, u, p) }
func (k *countingKeyring) Delete(s, u string) error { k.calls.Add(1); return k.Keyring.Delete(s, u) }

const longPassphrase = "correct horse battery"

// TestKeySourceSelection covers the order of sources for a new vault, that
// an explicit key never touches the keyring, and that a reopen with the
// same inputs finds the same key again.
func TestKeySourceSelection(t *testing.T) {
	envKey := b64(32, base64.StdEncoding)
	tests := []struct {
		name         string
		keyringErr   error
		env          env
		passphrase   string // typed at the "terminal"; "" = no terminal
		keyFile      bool
		want         KeySource
		wantErr      error
		keyringCalls bool // may the keyring be called?
	}{
		{name: "keyring works", want: KeySourceKeyring, keyringCalls: true},
		{name: "keyring works, terminal too", passphrase: longPassphrase, want: KeySourceKeyring, keyringCalls: true},
		{name: "env key wins, keyring untouched", env: env{envMasterKey: envKey}, want: KeySourceEnv},
		{name: "env passphrase wins, keyring untouched", env: env{envPassphrase: longPassphrase}, want: KeySourcePassphrase},
		{name: "explicit key file wins, keyring untouched", keyFile: true, want: KeySourceFile},
		{name: "explicit key file beats the terminal", keyFile: true, passphrase: longPassphrase, want: KeySourceFile},
		{name: "keyring unavailable, env key", keyringErr: errNoDBus, env: env{envMasterKey: envKey}, want: KeySourceEnv},
		{name: "bad env key", env: env{envMasterKey: "short"}, wantErr: ErrInvalid},
		{name: "short env passphrase", env: env{envPassphrase: "pw"}, wantErr: ErrInvalid},
		{name: "keyring unavailable, prompt", keyringErr: errNoDBus, passphrase: longPassphrase, want: KeySourcePassphrase, keyringCalls: true},
		{name: "env key before passphrase and file", keyringErr: errNoDBus, passphrase: longPassphrase, keyFile: true,
			env: env{envMasterKey: envKey}, want: KeySourceEnv},
		{name: "nothing: generated key file", keyringErr: errNoDBus, want: KeySourceFile, keyringCalls: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			kr := &countingKeyring{Keyring: cfg.Keyring}
			kr.Keyring.(*memKeyring).setErr(tc.keyringErr)
			cfg.Keyring = kr
			if tc.env != nil {
				cfg.Getenv = tc.env.get
			}
			if tc.passphrase != "" {
				p := tc.passphrase
				cfg.Passphrase = func(context.Context, int) (string, error) { return p, nil }
				cfg.NewPassphrase = func(context.Context) (string, error) { return p, nil }
			}
			if tc.keyFile {
				cfg.KeyFile = filepath.Join(t.TempDir(), "keys", "master.key")
			}
			v, err := openWith(t.Context(), cfg, testOptions())
			if !tc.keyringCalls && kr.calls.Load() != 0 {
				t.Errorf("the keyring was called %d times; an explicit key must not touch it", kr.calls.Load())
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Open: %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if v.KeySource() != tc.want {
				t.Fatalf("KeySource = %q, want %q", v.KeySource(), tc.want)
			}
			sealed, err := v.Seal("x", []byte("y"))
			if err != nil {
				t.Fatal(err)
			}
			_ = v.Close()
			v2 := openT(t, cfg) // same sources again: same key
			if v2.KeySource() != tc.want {
				t.Fatalf("reopen KeySource = %q, want %q", v2.KeySource(), tc.want)
			}
			if _, err := v2.Unseal("x", sealed); err != nil {
				t.Fatalf("reopen has another key: %v", err)
			}
			if tc.want == KeySourceFile {
				path := v2.KeyInfo().File
				if tc.keyFile && path != cfg.KeyFile {
					t.Errorf("KeyInfo().File = %q, want %q", path, cfg.KeyFile)
				}
				fi, err := os.Stat(path)
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("key file %q mode: %v, %v", path, fi, err)
				}
			}
		})
	}
}

// TestGeneratedKeyFile: a new vault with no keyring, no explicit key and no
// terminal keeps a generated key in <dir>/plexus.key, says so in one
// warning line without D-Bus jargon, and later opens find the file from
// meta (also after the directory moved).
func TestGeneratedKeyFile(t *testing.T) {
	cfg := testConfig(t)
	cfg.Keyring.(*memKeyring).setErr(errNoDBus)
	logs := &logBuffer{}
	cfg.Logger = logs.logger()
	v := openT(t, cfg)
	want := filepath.Join(filepath.Dir(cfg.Path), KeyFileName)
	if ki := v.KeyInfo(); ki.Source != KeySourceFile || ki.File != want || ki.Warning() == "" {
		t.Fatalf("KeyInfo = %+v (warning %q), want file %s with a warning", ki, ki.Warning(), want)
	}
	fi, err := os.Stat(want)
	if err != nil || fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	var warns []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") {
			warns = append(warns, l)
		}
	}
	if len(warns) != 1 {
		t.Fatalf("want exactly one warning line, got %d:\n%s", len(warns), logs.String())
	}
	for _, w := range []string{"OS keyring", "passphrase", "PLEXUS_PASSPHRASE", "PLEXUS_MASTER_KEY", want} {
		if !strings.Contains(warns[0], w) {
			t.Errorf("warning lacks %q: %s", w, warns[0])
		}
	}
	for _, jargon := range []string{"D-Bus", "dbus", "org.freedesktop", errNoDBus.Error()} {
		if strings.Contains(warns[0], jargon) {
			t.Errorf("warning carries jargon %q: %s", jargon, warns[0])
		}
	}
	sealed, err := v.Seal("x", []byte("y"))
	if err != nil {
		t.Fatal(err)
	}
	_ = v.Close()

	// Later starts: the keyring works now, a terminal is there, an env
	// key is set: the vault still opens with its recorded file.
	cfg.Keyring.(*memKeyring).setErr(nil)
	cfg.Passphrase = func(context.Context, int) (string, error) { t.Error("asked for a passphrase"); return "", nil }
	cfg.Getenv = env{envMasterKey: b64(32, base64.StdEncoding)}.get
	logs2 := &logBuffer{}
	cfg.Logger = logs2.logger()
	v2 := openT(t, cfg)
	if v2.KeySource() != KeySourceFile {
		t.Fatalf("reopen KeySource = %q", v2.KeySource())
	}
	if _, err := v2.Unseal("x", sealed); err != nil {
		t.Fatalf("reopen has another key: %v", err)
	}
	if strings.Contains(logs2.String(), "level=WARN") {
		t.Errorf("reopen warned again: %s", logs2.String())
	}
	_ = v2.Close()

	// The data directory moves: meta names the file relative to it.
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(filepath.Dir(cfg.Path), moved); err != nil {
		t.Fatal(err)
	}
	cfg.Path = filepath.Join(moved, filepath.Base(cfg.Path))
	v3 := openT(t, cfg)
	if got, wantFile := v3.KeyInfo().File, filepath.Join(moved, KeyFileName); got != wantFile {
		t.Errorf("after move KeyInfo().File = %q, want %q", got, wantFile)
	}
	if _, err := v3.Unseal("x", sealed); err != nil {
		t.Fatalf("after move: %v", err)
	}
	_ = v3.Close()

	// The key file is gone: ErrNoKey naming it, and no new key is made.
	if err := os.Remove(filepath.Join(moved, KeyFileName)); err != nil {
		t.Fatal(err)
	}
	_, err = openWith(t.Context(), cfg, testOptions())
	if !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), KeyFileName) {
		t.Fatalf("Open without its key file: %v, want ErrNoKey naming %s", err, KeyFileName)
	}
	if _, err := os.Stat(filepath.Join(moved, KeyFileName)); err == nil {
		t.Fatal("a new key file was created for an existing vault")
	}
}

// TestNoKeyMessage: when even the key file cannot be written, the error
// says every way to give a key.
func TestNoKeyMessage(t *testing.T) {
	cfg := testConfig(t)
	cfg.Keyring.(*memKeyring).setErr(errNoDBus)
	// A directory where the key file would go.
	if err := os.MkdirAll(filepath.Join(filepath.Dir(cfg.Path), KeyFileName), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := openWith(t.Context(), cfg, testOptions())
	if !errors.Is(err, ErrNoKey) {
		t.Fatalf("Open: %v, want ErrNoKey", err)
	}
	for _, want := range []string{"PLEXUS_MASTER_KEY=", "PLEXUS_PASSPHRASE", "terminal", "--key-file", "not a regular file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestNewPassphrasePrompt: a new passphrase comes from NewPassphrase,
// too short ones are asked again, an empty answer declines (key file).
func TestNewPassphrasePrompt(t *testing.T) {
	tests := []struct {
		name      string
		answers   []string
		want      KeySource
		wantErr   error
		wantAsked int
	}{
		{"long enough", []string{longPassphrase}, KeySourcePassphrase, nil, 1},
		{"too short, then long", []string{"short", longPassphrase}, KeySourcePassphrase, nil, 2},
		{"exactly the minimum", []string{strings.Repeat("é", MinPassphraseLen)}, KeySourcePassphrase, nil, 1},
		{"declined", []string{""}, KeySourceFile, nil, 1},
		{"three too short", []string{"a", "b", "c", longPassphrase}, "", ErrNoKey, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Keyring.(*memKeyring).setErr(errNoDBus)
			asked := 0
			cfg.NewPassphrase = func(context.Context) (string, error) { asked++; return tc.answers[asked-1], nil }
			cfg.Passphrase = func(context.Context, int) (string, error) {
				t.Error("Passphrase asked for a new vault")
				return "", nil
			}
			v, err := openWith(t.Context(), cfg, testOptions())
			if asked != tc.wantAsked {
				t.Errorf("asked %d times, want %d", asked, tc.wantAsked)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Open: %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			if v.KeySource() != tc.want {
				t.Fatalf("KeySource = %q, want %q", v.KeySource(), tc.want)
			}
		})
	}
}

func TestWrongKey(t *testing.T) {
	cfg := testConfig(t)
	cfg.Keyring.(*memKeyring).setErr(errNoDBus)
	cfg.Getenv = env{envMasterKey: b64(32, base64.StdEncoding)}.get
	v := openT(t, cfg)
	_ = v.Close()

	other := make([]byte, 32)
	other[0] = 1
	cfg.Getenv = env{envMasterKey: base64.StdEncoding.EncodeToString(other)}.get
	if _, err := openWith(t.Context(), cfg, testOptions()); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Open with another key: %v, want ErrWrongKey", err)
	}
	cfg.Getenv = env{}.get
	if _, err := openWith(t.Context(), cfg, testOptions()); !errors.Is(err, ErrNoKey) ||
		!strings.Contains(err.Error(), envMasterKey) {
		t.Fatalf("Open without the env key: %v, want ErrNoKey naming %s", err, envMasterKey)
	}
}

func TestPassphraseRetry(t *testing.T) {
	cfg := testConfig(t)
	cfg.Keyring.(*memKeyring).setErr(errNoDBus)
	cfg.Getenv = env{envPassphrase: "correct horse"}.get
	v := openT(t, cfg)
	if v.KeySource() != KeySourcePassphrase {
		t.Fatalf("KeySource = %q", v.KeySource())
	}
	_ = v.Close()

	tests := []struct {
		name      string
		env       env
		answers   []string
		askErr    error
		wantErr   error
		wantAsked int
	}{
		{name: "right first time", answers: []string{"correct horse"}, wantAsked: 1},
		{name: "wrong then right", answers: []string{"nope", "correct horse"}, wantAsked: 2},
		{name: "right on third", answers: []string{"a", "b", "correct horse"}, wantAsked: 3},
		{name: "three wrong", answers: []string{"a", "b", "c", "correct horse"}, wantErr: ErrWrongKey, wantAsked: 3},
		{name: "env passphrase", env: env{envPassphrase: "correct horse"}, wantAsked: 0},
		{name: "wrong env passphrase falls back to prompt", env: env{envPassphrase: "bad"},
			answers: []string{"correct horse"}, wantAsked: 1},
		{name: "prompt cancelled", askErr: context.Canceled, wantErr: context.Canceled, wantAsked: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.Getenv = tc.env.get
			asked := 0
			c.Passphrase = func(_ context.Context, attempt int) (string, error) {
				asked++
				if attempt != asked {
					t.Errorf("attempt = %d, want %d", attempt, asked)
				}
				if tc.askErr != nil {
					return "", tc.askErr
				}
				return tc.answers[attempt-1], nil
			}
			v, err := openWith(t.Context(), c, testOptions())
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Open: %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Open: %v", err)
			} else {
				_ = v.Close()
			}
			if asked != tc.wantAsked {
				t.Fatalf("asked %d times, want %d", asked, tc.wantAsked)
			}
		})
	}

	t.Run("wrong env passphrase, no prompt", func(t *testing.T) {
		c := cfg
		c.Getenv = env{envPassphrase: "bad"}.get
		if _, err := openWith(t.Context(), c, testOptions()); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("Open: %v, want ErrWrongKey", err)
		}
	})
	t.Run("no passphrase source", func(t *testing.T) {
		c := cfg
		c.Getenv = env{}.get
		if _, err := openWith(t.Context(), c, testOptions()); !errors.Is(err, ErrNoKey) {
			t.Fatalf("Open: %v, want ErrNoKey", err)
		}
	})
	t.Run("delay honours ctx", func(t *testing.T) {
		c := cfg
		c.Getenv = env{}.get
		ctx, cancel := context.WithCancel(t.Context())
		c.Passphrase = func(context.Context, int) (string, error) { cancel(); return "wrong", nil }
		o := testOptions()
		o.retryDelay = defaultOptions().retryDelay * 60
		if _, err := openWith(ctx, c, o); !errors.Is(err, context.Canceled) {
			t.Fatalf("Open: %v, want context.Canceled", err)
		}
	})
}

// TestKeyringItemMissing: the vault says the key is in the keyring, the
// item is gone: Open must fail and must not create a new key.
func TestKeyringItemMissing(t *testing.T) {
	cfg := testConfig(t)
	kr := cfg.Keyring.(*memKeyring)
	v := openT(t, cfg)
	_ = v.Close()
	if err := kr.Delete(keyringService, defaultKeyringAccount); err != nil {
		t.Fatal(err)
	}
	_, err := openWith(t.Context(), cfg, testOptions())
	if !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("Open: %v, want ErrNoKey saying the item is missing", err)
	}
	if len(kr.items) != 0 {
		t.Fatalf("a new key was created in the keyring")
	}

	kr.setErr(errNoDBus)
	cfg.Getenv = env{envMasterKey: b64(32, base64.StdEncoding)}.get
	_, err = openWith(t.Context(), cfg, testOptions())
	if !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "unavailable") {
		t.Fatalf("Open with keyring down: %v, want ErrNoKey saying the keyring is unavailable", err)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	t.Run("refuses wide mode", func(t *testing.T) {
		p := filepath.Join(dir, "wide.key")
		if err := os.WriteFile(p, []byte(b64(32, base64.StdEncoding)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig(t)
		cfg.Keyring.(*memKeyring).setErr(errNoDBus)
		cfg.KeyFile = p
		_, err := openWith(t.Context(), cfg, testOptions())
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("Open: %v, want refusal naming chmod 600", err)
		}
	})
	t.Run("explicit key file recorded", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Keyring.(*memKeyring).setErr(errNoDBus)
		cfg.KeyFile = filepath.Join(dir, "recorded.key")
		v := openT(t, cfg)
		_ = v.Close()
		cfg.KeyFile = ""
		v = openT(t, cfg)
		if v.KeyInfo().File != filepath.Join(dir, "recorded.key") {
			t.Fatalf("KeyInfo = %+v", v.KeyInfo())
		}
	})
	t.Run("missing file of existing vault", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Keyring.(*memKeyring).setErr(errNoDBus)
		cfg.KeyFile = filepath.Join(dir, "gone.key")
		v := openT(t, cfg)
		_ = v.Close()
		if err := os.Remove(cfg.KeyFile); err != nil {
			t.Fatal(err)
		}
		if _, err := openWith(t.Context(), cfg, testOptions()); !errors.Is(err, ErrNoKey) {
			t.Fatalf("Open: %v, want ErrNoKey", err)
		}
		if _, err := os.Stat(cfg.KeyFile); err == nil {
			t.Fatal("a new key file was created for an existing vault")
		}
	})
}

func TestSystemKeyringTimeout(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	kr := SystemKeyring{Timeout: 20 * time.Millisecond, getenv: env{"DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}.get}
	err := kr.call("get", func() error { <-block; return nil })
	if err == nil || keyringNotFound(err) || !strings.Contains(err.Error(), "no answer") {
		t.Fatalf("call: %v, want a timeout (keyring unavailable)", err)
	}
}

func TestDefaultKDF(t *testing.T) {
	p := defaultKDF()
	p.Salt = make([]byte, 16)
	if !p.valid() {
		t.Fatalf("default Argon2id parameters rejected by valid(): %+v", p)
	}
	if p.MemoryKiB < 64*1024 || p.Time < 3 {
		t.Fatalf("default Argon2id cost too low: %+v", p)
	}
}
