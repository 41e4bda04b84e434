package audit

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexus-mcp/plexus/vault"
)

// substrSecrets is a Secrets over plaintext, for tests.
type substrSecrets []string

func (s substrSecrets) Contains(v string) bool {
	for _, x := range s {
		if strings.Contains(v, x) {
			return true
		}
	}
	return false
}

// readAll returns every file of dir, gzipped ones decompressed.
func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(e.Name(), ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
		}
		out[e.Name()] = b
	}
	return out
}

// TestDailyFilesGzippedAndQueried: a file per UTC day, named by the day;
// the days before today are gzipped; a query pages across plain and
// gzipped files; old days go after MaxAge (90 days by default).
func TestDailyFilesGzippedAndQueried(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	l, clk := open(t, Options{Dir: dir})
	if l.opts.MaxAge != 90*24*time.Hour {
		t.Fatalf("default retention %v, want 90 days", l.opts.MaxAge)
	}
	for d := range 4 {
		for i := range 3 {
			c := call("acme", "t", clk.Now(), OutcomeOK)
			c.ArgsBytes = d*10 + i
			l.Record(c)
			flush(t, l)
			clk.Add(time.Minute)
		}
		clk.Add(24 * time.Hour)
	}
	files := readAll(t, dir)
	for _, want := range []string{"audit-2026-05-12-0001.jsonl.gz", "audit-2026-05-13-0001.jsonl.gz", "audit-2026-05-14-0001.jsonl.gz", "audit-2026-05-15-0001.jsonl"} {
		if _, ok := files[want]; !ok {
			t.Errorf("no %s in %v", want, keys(files))
		}
	}
	if len(files) != 4 {
		t.Errorf("files %v", keys(files))
	}
	var got []int
	cursor := ""
	for range 10 {
		p, err := l.Query(t.Context(), Query{Tenant: "acme", Limit: 5, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Calls {
			got = append(got, c.ArgsBytes)
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	want := []int{32, 31, 30, 22, 21, 20, 12, 11, 10, 2, 1, 0}
	if len(got) != len(want) {
		t.Fatalf("paged %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("paged %v, want %v", got, want)
		}
	}
	// Time range: the second day only.
	p, err := l.Query(t.Context(), Query{Since: t0.Add(24 * time.Hour), Until: t0.Add(47 * time.Hour)})
	if err != nil || len(p.Calls) != 3 || p.Calls[0].ArgsBytes != 12 {
		t.Fatalf("since/until: %+v %v", p.Calls, err)
	}
	// 89 days on, the days older than 90 days are gone.
	clk.Add(89 * 24 * time.Hour)
	l.Record(call("acme", "t", clk.Now(), OutcomeOK))
	flush(t, l)
	files = readAll(t, dir)
	if len(files) != 2 {
		t.Fatalf("after 90 days: %v", keys(files))
	}
	for n := range files {
		if !strings.HasPrefix(n, "audit-2026-05-15-") && !strings.HasPrefix(n, "audit-"+day(clk.Now())) {
			t.Errorf("kept %s", n)
		}
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestOpenTidies: the first record's calls-YYYYMMDD-NNNN.jsonl files are
// renamed and gzipped, a crash's temporary is removed, and the calls are
// still found.
func TestOpenTidies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	old := `{"time":"2026-05-11T09:00:00Z","tenant":"acme","tool":"old","outcome":"ok","duration_us":5}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "calls-20260511-0001.jsonl"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "audit-2026-05-10-0001.jsonl.gz.tmp"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, _ := open(t, Options{Dir: dir})
	files := readAll(t, dir)
	if len(files) != 1 || string(files["audit-2026-05-11-0001.jsonl.gz"]) != old {
		t.Fatalf("files %v", keys(files))
	}
	p, err := l.Query(t.Context(), Query{Tenant: "acme"})
	if err != nil || len(p.Calls) != 1 || p.Calls[0].Tool != "old" || p.Calls[0].Kind != KindToolCall {
		t.Fatalf("%+v %v", p.Calls, err)
	}
}

// TestKindsAndArgsMasked: records of every kind are written and filtered
// by kind; a tool call's arguments are written masked, and the unmasked
// ones reach no file.
func TestKindsAndArgsMasked(t *testing.T) {
	const secret = "sk-live-0123456789abcdef"
	dir := filepath.Join(t.TempDir(), "audit")
	l, clk := open(t, Options{Dir: dir, Secrets: func(context.Context) Secrets { return substrSecrets{secret} }})
	c := call("acme", "search", clk.Now(), OutcomeOK)
	c.Args = json.RawMessage(`{"q":"weather","api_key":"abc","nested":{"Authorization":"Bearer x","list":["` + secret + `", "Bearer ` + secret + `"]},"n":3}`)
	l.Record(c)
	l.Record(Call{Kind: KindAdmin, Time: clk.Now(), Tenant: "acme", Action: "DELETE /api/v1/tenants/{id}", Target: "acme", Actor: "admin_token", Outcome: OutcomeOK})
	l.Record(Call{Kind: KindLogin, Time: clk.Now(), Action: "admin_token", Outcome: OutcomeDenied})
	l.Record(Call{Kind: KindCredential, Time: clk.Now(), Tenant: "acme", User: "u-1", Action: "credential_changed", Target: "api_key/weather", Outcome: OutcomeOK})
	flush(t, l)
	for name, b := range readAll(t, dir) {
		if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(`"abc"`)) || bytes.Contains(b, []byte("Bearer x")) {
			t.Errorf("%s holds a secret: %s", name, b)
		}
	}
	p, err := l.Query(t.Context(), Query{Kind: KindToolCall})
	if err != nil || len(p.Calls) != 1 {
		t.Fatalf("%+v %v", p, err)
	}
	want := `{"api_key":"[masked]","n":3,"nested":{"Authorization":"[masked]","list":["[masked]","[masked]"]},"q":"weather"}`
	if string(p.Calls[0].Args) != want {
		t.Errorf("args %s\nwant %s", p.Calls[0].Args, want)
	}
	for _, k := range Kinds() {
		p, err := l.Query(t.Context(), Query{Kind: k})
		if err != nil || len(p.Calls) != 1 || p.Calls[0].Kind != k {
			t.Errorf("kind %s: %+v %v", k, p.Calls, err)
		}
	}
	if p, _ := l.Query(t.Context(), Query{Outcome: OutcomeDenied}); len(p.Calls) != 1 || p.Calls[0].Action != "admin_token" {
		t.Errorf("denied: %+v", p.Calls)
	}
	if p, _ := l.Query(t.Context(), Query{Tenant: "acme"}); len(p.Calls) != 3 {
		t.Errorf("tenant acme: %d records", len(p.Calls))
	}
}

func TestMaskArgs(t *testing.T) {
	secrets := substrSecrets{"s3cr3t-value"}
	long := strings.Repeat("é", MaxArgsBytes)
	for _, tc := range []struct {
		name, in, want string
		cut            bool
	}{
		{"empty", ``, ``, false},
		{"plain, as it came", `{"q":"x", "n":1.50}`, `{"q":"x","n":1.50}`, false},
		{"escaped: walked", `{"q":"x\u0041", "n":1}`, `{"n":1,"q":"xA"}`, false},
		{"secret keys any case and depth", `{"Token":"a","b":{"client_secret":"c","PassWord":"d","x-api-KEY":"e","authorization":{"a":1}}}`,
			`{"Token":"[masked]","b":{"PassWord":"[masked]","authorization":"[masked]","client_secret":"[masked]","x-api-KEY":"[masked]"}}`, false},
		{"null under a secret key stays null", `{"token":null}`, `{"token":null}`, false},
		{"stored secret as value, inside a value, in an array, as a key", `{"a":"s3cr3t-value","b":"x s3cr3t-value y","c":[["s3cr3t-value"]],"s3cr3t-value":1}`,
			`{"[masked]":1,"a":"[masked]","b":"[masked]","c":[["[masked]"]]}`, false},
		{"a number", `[12345, "s3cr3t-value"]`, `[12345,"[masked]"]`, false},
		{"no HTML escaping", `{"q":"<a>&"}`, `{"q":"<a>&"}`, false},
		{"not JSON", `{"q":`, ``, true},
		{"two values", `{} {}`, ``, true},
		{"too long to keep", `"` + strings.Repeat("a", MaxRawArgsBytes) + `"`, ``, true},
		{"cut", `{"q":"` + long + `"}`, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, cut := MaskArgs([]byte(tc.in), secrets)
			if cut != tc.cut {
				t.Fatalf("cut = %v", cut)
			}
			if tc.name == "cut" {
				var s string
				if err := json.Unmarshal(got, &s); err != nil || !strings.HasSuffix(s, CutMarker) || len(s) > MaxArgsBytes+len(CutMarker) {
					t.Fatalf("cut args %q: %v", got, err)
				}
				return
			}
			if string(got) != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// FuzzMaskArgs: whatever the arguments, the result is nil or one valid
// JSON value of bounded size without the secret or a secret-named key's
// string value.
func FuzzMaskArgs(f *testing.F) {
	for _, s := range []string{`{"q":"x"}`, `{"token":"abc"}`, `{"a":{"b":["SECRET!x"]}}`, `"SECRET!x"`, `[1,2,{"Key":[1]}]`, `{"SECRET!x":"v"}`, `{`, `null`} {
		f.Add([]byte(s))
	}
	secrets := substrSecrets{"SECRET!x"}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, _ := MaskArgs(in, secrets)
		if got == nil {
			return
		}
		if len(got) > MaxArgsBytes*6+len(CutMarker)+2 {
			t.Fatalf("%d bytes", len(got))
		}
		if !json.Valid(got) || bytes.ContainsAny(got, "\n\r") {
			t.Fatalf("not one JSON line: %q", got)
		}
		var s string
		if json.Unmarshal(got, &s) == nil && strings.HasSuffix(s, CutMarker) {
			return // cut: a prefix of masked output
		}
		var v any
		_ = json.Unmarshal(got, &v)
		checkMasked(t, v, secrets)
	})
}

func checkMasked(t *testing.T, v any, secrets Secrets) {
	switch x := v.(type) {
	case string:
		if secrets.Contains(x) {
			t.Fatalf("secret left: %q", x)
		}
	case []any:
		for _, e := range x {
			checkMasked(t, e, secrets)
		}
	case map[string]any:
		for k, e := range x {
			if secrets.Contains(k) {
				t.Fatalf("secret key left: %q", k)
			}
			if SecretKeyName(k) && e != nil && e != Masked {
				t.Fatalf("key %q: %v not masked", k, e)
			}
			checkMasked(t, e, secrets)
		}
	}
}

// BenchmarkMaskArgs is what masking a typical call's arguments costs the
// writer (not the call), against 50 secrets: arguments with nothing to
// mask (no decoding), and with a secret-named key (decoded, walked,
// encoded).
func BenchmarkMaskArgs(b *testing.B) {
	var list []string
	for i := range 50 {
		list = append(list, fmt.Sprintf("sk-secret-%04d-abcdefgh", i))
	}
	s := vault.NewSecretSet(list...)
	for name, raw := range map[string]string{
		"nothing-to-mask": `{"city":"Paris","units":"metric","filters":{"q":"weather in paris tomorrow","limit":10},"tags":["a","b","c"]}`,
		"secret-key":      `{"city":"Paris","units":"metric","filters":{"q":"weather in paris tomorrow","limit":10,"api_key":"x"},"tags":["a","b","c"]}`,
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if out, _ := MaskArgs([]byte(raw), s); out == nil {
					b.Fatal("nil")
				}
			}
		})
	}
}

// TestNoSecretsNoArgs: when the stored secrets cannot be had, arguments
// are not written at all (not masked by key names only).
func TestNoSecretsNoArgs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	l, clk := open(t, Options{Dir: dir, Secrets: func(context.Context) Secrets { return nil }})
	c := call("acme", "search", clk.Now(), OutcomeOK)
	c.Args = json.RawMessage(`{"q":"sk-unknown-secret-42"}`)
	l.Record(c)
	flush(t, l)
	p, err := l.Query(t.Context(), Query{})
	if err != nil || len(p.Calls) != 1 || p.Calls[0].Args != nil || !p.Calls[0].ArgsCut {
		t.Fatalf("%+v %v", p.Calls, err)
	}
	for _, b := range readAll(t, dir) {
		if bytes.Contains(b, []byte("sk-unknown")) {
			t.Fatal("arguments written")
		}
	}
}

// TestRefusedFloodIsCounted: refused requests (which anyone who can reach
// the port can make) are written one by one only up to a budget, so a
// flood cannot push real history out of the log; the rest are counted in
// a "not_recorded" record. Tool calls and accepted requests are never
// held back.
func TestRefusedFloodIsCounted(t *testing.T) {
	l, clk := open(t, Options{})
	for i := range 500 {
		l.Record(Call{Kind: KindLogin, Time: clk.Now(), Action: "admin_api", Actor: "admin_token", Outcome: OutcomeDenied, Reason: "bad_token"})
		if i%100 == 0 {
			l.Record(call("acme", "search", clk.Now(), OutcomeOK))
			l.Record(Call{Kind: KindAdmin, Time: clk.Now(), Action: "POST /ui/tenants", Actor: "ui", Outcome: OutcomeOK})
		}
		if i%50 == 0 {
			flush(t, l) // several batches, as a flood arrives
		}
	}
	flush(t, l)
	count := func(q Query) int {
		n := 0
		for p, err := l.Query(t.Context(), q); ; p, err = l.Query(t.Context(), q) {
			if err != nil {
				t.Fatal(err)
			}
			n += len(p.Calls)
			if p.Next == "" {
				return n
			}
			q.Cursor = p.Next
		}
	}
	if n := count(Query{Kind: KindToolCall}); n != 5 {
		t.Errorf("%d tool calls, want 5", n)
	}
	if n := count(Query{Kind: KindAdmin}); n != 5 {
		t.Errorf("%d accepted admin actions, want 5", n)
	}
	if n := count(Query{Kind: KindLogin, Outcome: OutcomeDenied}); n != refusedBurst {
		t.Errorf("%d refused records written, want the burst, %d", n, refusedBurst)
	}
	// A minute later the count is told, and refused records are written
	// again.
	clk.Add(time.Minute)
	l.Record(Call{Kind: KindLogin, Time: clk.Now(), Action: "ui_login_link", Actor: "link", Outcome: OutcomeDenied, Reason: "bad_link"})
	flush(t, l)
	p, err := l.Query(t.Context(), Query{Kind: KindLogin, Limit: 2})
	if err != nil || len(p.Calls) != 2 {
		t.Fatalf("%+v %v", p, err)
	}
	if p.Calls[0].Action != "ui_login_link" || p.Calls[1].Action != "not_recorded" || p.Calls[1].Target != "480 refused or failed requests" {
		t.Errorf("after a minute: %+v", p.Calls)
	}
	// A flush tells the count once the budget allows, with nothing else
	// to write.
	for range 30 {
		l.Record(Call{Kind: KindLogin, Time: clk.Now(), Action: "admin_api", Outcome: OutcomeDenied})
	}
	flush(t, l)
	clk.Add(time.Minute)
	flush(t, l)
	if p, err := l.Query(t.Context(), Query{Kind: KindLogin, Limit: 1}); err != nil || len(p.Calls) != 1 ||
		p.Calls[0].Action != "not_recorded" || p.Calls[0].Target != "22 refused or failed requests" {
		t.Errorf("after a flush: %+v %v", p.Calls, err)
	}
	// Skipped ones are told at Close too.
	for range 2 * refusedBurst {
		l.Record(Call{Kind: KindLogin, Time: clk.Now(), Action: "admin_api", Outcome: OutcomeDenied})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, _ := open(t, Options{Dir: l.opts.Dir})
	p, err = l2.Query(t.Context(), Query{Kind: KindLogin, Limit: 1})
	if err != nil || len(p.Calls) != 1 || p.Calls[0].Action != "not_recorded" {
		t.Errorf("after Close: %+v %v", p.Calls, err)
	}
}
