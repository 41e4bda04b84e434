package daemon

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// guard refuses requests that a web page could have sent through DNS
// rebinding or cross-site: a Host that is not this machine's loopback name,
// or an Origin that is not the daemon itself. Loopback is not a security
// boundary; this check is what makes it one. With allowAnyHost (a
// non-loopback listener the user asked for) the Host check is left to the
// proxy in front, but Origin is still checked against Host.
func guard(listenAddr string, allowAnyHost bool, next http.Handler) http.Handler {
	_, port, _ := net.SplitHostPort(listenAddr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowAnyHost && !loopbackHost(r.Host, port) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden: Host " + quote(r.Host) + " is not this machine (DNS rebinding protection)"})
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r.Host) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden: cross-origin request from " + quote(origin)})
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header names this machine's loopback
// interface (with the daemon's port, or no port).
func loopbackHost(host, port string) bool {
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		h, p = host, ""
	}
	if p != "" && p != port {
		return false
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// sameOrigin reports whether origin is http(s)://host.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// endStreamsOn ends long-lived MCP streams (the legacy GET SSE stream and
// the 2026-07-28 subscriptions/listen POST) when stopping is cancelled, so a
// graceful shutdown does not wait for clients that never hang up. Other
// requests keep their context and finish.
func endStreamsOn(stopping context.Context, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimSuffix(r.URL.Path, "/")
		long := r.Method == http.MethodGet && (strings.HasSuffix(p, "/mcp") || strings.Contains(p, "/mcp/token_auth/")) ||
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
