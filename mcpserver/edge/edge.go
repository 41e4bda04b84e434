// Package edge is the HTTP edge of the Plexus daemon: the one Host/Origin
// guard every request passes (Guard, or Require for a handler mounted
// without it) and the one JSON writer of the daemon's error shapes.
//
// # The rule
//
// A request is refused with 403 when
//   - its Host is not a loopback name (localhost, 127.0.0.0/8, ::1), or names
//     a port other than the one the request arrived on (DNS rebinding: a
//     page whose name now resolves to 127.0.0.1 sends its own name); with
//     Options.AllowAnyHost (a non-loopback listener behind a proxy the user
//     set up) the Host check is the proxy's;
//   - it carries an Origin header other than exactly http(s)://<Host>
//     (a cross-site page, "null" included).
//
// The rule lives here only. Guard applies it to everything the daemon
// serves and marks the request as checked; handlers that can also be
// mounted on their own (package mcpserver, the admin API) call Require,
// which applies the same rule unless Guard already did, so each is safe
// either way and every request is checked once.
//
// # Error shapes
//
// Each route family answers errors in one shape (WriteError picks it from
// the path):
//   - /{tenant}/mcp: a JSON-RPC 2.0 error object (WriteRPCError);
//   - /api/v1/...: {"error": "message"} (WriteAdminError);
//   - everything else, the MCP Plexus seed endpoints among them
//     (/{tenant}/plexus-auth/register-user, /{tenant}/plexus-services/api-keys):
//     {"detail": "message"} (WriteDetail).
//
// This package imports nothing of Plexus and never logs request contents.
package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Options configures Guard.
type Options struct {
	// ListenAddr is the address the daemon listens on (host:port); its port
	// is the one a Host header may name. "" takes the port of the
	// connection the request arrived on.
	ListenAddr string
	// AllowAnyHost leaves the Host check to a proxy in front (a
	// non-loopback listener). Origin is still checked against Host.
	AllowAnyHost bool
}

// checkedKey marks a request context as checked by Guard.
type checkedKey struct{}

// Guard refuses what the rule refuses (see the package doc), answering in
// the shape of the route family, sets the security headers every response
// carries, and marks the request as checked for Require.
func Guard(next http.Handler, o Options) http.Handler {
	port := ""
	if o.ListenAddr != "" {
		if _, p, err := net.SplitHostPort(o.ListenAddr); err == nil {
			port = p
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if msg, bad := check(r, port, o.AllowAnyHost); bad {
			WriteError(w, r, http.StatusForbidden, msg)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), checkedKey{}, true)))
	})
}

// Require applies the rule to a request that did not come through Guard
// (a handler mounted on its own, as in tests), with the strict settings:
// loopback Host on the connection's port, same-origin Origin. It reports
// whether the request may go on; when not, it has answered 403 in the
// shape of the route family.
func Require(w http.ResponseWriter, r *http.Request) bool {
	if msg, bad := Refusal(r); bad {
		WriteError(w, r, http.StatusForbidden, msg)
		return false
	}
	return true
}

// Refusal is Require without the answer: it reports whether the rule
// refuses r (unless Guard checked it) and the message to answer 403 with.
func Refusal(r *http.Request) (string, bool) {
	if Checked(r.Context()) {
		return "", false
	}
	return check(r, "", false)
}

// Checked reports whether Guard checked the request ctx belongs to.
func Checked(ctx context.Context) bool {
	ok, _ := ctx.Value(checkedKey{}).(bool)
	return ok
}

// check applies the rule; port is the port a Host may name ("" = the port
// the request arrived on). It returns the refusal message.
func check(r *http.Request, port string, anyHost bool) (string, bool) {
	if !anyHost {
		if port == "" {
			port = localPort(r)
		}
		if !LoopbackHost(r.Host, port) {
			return "forbidden: Host " + quote(r.Host) + " is not this machine (DNS rebinding protection)", true
		}
	}
	if origin := r.Header.Get("Origin"); origin != "" && !SameOrigin(origin, r.Host) {
		return "forbidden: cross-origin request from " + quote(origin), true
	}
	return "", false
}

// localPort is the port of the connection r arrived on, or "" when unknown
// (a request built in a test without a connection).
func localPort(r *http.Request) string {
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || la == nil {
		return ""
	}
	_, p, err := net.SplitHostPort(la.String())
	if err != nil {
		return ""
	}
	return p
}

// LoopbackHost reports whether a Host header names this machine's loopback
// interface: localhost or a loopback IP, with the given port or none. An
// empty port accepts any.
func LoopbackHost(host, port string) bool {
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		h, p = host, ""
	}
	if p != "" && port != "" && p != port {
		return false
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Zone() == "" && ip.IsLoopback()
}

// SameOrigin reports whether origin is exactly http(s)://host: the origin
// of a page served by the daemon under the name the request used.
func SameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

// quote is s as a JSON string, cut to 100 bytes: safe to put in a message.
func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// Family is a route family of the daemon, which fixes its error shape.
type Family int

// Route families.
const (
	// FamilyDetail is everything but the two below: {"detail": "..."}.
	FamilyDetail Family = iota
	// FamilyMCP is /{tenant}/mcp: JSON-RPC error objects.
	FamilyMCP
	// FamilyAdmin is /api/v1: {"error": "..."}.
	FamilyAdmin
)

// FamilyOf returns the route family of a URL path.
func FamilyOf(path string) Family {
	if path == "/api/v1" || strings.HasPrefix(path, "/api/v1/") {
		return FamilyAdmin
	}
	// /{tenant}/mcp or /{tenant}/mcp/
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return FamilyDetail
	}
	tenant, tail, ok := strings.Cut(rest, "/")
	if ok && tenant != "" && (tail == "mcp" || tail == "mcp/") {
		return FamilyMCP
	}
	return FamilyDetail
}

// WriteError answers status with msg in the shape of r's route family; on
// the MCP endpoint the JSON-RPC id is null and the code follows the status
// (RPCCode).
func WriteError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	switch FamilyOf(r.URL.Path) {
	case FamilyMCP:
		WriteRPCError(w, status, nil, RPCCode(status), msg, nil)
	case FamilyAdmin:
		WriteAdminError(w, status, msg)
	default:
		WriteDetail(w, status, msg)
	}
}

// JSON-RPC error codes the daemon answers with besides the standard ones.
const (
	// CodeServerError is the generic server error (-32000): refused,
	// unauthorized.
	CodeServerError = -32000
	// CodeNotFound (-32001) answers an unknown tenant or session.
	CodeNotFound = -32001
)

// RPCCode is the JSON-RPC error code Plexus answers an HTTP status with
// when nothing more specific is known.
func RPCCode(status int) int {
	switch {
	case status == http.StatusNotFound:
		return CodeNotFound
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return CodeServerError
	case status >= 500:
		return -32603 // internal error
	default:
		return -32600 // invalid request
	}
}

// rpcError is a JSON-RPC 2.0 error response.
type rpcError struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   rpcErrorBody    `json:"error"`
}

type rpcErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// RPCErrorJSON is the JSON of a JSON-RPC error response; id is the
// request's id when it could be read (else, or when not valid JSON, null).
func RPCErrorJSON(id json.RawMessage, code int, msg string, data any) []byte {
	if len(id) == 0 || !json.Valid(id) {
		id = json.RawMessage("null")
	}
	b, err := json.Marshal(rpcError{JSONRPC: "2.0", ID: id, Error: rpcErrorBody{Code: code, Message: msg, Data: data}})
	if err != nil { // data that does not marshal: answer without it
		b, _ = json.Marshal(rpcError{JSONRPC: "2.0", ID: id, Error: rpcErrorBody{Code: code, Message: msg}})
	}
	return b
}

// WriteRPCError answers with a JSON-RPC error object (see RPCErrorJSON).
func WriteRPCError(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string, data any) {
	writeBody(w, status, RPCErrorJSON(id, code, msg, data))
}

// WriteDetail answers with {"detail": msg} (MCP Plexus's, FastAPI's shape).
func WriteDetail(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"detail": msg})
}

// WriteAdminError answers with the admin API's {"error": msg}.
func WriteAdminError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

// WriteJSON answers status with v as JSON (one line), not to be cached.
// A value that does not marshal is a programming error; it answers 500
// with a JSON error in the detail shape.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"detail":%s}`, quote("internal error encoding the response")))
		status = http.StatusInternalServerError
	}
	writeBody(w, status, b)
}

func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
