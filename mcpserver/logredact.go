package mcpserver

import (
	"context"
	"log/slog"
	"strings"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

// redactSessions wraps the handler of the logger Plexus gives mcp-go,
// which logs some events with the session id (a credential) under
// "session" or "sessionID": their values become the session's fingerprint
// (tools.SessionFingerprint), so logs never carry a session id.
func redactSessions(h slog.Handler) slog.Handler { return sessionRedactor{h} }

type sessionRedactor struct{ h slog.Handler }

// isSessionKey reports whether an attribute key names a session id.
func isSessionKey(k string) bool {
	switch strings.ToLower(k) {
	case "session", "sessionid", "session_id", "mcp-session-id":
		return true
	}
	return false
}

func redactAttr(a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindGroup {
		g := a.Value.Group()
		out := make([]slog.Attr, len(g))
		for i, x := range g {
			out[i] = redactAttr(x)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	}
	if isSessionKey(a.Key) {
		return slog.String(a.Key, tools.SessionFingerprint(a.Value.Resolve().String()))
	}
	return a
}

func (r sessionRedactor) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r sessionRedactor) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, rec.Message, rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r sessionRedactor) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = redactAttr(a)
	}
	return sessionRedactor{r.h.WithAttrs(out)}
}

func (r sessionRedactor) WithGroup(name string) slog.Handler {
	return sessionRedactor{r.h.WithGroup(name)}
}
