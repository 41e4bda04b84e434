package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeBlock returns the commands of the first ```sh block after heading
// in README.md: comment lines dropped, "\" continuations joined.
func readmeBlock(t *testing.T, heading string) []string {
	t.Helper()
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(raw), heading)
	if !ok {
		t.Fatalf("README.md has no %q", heading)
	}
	_, after, ok = strings.Cut(after, "```sh\n")
	if !ok {
		t.Fatalf("README.md: no sh block after %q", heading)
	}
	block, _, _ := strings.Cut(after, "```")
	var cmds []string
	var cur strings.Builder
	for _, line := range strings.Split(block, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cont, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmds = append(cmds, cur.String())
		cur.Reset()
	}
	return cmds
}

// TestReadmeHostAppFlow runs the README's "Host-app flow" curl commands, as
// written, with the real curl against the real daemon (started with
// --user-token-ttl): they used to fail with 415 because curl -d sends a
// form Content-Type.
func TestReadmeHostAppFlow(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	in := newInstance(t)
	_, rt := in.serve("--user-token-ttl", "1h", "--log-level", "debug")
	out, stderr, err := in.run("admin", "--data", in.dataDir, "--json", "tenant", "create", "--entity-id", "acme", "--name", "Acme")
	if err != nil {
		t.Fatalf("tenant create: %v\n%s", err, stderr)
	}
	var created struct {
		Secret string `json:"host_app_secret"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Secret == "" {
		t.Fatalf("tenant create --json: %v %q", err, out)
	}

	// curl reads its config from $CURL_HOME/.curlrc: it adds the status
	// after the body, and leaves the README's commands as they are.
	curlHome := t.TempDir()
	if err := os.WriteFile(filepath.Join(curlHome, ".curlrc"), []byte("write-out = \"\\n%{http_code}\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"B": rt.BaseURL() + "/acme", "SECRET": created.Secret, "TOKEN": ""}
	run := func(cmd string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, "sh", "-c", cmd)
		c.Env = []string{"PATH=" + filepath.Dir(curl) + ":/usr/bin:/bin", "HOME=" + curlHome, "CURL_HOME=" + curlHome}
		for k, v := range vars {
			c.Env = append(c.Env, k+"="+v)
		}
		var o, e bytes.Buffer
		c.Stdout, c.Stderr = &o, &e
		if err := c.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, e.String())
		}
		// The body, then the status curl wrote after it.
		i := strings.LastIndex(o.String(), "\n")
		status, err := strconv.Atoi(o.String()[i+1:])
		if i < 0 || err != nil {
			t.Fatalf("%s: no status in curl's output %q", cmd, o.String())
		}
		return status, o.String()[:i]
	}

	cmds := readmeBlock(t, "### Host-app flow")
	ran := 0
	for _, cmd := range cmds {
		if strings.HasPrefix(cmd, "B=") {
			continue // the test's own $B points at its daemon
		}
		if !strings.HasPrefix(cmd, "curl ") {
			t.Fatalf("README command not understood: %q", cmd)
		}
		status, body := run(cmd)
		ran++
		if status != http.StatusOK {
			t.Fatalf("README command %q: %d %s", cmd, status, body)
		}
		if strings.Contains(cmd, "register-user") {
			var reg struct {
				Token string `json:"plexus_user_auth_token"`
				ID    string `json:"persistent_user_id"`
			}
			if err := json.Unmarshal([]byte(body), &reg); err != nil || reg.Token == "" || reg.ID != "alice@example.com" {
				t.Fatalf("register-user answer %q: %v (persistent_user_id must be the host user id)", body, err)
			}
			vars["TOKEN"] = reg.Token
		}
	}
	if ran < 4 || vars["TOKEN"] == "" {
		t.Fatalf("ran %d README commands of %q", ran, cmds)
	}

	// 3. call tools on $B/mcp with the token: in the header, and in the URL.
	modern := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"plexus_whoami","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
	hdr := map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "plexus_whoami"}
	for _, url := range []string{rt.BaseURL() + "/acme/mcp", rt.BaseURL() + "/acme/mcp/token_auth/" + vars["TOKEN"]} {
		h := map[string]string{}
		for k, v := range hdr {
			h[k] = v
		}
		if !strings.Contains(url, "token_auth") {
			h["Authorization"] = "Bearer " + vars["TOKEN"]
		}
		status, _, m := rpc(t, url, h, modern)
		if who := whoamiResult(m); status != http.StatusOK || who["user"] != "alice@example.com" {
			t.Fatalf("whoami: %d %v", status, m)
		}
	}

	// --user-token-ttl: the token expires an hour after it was issued.
	out, stderr, err = in.run("admin", "--data", in.dataDir, "--json", "token", "list", "--entity-id", "acme")
	if err != nil {
		t.Fatalf("token list: %v\n%s", err, stderr)
	}
	var tokens struct {
		Tokens []struct {
			CreatedAt time.Time `json:"created_at"`
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(out), &tokens); err != nil || len(tokens.Tokens) != 1 ||
		tokens.Tokens[0].ExpiresAt.Sub(tokens.Tokens[0].CreatedAt) != time.Hour {
		t.Fatalf("tokens = %+v (%v), want one expiring after 1h", tokens, err)
	}

	// The token reached no line of the daemon's (debug) log.
	secretPart := strings.TrimPrefix(vars["TOKEN"], "plx_")
	if logs := in.logs.String(); strings.Contains(logs, secretPart) || strings.Contains(logs, created.Secret) {
		t.Fatalf("a secret reached the daemon log:\n%s", logs)
	}
}
