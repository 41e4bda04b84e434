package clientconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var (
	plexus = Server{Command: "/opt/plexus/bin/plexus", Args: []string{"stdio", "--tenant", "personal"}}
	now    = time.Date(2026, 12, 4, 13, 21, 0, 0, time.UTC)
)

func TestClaudeDesktopPath(t *testing.T) {
	tests := []struct {
		goos string
		env  map[string]string
		want string
	}{
		{"darwin", map[string]string{"HOME": "/Users/ann"}, "/Users/ann/Library/Application Support/Claude/claude_desktop_config.json"},
		{"windows", map[string]string{"APPDATA": `C:\Users\ann\AppData\Roaming`}, `C:\Users\ann\AppData\Roaming\Claude\claude_desktop_config.json`},
		{"linux", map[string]string{"HOME": "/home/ann"}, "/home/ann/.config/Claude/claude_desktop_config.json"},
		{"linux", map[string]string{"HOME": "/home/ann", "XDG_CONFIG_HOME": "/home/ann/cfg"}, "/home/ann/cfg/Claude/claude_desktop_config.json"},
		{"linux", map[string]string{"HOME": "/home/ann", "XDG_CONFIG_HOME": "relative"}, "/home/ann/.config/Claude/claude_desktop_config.json"},
		{"freebsd", map[string]string{"HOME": "/home/ann"}, "/home/ann/.config/Claude/claude_desktop_config.json"},
		{"windows", map[string]string{}, ""},
		{"darwin", map[string]string{}, ""},
		{"linux", map[string]string{}, ""},
	}
	for _, tc := range tests {
		got, err := ClaudeDesktopPath(tc.goos, func(k string) string { return tc.env[k] })
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("%s %v: %q %v, want %q", tc.goos, tc.env, got, err, tc.want)
		}
	}
	// On this system it is os.UserConfigDir's Claude folder.
	if dir, err := os.UserConfigDir(); err == nil {
		got, err := ClaudeDesktopPath(runtime.GOOS, os.Getenv)
		if err != nil || got != ClaudeDesktopConfig(dir) {
			t.Errorf("here: %q %v, want %q", got, err, ClaudeDesktopConfig(dir))
		}
	}
}

// parseCases are settings files and what Inspect and Connect make of
// them. want is the file after Connect ("" = refused, or unchanged when
// state is Connected).
var parseCases = []struct {
	name   string
	in     string
	state  State
	refuse string // part of the *ParseError's reason
	want   string
}{
	{name: "empty file", in: "", want: `{
  "mcpServers": {
    "plexus": {
      "command": "/opt/plexus/bin/plexus",
      "args": [
        "stdio",
        "--tenant",
        "personal"
      ]
    }
  }
}
`},
	{name: "blank", in: " \n\t", want: "{\n  \"mcpServers\": {\n    \"plexus\": {\n      \"command\": \"/opt/plexus/bin/plexus\",\n      \"args\": [\n        \"stdio\",\n        \"--tenant\",\n        \"personal\"\n      ]\n    }\n  }\n}\n"},
	{name: "empty object", in: "{}", want: "{\n  \"mcpServers\": {\n    \"plexus\": {\n      \"command\": \"/opt/plexus/bin/plexus\",\n      \"args\": [\n        \"stdio\",\n        \"--tenant\",\n        \"personal\"\n      ]\n    }\n  }\n}\n"},
	{name: "other keys and servers kept, in order", in: `{"globalShortcut":"Ctrl+Space","mcpServers":{"fs":{"command":"npx","args":["-y","@mcp/fs","/tmp"],"env":{"TOKEN":"x<y>&z"}}},"zeta":[1,2.50,{"a":null}],"unicode":"é\u00e9"}`,
		want: `{
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "fs": {
      "command": "npx",
      "args": [
        "-y",
        "@mcp/fs",
        "/tmp"
      ],
      "env": {
        "TOKEN": "x<y>&z"
      }
    },
    "plexus": {
      "command": "/opt/plexus/bin/plexus",
      "args": [
        "stdio",
        "--tenant",
        "personal"
      ]
    }
  },
  "zeta": [
    1,
    2.50,
    {
      "a": null
    }
  ],
  "unicode": "é\u00e9"
}
`},
	{name: "entry that differs is updated, its other fields kept", in: `{"mcpServers":{"plexus":{"env":{"A":"1"},"command":"/old/plexus","args":["stdio"]},"b":{"command":"b"}}}`,
		state: Differs, want: `{
  "mcpServers": {
    "plexus": {
      "env": {
        "A": "1"
      },
      "command": "/opt/plexus/bin/plexus",
      "args": [
        "stdio",
        "--tenant",
        "personal"
      ]
    },
    "b": {
      "command": "b"
    }
  }
}
`},
	{name: "entry that is not an object is replaced", in: `{"mcpServers":{"plexus":"nonsense"}}`, state: Differs,
		want: "{\n  \"mcpServers\": {\n    \"plexus\": {\n      \"command\": \"/opt/plexus/bin/plexus\",\n      \"args\": [\n        \"stdio\",\n        \"--tenant\",\n        \"personal\"\n      ]\n    }\n  }\n}\n"},
	{name: "connected", in: `{"mcpServers":{"plexus":{"command":"/opt/plexus/bin/plexus","args":["stdio","--tenant","personal"]}}}`, state: Connected},
	{name: "connected under another name", in: `{"mcpServers":{"mine":{"command":"/opt/plexus/bin/plexus","args":["stdio","--tenant","personal"]}}}`, state: Connected},
	{name: "byte order mark", in: "\xef\xbb\xbf{\"a\":1}", want: "{\n  \"a\": 1,\n  \"mcpServers\": {\n    \"plexus\": {\n      \"command\": \"/opt/plexus/bin/plexus\",\n      \"args\": [\n        \"stdio\",\n        \"--tenant\",\n        \"personal\"\n      ]\n    }\n  }\n}\n"},
	{name: "line comment", in: "{\n  // my servers\n  \"mcpServers\": {}\n}", refuse: "comments"},
	{name: "block comment", in: `{"mcpServers": {} /* later */}`, refuse: "comments"},
	{name: "slashes in a string are no comment", in: `{"url":"http://x//y/*z*/"}`,
		want: "{\n  \"url\": \"http://x//y/*z*/\",\n  \"mcpServers\": {\n    \"plexus\": {\n      \"command\": \"/opt/plexus/bin/plexus\",\n      \"args\": [\n        \"stdio\",\n        \"--tenant\",\n        \"personal\"\n      ]\n    }\n  }\n}\n"},
	{name: "trailing comma", in: "{\n  \"mcpServers\": {},\n}", refuse: "not valid JSON"},
	{name: "truncated", in: `{"mcpServers": {"a": {"command": "x"`, refuse: "not valid JSON"},
	{name: "top-level array", in: `[{"mcpServers":{}}]`, refuse: "top level is not a JSON object"},
	{name: "top-level string", in: `"hello"`, refuse: "top level is not a JSON object"},
	{name: "mcpServers is an array", in: `{"mcpServers":[]}`, refuse: `"mcpServers" is not an object`},
	{name: "mcpServers is null", in: `{"mcpServers":null}`, refuse: `"mcpServers" is not an object`},
	{name: "duplicate top-level key", in: `{"a":1,"a":2}`, refuse: `"a" appears twice`},
	{name: "duplicate server", in: `{"mcpServers":{"x":{},"x":{}}}`, refuse: `"x" appears twice`},
	{name: "two values", in: `{} {}`, refuse: "not valid JSON"},
}

func TestConnectTable(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			if err := os.WriteFile(path, []byte(tc.in), 0o640); err != nil {
				t.Fatal(err)
			}
			st, err := Inspect(path, "plexus", plexus)
			if tc.refuse != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || !strings.Contains(pe.Error(), tc.refuse) || pe.Path != path {
					t.Fatalf("Inspect: %v, want a ParseError about %q", err, tc.refuse)
				}
				if _, err := Connect(path, "plexus", plexus, now); !errors.As(err, &pe) {
					t.Fatalf("Connect: %v, want a ParseError", err)
				}
				if b, _ := os.ReadFile(path); string(b) != tc.in {
					t.Fatal("a refused file was changed")
				}
				if m, _ := filepath.Glob(path + ".plexus-backup-*"); len(m) != 0 {
					t.Fatalf("backups of a refused file: %v", m)
				}
				return
			}
			if err != nil || st.State != tc.state || !st.FileExists {
				t.Fatalf("Inspect: %+v %v, want %s", st, err, tc.state)
			}
			res, err := Connect(path, "plexus", plexus, now)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if tc.state == Connected {
				if res.Changed || string(got) != tc.in || res.Backup != "" {
					t.Fatalf("a connected file was rewritten: %+v\n%s", res, got)
				}
				return
			}
			if string(got) != tc.want {
				t.Fatalf("file after Connect:\n%s\nwant:\n%s", got, tc.want)
			}
			if !res.Changed || res.Created || res.Backup == "" {
				t.Fatalf("result %+v", res)
			}
			if b, _ := os.ReadFile(res.Backup); string(b) != tc.in {
				t.Fatalf("backup holds %q", b)
			}
			for _, p := range []string{path, res.Backup} {
				if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
					t.Errorf("%s has mode %v, want the old file's 0640", p, fi.Mode().Perm())
				}
			}
			if st, _ := Inspect(path, "plexus", plexus); st.State != Connected {
				t.Fatalf("after Connect: %+v", st)
			}
			if res2, err := Connect(path, "plexus", plexus, now); err != nil || res2.Changed {
				t.Fatalf("second Connect: %+v %v", res2, err)
			}
			if tmp, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp-*")); len(tmp) != 0 {
				t.Fatalf("temp files left: %v", tmp)
			}
		})
	}
}

// TestConnectCreates: no file, no folder (Claude Desktop never opened
// its settings): both are made; nothing to back up.
func TestConnectCreates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Claude", FileName)
	if st, err := Inspect(path, "plexus", plexus); err != nil || st.State != NotConnected || st.FileExists {
		t.Fatalf("Inspect of nothing: %+v %v", st, err)
	}
	res, err := Connect(path, "plexus", plexus, now)
	if err != nil || !res.Created || res.Backup != "" || !res.Changed {
		t.Fatalf("%+v %v", res, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new file: %v %v", fi, err)
	}
}

// TestConnectSymlink: a settings file that is a link (dotfiles) is
// changed where it points; the link stays a link.
func TestConnectSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "dotfiles", "claude.json")
	if err := os.MkdirAll(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte(`{"a":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, FileName)
	if err := os.Symlink(real, link); err != nil {
		t.Skip("no symlinks here:", err)
	}
	res, err := Connect(link, "plexus", plexus, now)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatal("the link was replaced by a file")
	}
	if b, _ := os.ReadFile(real); !bytes.Contains(b, []byte(`"plexus"`)) {
		t.Fatalf("the linked file: %s", b)
	}
	if filepath.Dir(res.Backup) != filepath.Dir(real) {
		t.Fatalf("backup %s not beside the file", res.Backup)
	}
}

// TestConnectChanged: Claude Desktop saves the file while Plexus writes
// it: Plexus does not overwrite that save.
func TestConnectChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte(`{"a":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := connect(path, "plexus", plexus, now, func() {
		_ = os.WriteFile(path, []byte(`{"a":2}`), 0o600)
	})
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("%v, want ErrChanged", err)
	}
	if b, _ := os.ReadFile(path); string(b) != `{"a":2}` {
		t.Fatalf("the concurrent save was lost: %s", b)
	}
	if tmp, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp-*")); len(tmp) != 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
}

// TestConnectRefusesOddFiles: too large, not a regular file.
func TestConnectRefusesOddFiles(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, append([]byte(`{"a":"`), append(bytes.Repeat([]byte("x"), MaxFileBytes), '"', '}')...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Connect(big, "plexus", plexus, now); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("large: %v", err)
	}
	if _, err := Connect(dir, "plexus", plexus, now); err == nil {
		t.Fatal("a directory was accepted")
	}
}

// TestBackupsDoNotCollide: two connects in the same second keep both
// backups.
func TestBackupsDoNotCollide(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	for i, in := range []string{`{"a":1}`, `{"a":2}`} {
		if err := os.WriteFile(path, []byte(in), 0o600); err != nil {
			t.Fatal(err)
		}
		res, err := Connect(path, "plexus", Server{Command: "/x", Args: []string{strings.Repeat("y", i+1)}}, now)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(res.Backup); string(b) != in {
			t.Fatalf("backup %d holds %s", i, b)
		}
	}
	if m, _ := filepath.Glob(path + ".plexus-backup-*"); len(m) != 2 {
		t.Fatalf("backups: %v", m)
	}
}

// FuzzParse: whatever the file holds, parsing never panics; when it
// parses, adding the entry gives valid JSON that parses again, keeps every
// other top-level key (same value) and every other server, and says
// Connected.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(`{"mcpServers":{"plexus":{"command":1}}}`))
	f.Add([]byte(`{"\u0000":{"mcpServers":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := parse(data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("not a ParseError: %v", err)
			}
			return
		}
		before := map[string]string{}
		for _, m := range doc.members {
			before[m.key] = compact(t, m.raw)
		}
		servers := map[string]string{}
		for _, m := range doc.servers() {
			servers[m.key] = compact(t, m.raw)
		}
		if err := doc.setServer("plexus", plexus); err != nil {
			t.Fatal(err)
		}
		out, err := doc.encode()
		if err != nil || !json.Valid(out) {
			t.Fatalf("encode: %v\n%s", err, out)
		}
		again, err := parse(out)
		if err != nil {
			t.Fatalf("the written file does not parse: %v\n%s", err, out)
		}
		for _, m := range again.members {
			if m.key != "mcpServers" && before[m.key] != compact(t, m.raw) {
				t.Fatalf("key %q changed", m.key)
			}
			delete(before, m.key)
		}
		delete(before, "mcpServers")
		if len(before) != 0 {
			t.Fatalf("keys lost: %v", before)
		}
		for _, m := range again.servers() {
			if m.key != "plexus" && servers[m.key] != compact(t, m.raw) {
				t.Fatalf("server %q changed", m.key)
			}
		}
		if st := again.status("plexus", plexus); st.State != Connected {
			t.Fatalf("after setServer: %+v", st)
		}
	})
}

func compact(t *testing.T, raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
