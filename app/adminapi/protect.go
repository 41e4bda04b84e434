package adminapi

import (
	"log/slog"
	"net/http"

	"github.com/plexus-mcp/plexus/mcpserver/edge"
	"github.com/plexus-mcp/plexus/vault"
)

// Protect serves h only to requests that pass the admin API's own checks:
// the edge rule on Host and Origin, then an admin bearer token from
// o.Tokens (compared as the API compares them). Others get the API's 403
// or 401 with {"error": "..."}. The daemon serves GET /metrics through it:
// the metrics name tenants, tools and upstreams, which only the admin may
// list.
func Protect(h http.Handler, o Options) http.Handler {
	a := &api{log: o.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	for _, t := range o.Tokens {
		if t != "" {
			a.tokens = append(a.tokens, vault.DigestSecret(t))
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if !edge.Require(w, r) {
			return
		}
		if _, ok := a.authorized(r); !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="plexus-admin"`)
			a.writeJSONError(w, http.StatusUnauthorized, "missing or invalid admin token (Authorization: Bearer <ADMIN_API_KEY or the local token>)")
			return
		}
		h.ServeHTTP(w, r)
	})
}
