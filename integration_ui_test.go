package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/app/localclient"
)

// TestOpenPrintURL runs the real binary: `plexus open --print-url` prints
// a single-use sign-in link (never the local token), which signs a browser
// in once; Home then shows; the link does not work twice.
func TestOpenPrintURL(t *testing.T) {
	in := newInstance(t)
	_, rt := in.serve()
	out, stderr, err := in.run("open", "--print-url", "--data", in.dataDir)
	if err != nil {
		t.Fatalf("plexus open --print-url: %v\n%s", err, stderr)
	}
	link := strings.TrimSpace(out)
	if !strings.HasPrefix(link, rt.BaseURL()+"/ui/login?ticket=plxt_") || strings.Count(out, "\n") != 1 {
		t.Fatalf("printed %q, want one login link on %s", out, rt.BaseURL())
	}
	if strings.Contains(out+stderr, rt.Token) {
		t.Fatal("the local token was printed")
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := get(link); st != http.StatusOK || !strings.Contains(body, `url=/ui/`) {
		t.Fatalf("login: %d\n%s", st, body)
	}
	if st, body := get(rt.BaseURL() + "/ui/"); st != http.StatusOK || !strings.Contains(body, "<h1>Home</h1>") {
		t.Fatalf("home: %d\n%s", st, body)
	}
	jar2, _ := cookiejar.New(nil)
	c.Jar = jar2
	if st, _ := get(link); st != http.StatusForbidden {
		t.Fatalf("the link worked twice: %d", st)
	}
	if st, body := get(rt.BaseURL() + "/ui/"); st != http.StatusForbidden || !strings.Contains(body, "plexus open") {
		t.Fatalf("without a session: %d", st)
	}
}

// TestOpenWithoutDisplay: plexus (and plexus open) with no display says so,
// points to --print-url, and starts nothing.
func TestOpenWithoutDisplay(t *testing.T) {
	in := newInstance(t)
	in.env = withoutEnv(in.env, "DISPLAY", "WAYLAND_DISPLAY")
	for _, args := range [][]string{{}, {"open"}} {
		_, stderr, err := in.run(args...)
		if exitCode(err) != 1 || !strings.Contains(stderr, "no display") || !strings.Contains(stderr, "plexus open --print-url") ||
			strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("plexus %v: exit %d, stderr %q", args, exitCode(err), stderr)
		}
	}
	if _, err := localclient.ReadRuntime(in.dataDir); err == nil {
		t.Error("a daemon was started")
	}
	if _, err := os.Stat(in.dataDir + "/plexus.db"); err == nil {
		t.Error("a vault was created")
	}
}
