package mcpserver

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

// TestRedactSessions: the logger Plexus gives mcp-go shows session ids
// only as fingerprints, whatever the key's case, in attributes, With and
// groups; other attributes pass unchanged.
func TestRedactSessions(t *testing.T) {
	const sid = "mcp-session-LOGCANARY234567ABCDEFGHIJ"
	fp := tools.SessionFingerprint(sid)
	for _, tc := range []struct {
		name string
		log  func(*slog.Logger)
		want []string
	}{
		{"session", func(l *slog.Logger) { l.Info("Delivered sampling response", "session", sid, "request", 1) }, []string{"session=" + fp, "request=1"}},
		{"sessionID", func(l *slog.Logger) { l.Warn("failed to terminate", "sessionID", sid) }, []string{"sessionID=" + fp}},
		{"With", func(l *slog.Logger) { l.With("session", sid).Info("x") }, []string{"session=" + fp}},
		{"group", func(l *slog.Logger) { l.Info("x", slog.Group("g", "session", sid, "k", "v")) }, []string{"g.session=" + fp, "g.k=v"}},
		{"WithGroup", func(l *slog.Logger) { l.WithGroup("g").Info("x", "Session", sid) }, []string{"g.Session=" + fp}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.log(slog.New(redactSessions(slog.NewTextHandler(&buf, nil))).With("tenant", "acme"))
			out := buf.String()
			if strings.Contains(out, "LOGCANARY") {
				t.Fatalf("session id in the log: %s", out)
			}
			for _, w := range append(tc.want, "tenant=acme") {
				if !strings.Contains(out, w) {
					t.Fatalf("log %q lacks %q", out, w)
				}
			}
		})
	}
}
