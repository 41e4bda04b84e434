package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// checkDataDir makes sure the data directory is private before the vault,
// the key file and the runtime file go into it. On unix a directory that
// group or others can enter is tightened to 0700 (with one warning) when it
// belongs to this user and holds nothing but Plexus's own files; otherwise
// Run refuses it with a message saying what to do. (Windows: ACLs, not
// checked here.)
func checkDataDir(dir string, log *slog.Logger) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	if !ownedByMe(fi) {
		return fmt.Errorf("data directory %s is open to other users (mode %#o) and belongs to someone else; "+
			"use a private directory of your own (--data DIR or PLEXUS_DATA_DIR)", dir, perm)
	}
	if other := foreignEntry(dir); other != "" {
		return fmt.Errorf("data directory %s is open to other users (mode %#o) and holds files that are not Plexus's (%s); "+
			"run `chmod 700 %s`, or choose a directory for Plexus alone (--data DIR or PLEXUS_DATA_DIR)", dir, perm, other, dir)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s is open to other users (mode %#o) and could not be tightened: %w; run `chmod 700 %s`",
			dir, perm, err, dir)
	}
	log.Warn("Data directory was open to other users; set its mode to 0700", "dataDir", dir, "oldMode", fmt.Sprintf("%#o", perm))
	return nil
}

// foreignEntry names an entry of dir that is not a Plexus file (plexus.db,
// plexus.key, plexus.log…), or returns "" when there is none. Directories
// with very many entries count as foreign.
func foreignEntry(dir string) string {
	f, err := os.Open(dir)
	if err != nil {
		return "(unreadable)"
	}
	defer f.Close()
	const max = 256
	names, err := f.Readdirnames(max + 1)
	if err != nil && len(names) == 0 {
		return ""
	}
	if len(names) > max {
		return fmt.Sprintf("more than %d entries", max)
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "plexus") {
			return n
		}
	}
	return ""
}

// absPath is p made absolute, or p when that fails.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
