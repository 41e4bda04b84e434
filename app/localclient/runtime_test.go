package localclient

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var parseCases = []struct {
	name    string
	in      string
	wantErr string // substring; "" means valid
}{
	{"valid", `{"pid":42,"addr":"127.0.0.1:8765","token":"t","started_at":"2026-01-02T03:04:05Z","version":"1"}`, ""},
	{"ipv6", `{"pid":1,"addr":"[::1]:80","token":"t"}`, ""},
	{"not json", `pid=42`, "malformed"},
	{"empty", ``, "malformed"},
	{"array", `[]`, "malformed"},
	{"zero pid", `{"pid":0,"addr":"127.0.0.1:1","token":"t"}`, "pid 0"},
	{"negative pid", `{"pid":-3,"addr":"127.0.0.1:1","token":"t"}`, "pid -3"},
	{"no port", `{"pid":1,"addr":"127.0.0.1","token":"t"}`, "not host:port"},
	{"bad port", `{"pid":1,"addr":"127.0.0.1:99999","token":"t"}`, "valid port"},
	{"no host", `{"pid":1,"addr":":80","token":"t"}`, "no host"},
	{"no token", `{"pid":1,"addr":"127.0.0.1:1"}`, "token is empty"},
	{"wrong type", `{"pid":"1","addr":"127.0.0.1:1","token":"t"}`, "malformed"},
	{"bad time", `{"pid":1,"addr":"127.0.0.1:1","token":"t","started_at":"yesterday"}`, "malformed"},
}

func TestParseRuntime(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseRuntime([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("parseRuntime: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("parseRuntime error = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func FuzzParseRuntime(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseRuntime(data)
		if err != nil {
			return
		}
		// Whatever parses must survive a write/parse round trip unchanged.
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("marshal parsed runtime: %v", err)
		}
		r2, err := parseRuntime(out)
		if err != nil {
			t.Fatalf("reparse %s: %v", out, err)
		}
		if r2.PID != r.PID || r2.Addr != r.Addr || r2.Token != r.Token || !r2.StartedAt.Equal(r.StartedAt) || r2.Version != r.Version {
			t.Fatalf("round trip changed %+v into %+v", r, r2)
		}
	})
}

func TestWriteReadRuntime(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // WriteRuntime creates it
	want := Runtime{PID: 1234, Addr: "127.0.0.1:8765", Token: "secret", StartedAt: time.Now().UTC().Truncate(time.Second), Version: "0.1.0"}
	if err := WriteRuntime(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRuntime(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("ReadRuntime = %+v, want %+v", got, want)
	}
	if got.BaseURL() != "http://127.0.0.1:8765" {
		t.Fatalf("BaseURL = %q", got.BaseURL())
	}
	fi, err := os.Stat(RuntimePath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("runtime file mode = %#o, want 0600", fi.Mode().Perm())
	}
	// Overwrite: the new content replaces the old, no temp files are left.
	want.PID = 99
	if err := WriteRuntime(dir, want); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data dir holds %d entries after two writes, want 1", len(entries))
	}
	if got, _ := ReadRuntime(dir); got.PID != 99 {
		t.Fatalf("after overwrite pid = %d, want 99", got.PID)
	}
	if err := WriteRuntime(dir, Runtime{PID: 1, Addr: "nonsense"}); err == nil {
		t.Fatal("WriteRuntime accepted an invalid runtime")
	}
}

func TestReadRuntimeErrors(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		_, err := ReadRuntime(t.TempDir())
		if !errors.Is(err, ErrNoDaemon) {
			t.Fatalf("err = %v, want ErrNoDaemon", err)
		}
	})
	t.Run("malformed names the file", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(RuntimePath(dir), []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ReadRuntime(dir)
		if err == nil || errors.Is(err, ErrNoDaemon) || !strings.Contains(err.Error(), RuntimePath(dir)) {
			t.Fatalf("err = %v, want a malformed-file error naming %s", err, RuntimePath(dir))
		}
	})
	t.Run("readable by others", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("mode bits do not apply on windows")
		}
		dir := t.TempDir()
		data := `{"pid":1,"addr":"127.0.0.1:1","token":"secret-token"}`
		if err := os.WriteFile(RuntimePath(dir), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(RuntimePath(dir), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadRuntime(dir)
		if !errors.Is(err, ErrInsecureRuntime) {
			t.Fatalf("err = %v, want ErrInsecureRuntime", err)
		}
		if strings.Contains(err.Error(), "secret-token") {
			t.Fatal("error leaks the token")
		}
	})
}

func TestRemoveRuntime(t *testing.T) {
	dir := t.TempDir()
	if err := RemoveRuntime(dir, 1); err != nil {
		t.Fatalf("RemoveRuntime on a missing file: %v", err)
	}
	if err := WriteRuntime(dir, Runtime{PID: 7, Addr: "127.0.0.1:1", Token: "t"}); err != nil {
		t.Fatal(err)
	}
	if err := RemoveRuntime(dir, 8); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRuntime(dir); err != nil {
		t.Fatalf("another pid's RemoveRuntime removed the file: %v", err)
	}
	if err := RemoveRuntime(dir, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRuntime(dir); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("after RemoveRuntime: %v, want ErrNoDaemon", err)
	}
}

func TestDataDir(t *testing.T) {
	got, err := DataDir(func(k string) string {
		if k == "PLEXUS_DATA_DIR" {
			return "/x/y"
		}
		return ""
	})
	if err != nil || got != "/x/y" {
		t.Fatalf("DataDir with PLEXUS_DATA_DIR = %q, %v", got, err)
	}
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	t.Setenv("HOME", "/home/u")
	t.Setenv("AppData", `C:\cfg`)
	got, err = DataDir(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(got) != "plexus" {
		t.Fatalf("DataDir default = %q, want .../plexus", got)
	}
}
