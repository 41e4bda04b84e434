package daemon

import (
	"context"
	"net/http"
	"strings"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/edge"
)

// endStreamsOn ends long-lived MCP streams (the legacy GET SSE stream and
// the 2026-07-28 subscriptions/listen POST) when stopping is cancelled, so a
// graceful shutdown does not wait for clients that never hang up. Other
// requests keep their context and finish.
func endStreamsOn(stopping context.Context, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimSuffix(r.URL.Path, "/")
		long := r.Method == http.MethodGet && (strings.HasSuffix(p, "/mcp") || strings.Contains(p, "/mcp/token_auth/") || p == apiv1.EventsPath) ||
			r.Method == http.MethodPost && r.Header.Get("Mcp-Method") == "subscriptions/listen"
		if !long {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(stopping, cancel)
		defer stop()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) { edge.WriteJSON(w, status, v) }
