package ui

import (
	"net/url"
	"strings"
	"testing"
	"unicode"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

var toolSwitchSeeds = []string{
	"tenant=acme&kind=tool&name=weather&to=off",
	"tenant=acme&kind=set&name=github&to=on",
	"tenant=acme&kind=set&name=weather+tools&to=on",
	"tenant=&kind=tool&name=x&to=on",
	"tenant=acme&kind=tool&name=%00&to=on",
	"tenant=ACME&kind=tool&name=x&to=on",
	"kind=tool&kind=set",
	"%zz",
}

func TestParseToolSwitch(t *testing.T) {
	for _, tc := range []struct {
		q    string
		ok   bool
		want toolSwitch
	}{
		{toolSwitchSeeds[0], true, toolSwitch{Tenant: "acme", Name: "weather"}},
		{toolSwitchSeeds[1], true, toolSwitch{Tenant: "acme", Set: true, Name: "github", On: true}},
		{toolSwitchSeeds[2], true, toolSwitch{Tenant: "acme", Set: true, Name: "weather tools", On: true}},
		{toolSwitchSeeds[3], false, toolSwitch{}},
		{toolSwitchSeeds[4], false, toolSwitch{}},
		{toolSwitchSeeds[5], false, toolSwitch{}},
		{"tenant=acme&kind=tool&name=" + strings.Repeat("a", 129) + "&to=on", false, toolSwitch{}},
	} {
		v, _ := url.ParseQuery(tc.q)
		got, err := parseToolSwitch(v)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseToolSwitch(%q) = %+v, %v", tc.q, got, err)
		}
	}
}

func FuzzParseToolSwitch(f *testing.F) {
	for _, s := range toolSwitchSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		v, _ := url.ParseQuery(q)
		sw, err := parseToolSwitch(v)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "it ") || strings.ContainsAny(err.Error(), "\"%") {
				t.Fatalf("error %q is not a fixed sentence", err)
			}
			return
		}
		if tenantIDProblem(sw.Tenant) != "" || sw.Name == "" || len(sw.Name) > 128 || strings.IndexFunc(sw.Name, unicode.IsControl) >= 0 {
			t.Fatalf("accepted %+v", sw)
		}
	})
}

var activitySeeds = []string{
	"", "tool=weather&who=local&outcome=ok&before=2026-05-12-0001.123",
	"who=user:alice@example.com", "who=user:", "who=guest", "who=user:%00",
	"outcome=bogus", "before=../../etc", "tool=a%20b", "who=user:%ff%fe",
}

func TestParseActivityQuery(t *testing.T) {
	for q, want := range map[string]apiv1.ActivityQuery{
		activitySeeds[1]:             {Tool: "weather", Who: "local", Outcome: "ok", Cursor: "2026-05-12-0001.123"},
		"who=user:alice@example.com": {Who: "user:alice@example.com"},
		"who=user:":                  {},
		"who=user:%00":               {},
		"outcome=bogus":              {},
		"before=../../etc":           {},
		"tool=a%20b":                 {},
		"who=user:%ff%fe":            {},
	} {
		v, _ := url.ParseQuery(q)
		if got := parseActivityQuery(v); got != want {
			t.Errorf("parseActivityQuery(%q) = %+v, want %+v", q, got, want)
		}
	}
}

func FuzzParseActivityQuery(f *testing.F) {
	for _, s := range activitySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		v, _ := url.ParseQuery(q)
		got := parseActivityQuery(v)
		if got.Tool != "" && !tools.ValidToolName(got.Tool) {
			t.Fatalf("tool %q", got.Tool)
		}
		if got.Outcome != "" && !audit.Outcome(got.Outcome).Valid() {
			t.Fatalf("outcome %q", got.Outcome)
		}
		if _, err := audit.ParseCursor(got.Cursor); err != nil {
			t.Fatalf("cursor %q", got.Cursor)
		}
		if w := got.Who; w != "" && w != "local" && w != "guest" && (!strings.HasPrefix(w, "user:") || len(w) == 5 || strings.IndexFunc(w, unicode.IsControl) >= 0) {
			t.Fatalf("who %q", w)
		}
		// What the page links to reads back the same.
		u, err := url.Parse(activityHref(got, got.Cursor))
		if err != nil {
			t.Fatal(err)
		}
		if back := parseActivityQuery(u.Query()); back != got {
			t.Fatalf("href round trip: %+v -> %+v", got, back)
		}
	})
}

func TestChartAndWords(t *testing.T) {
	for n, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 5, 7: 10, 10: 10, 11: 20, 99: 100, 101: 200, 4999: 5000} {
		if got := niceTop(n); got != want {
			t.Errorf("niceTop(%d) = %d, want %d", n, got, want)
		}
	}
	for ms, want := range map[float64]string{0.2: "<1 ms", 3: "3 ms", 999.6: "1000 ms", 2500: "2.5 s", 125000: "2m 05s"} {
		if got := durationWords(ms); got != want {
			t.Errorf("durationWords(%v) = %q, want %q", ms, got, want)
		}
	}
}
