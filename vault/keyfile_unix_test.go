//go:build !windows

package vault

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestKeyFileRefusals: the key file is opened once without following a
// symbolic link and checked on that handle; a symlink, a FIFO (which must
// not hang the open), a directory or an oversized file is refused.
func TestKeyFileRefusals(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.key")
	if err := os.WriteFile(good, []byte(b64(32, base64.StdEncoding)), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.key")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.key")
	if err := os.WriteFile(big, []byte(strings.Repeat("A", maxKeyFileBytes+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{link, "symbolic link"},
		{fifo, "not a regular file"}, // and does not hang on open
		{dir, "not a regular file"},
		{big, "larger than"},
	} {
		cfg := testConfig(t)
		cfg.Keyring.(*memKeyring).setErr(errNoDBus)
		cfg.KeyFile = tc.path
		_, err := openWith(t.Context(), cfg, testOptions())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("key file %s: %v, want an error saying %q", filepath.Base(tc.path), err, tc.want)
		}
	}
	if k, err := readKeyFile(good); err != nil || len(k) != masterKeyLen {
		t.Fatalf("good key file: %v", err)
	}
}
