package upstream

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestLogBounded: a Log keeps its last lines only, cuts long ones, cleans
// control characters and masks the secrets it was given.
func TestLogBounded(t *testing.T) {
	l := NewLog(3)
	l.Mask("sk-secret-123", "short")
	for _, s := range []string{"one", "two", "three", "four sk-secret-123 five", "bell\x07 esc\x1b[31m"} {
		l.Add("stderr", s)
	}
	lines := l.Lines()
	if len(lines) != 3 || lines[0].Text != "three" || lines[1].Text != "four [redacted] five" || lines[2].Text != "bell? esc?[31m" {
		t.Fatalf("lines = %+v", lines)
	}
	l.Add("stderr", strings.Repeat("é", MaxLogLine))
	if got := l.Lines()[2].Text; len(got) > MaxLogLine+16 || !strings.HasSuffix(got, "…(cut)") {
		t.Fatalf("long line kept as %d bytes", len(got))
	}
	if tail := l.Tail("stderr", 2); !strings.HasPrefix(tail, "bell") {
		t.Fatalf("tail = %q", tail[:20])
	}
	// Masked again at each start, kept once; a secret that contains
	// another is hidden whole, whichever was given first.
	for range 100 {
		l.Mask("sk-secret-123", "sk-secret-123-and-more")
	}
	if len(l.secrets) != 2 {
		t.Errorf("%d secrets kept", len(l.secrets))
	}
	l.Add("stderr", "key sk-secret-123-and-more")
	if got := l.Lines()[2].Text; got != "key [redacted]" {
		t.Errorf("line = %q", got)
	}
}

// TestLogCopyLines: an endless stderr line does not grow memory: the Log
// keeps its first MaxLogLine bytes and goes on with the next line.
func TestLogCopyLines(t *testing.T) {
	l := NewLog(10)
	r := io.MultiReader(strings.NewReader(strings.Repeat("x", 10*MaxLogLine)+"\nnext line\n"), strings.NewReader("last"))
	l.copyLines("stderr", r)
	lines := l.Lines()
	if len(lines) != 3 || len(lines[0].Text) > MaxLogLine+16 || lines[1].Text != "next line" || lines[2].Text != "last" {
		t.Fatalf("lines: %d %q", len(lines), l.Tail("", 3))
	}
}

// TestLineLimit: a stdio upstream's message over the limit fails the read.
func TestLineLimit(t *testing.T) {
	r := &lineLimit{r: strings.NewReader("short\n" + strings.Repeat("y", 100)), max: 50}
	_, err := io.ReadAll(r)
	if err == nil || !strings.Contains(err.Error(), "longer than 50") {
		t.Fatalf("err = %v", err)
	}
	ok := &lineLimit{r: strings.NewReader(strings.Repeat("z\n", 1000)), max: 50}
	if _, err := io.ReadAll(ok); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
}

// TestProgramDirs: on macOS an upstream finds Homebrew's programs even
// when Plexus was started from the Dock (PATH /usr/bin:/bin:…); a PATH
// that has them, and other systems, are left as they are.
func TestProgramDirs(t *testing.T) {
	for _, tc := range []struct{ path, goos, want string }{
		{"/usr/bin:/bin:/usr/sbin:/sbin", "darwin", "/usr/bin:/bin:/usr/sbin:/sbin:/opt/homebrew/bin:/usr/local/bin"},
		{"/usr/local/bin:/usr/bin", "darwin", "/usr/local/bin:/usr/bin:/opt/homebrew/bin"},
		{"", "darwin", "/opt/homebrew/bin:/usr/local/bin"},
		{"/usr/bin:/bin", "linux", "/usr/bin:/bin"},
		{`C:\Windows`, "windows", `C:\Windows`},
	} {
		if got := withProgramDirs(tc.path, tc.goos); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.goos, tc.path, got, tc.want)
		}
	}
}

// TestBaseEnv: only the allowed variables, never a PLEXUS_ one.
func TestBaseEnv(t *testing.T) {
	env := map[string]string{"PATH": "/bin", "HOME": "/h", "PLEXUS_MASTER_KEY": "k", "ADMIN_API_KEY": "a", "AWS_SECRET_ACCESS_KEY": "s", "LANG": "C"}
	got := BaseEnv(func(k string) string { return env[k] })
	joined := strings.Join(got, " ")
	if joined != "PATH=/bin HOME=/h LANG=C" {
		t.Fatalf("BaseEnv = %q", joined)
	}
	merged := mergeEnv(got, "HOME=/other", "X=1")
	if strings.Join(merged, " ") != "PATH=/bin LANG=C HOME=/other X=1" {
		t.Fatalf("mergeEnv = %q", merged)
	}
}
