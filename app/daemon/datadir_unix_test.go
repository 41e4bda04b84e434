//go:build !windows

package daemon

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckDataDir: a data directory open to other users is tightened to
// 0700 when it holds only Plexus files, else refused with a message.
func TestCheckDataDir(t *testing.T) {
	tests := []struct {
		name     string
		mode     os.FileMode
		files    []string
		wantMode os.FileMode
		wantErr  string // "" = no error
		wantWarn bool
	}{
		{name: "private", mode: 0o700, files: []string{"plexus.db"}, wantMode: 0o700},
		{name: "new and empty, loose", mode: 0o755, wantMode: 0o700, wantWarn: true},
		{name: "plexus files, loose", mode: 0o775, files: []string{"plexus.db", "plexus.key", "plexus.log", "plexus.runtime.json"}, wantMode: 0o700, wantWarn: true},
		{name: "group only", mode: 0o710, files: []string{"plexus.db"}, wantMode: 0o700, wantWarn: true},
		{name: "foreign files, loose", mode: 0o755, files: []string{"plexus.db", ".bashrc"}, wantMode: 0o755, wantErr: "chmod 700"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chmod(dir, tc.mode); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			err := checkDataDir(dir, slog.New(slog.NewTextHandler(&logs, nil)))
			if tc.wantErr == "" && err != nil {
				t.Fatalf("checkDataDir: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), dir)) {
				t.Fatalf("checkDataDir: %v, want an error naming %s and saying %q", err, dir, tc.wantErr)
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tc.wantMode {
				t.Errorf("mode after = %#o, want %#o", fi.Mode().Perm(), tc.wantMode)
			}
			if got := strings.Contains(logs.String(), "level=WARN"); got != tc.wantWarn {
				t.Errorf("warned = %v, want %v: %s", got, tc.wantWarn, logs.String())
			}
		})
	}

	t.Run("someone else's, loose", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give the directory away")
		}
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 54321, 54321); err != nil {
			t.Fatal(err)
		}
		err := checkDataDir(dir, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), "belongs to someone else") {
			t.Fatalf("checkDataDir: %v, want a refusal", err)
		}
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
			t.Errorf("mode changed to %#o", fi.Mode().Perm())
		}
	})
	t.Run("not a directory", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := checkDataDir(f, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("checkDataDir(file): %v", err)
		}
	})
}
