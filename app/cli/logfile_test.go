package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestLogFileRotates: the daemon's --log-file keeps at most logMaxMB per
// file and logBackups old files, all private to the user.
func TestLogFileRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plexus.log")
	w := openLogFile(path)
	line := bytes.Repeat([]byte("x"), 1023)
	line = append(line, '\n')
	for range (logMaxMB*(logBackups+2) + 1) << 10 { // enough for every backup slot and more
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Old files beyond logBackups are removed in the background.
	var entries []os.DirEntry
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		if entries, err = os.ReadDir(dir); err != nil {
			t.Fatal(err)
		}
		if len(entries) <= logBackups+1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var backups int
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if fi.Size() > logMaxMB<<20 {
			t.Errorf("%s is %d bytes, over %d MB", e.Name(), fi.Size(), logMaxMB)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
		if e.Name() != "plexus.log" {
			if !strings.HasPrefix(e.Name(), "plexus-") || !strings.HasSuffix(e.Name(), ".log") {
				t.Errorf("unexpected file %s", e.Name())
			}
			backups++
		}
	}
	if backups < 1 || backups > logBackups {
		t.Errorf("%d old log files, want 1..%d", backups, logBackups)
	}
}
