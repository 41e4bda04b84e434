// Package adminapi serves Plexus's JSON admin API under /api/v1/: tenants,
// their host-app secrets, users and user tokens, external OAuth providers
// (and the built-in presets), tool settings, users' connections and API
// keys, and the daemon's status and shutdown. Where a path names a user
// ({uid}), "local-owner" names the tenant's local owner: the person at this
// machine, whom `plexus stdio` (Claude Desktop) acts as. The CLI
// (`plexus admin …`, through app/localclient) and any script use it.
//
// It is a thin HTTP layer: each route decodes its request into an
// app/apiv1 type, runs one operation of app/adminops (where validation
// and business rules live; the admin UI calls the same operations
// directly) and encodes the apiv1 answer. It never marshals a vault
// record.
//
// Every request needs an admin bearer token (the daemon's local token or
// ADMIN_API_KEY), compared in constant time. Host and Origin are checked by
// the daemon's edge guard (package edge), or by the same rule here when the
// API is mounted on its own: browsers must never drive this API cross-site.
// Errors are always {"error": "message"} (apiv1.Error) with a matching
// status (413 for a body over MaxBodyBytes).
//
// The package never logs, stores or echoes a secret: host-app secrets and
// user tokens are returned exactly once, in the response that creates them,
// and the vault keeps only their hashes; OAuth client secrets go into the
// vault sealed and are never returned at all (responses say only
// "client_secret_set"); API keys and OAuth tokens are listed by name only.
package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/mcpserver/edge"
	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

// Options configures the admin API's HTTP layer; what the operations do
// is configured in adminops.Options.
type Options struct {
	// Tokens are the accepted admin bearer tokens (the local token and
	// ADMIN_API_KEY); empty strings are ignored. With none, every request
	// is refused.
	Tokens []string
	// Logger for server-side failures; nil = discard.
	Logger *slog.Logger
	// Events feeds GET /api/v1/events, the desktop window's stream of
	// "something waits for you" events; nil = 501.
	Events EventSource
	// Audit, when set, records refused tokens and every mutating request
	// (see audit.go).
	Audit Recorder
}

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// New returns the handler for paths starting /api/v1/, serving ops.
func New(ops *adminops.Service, o Options) http.Handler {
	a := &api{ops: ops, log: o.Logger, events: o.Events, heartbeat: apiv1.EventsHeartbeat, audit: o.Audit}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	for i, t := range o.Tokens {
		if t != "" {
			a.tokens = append(a.tokens, vault.DigestSecret(t))
			a.actors = append(a.actors, tokenActor(i))
		}
	}
	a.mux = http.NewServeMux()
	for _, rt := range a.routes() {
		a.mux.Handle(rt.pattern, a.wrap(rt.h))
	}
	return a
}

type api struct {
	ops       *adminops.Service
	log       *slog.Logger
	tokens    []vault.SecretDigest
	actors    []string // who each of tokens is, for the audit log
	audit     Recorder
	mux       *http.ServeMux
	events    EventSource
	heartbeat time.Duration
}

// ServeHTTP applies the checks every request passes (origin, then bearer
// token) and routes it.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")

	// Host and Origin: the daemon's edge guard, or the same rule here when
	// the API is mounted on its own.
	if !edge.Require(w, r) {
		return
	}
	actor, ok := a.authorized(r)
	if !ok {
		a.recordDenied(r)
		h.Set("WWW-Authenticate", `Bearer realm="plexus-admin"`)
		a.writeJSONError(w, http.StatusUnauthorized, "missing or invalid admin token (Authorization: Bearer <ADMIN_API_KEY or the local token>)")
		return
	}
	if _, pattern := a.mux.Handler(r); pattern == "" {
		// No route: let the mux decide between 404 and 405 (it sets
		// Allow), but answer in JSON like every other error.
		a.muxError(w, r)
		return
	}
	a.serveRecorded(w, r, actor)
}

// authorized reports whether r carries one of the admin tokens, compared as
// digests (vault.SecretDigest) so the time taken says nothing about length,
// and which (ActorLocalToken, ActorAdminToken).
func (a *api) authorized(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", false
	}
	got := vault.DigestSecret(tok)
	actor, match := "", false
	for i, want := range a.tokens {
		if want.Equal(got) { // no early exit: every token is compared
			actor, match = ActorAdminToken, true
			if i < len(a.actors) {
				actor = a.actors[i]
			}
		}
	}
	return actor, match
}

// muxError answers a request no route matched, keeping the mux's status
// and Allow header.
func (a *api) muxError(w http.ResponseWriter, r *http.Request) {
	h, _ := a.mux.Handler(r)
	cw := &captureWriter{header: http.Header{}}
	h.ServeHTTP(cw, r)
	if allow := cw.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	status := cw.status
	if status == 0 || status < 400 {
		status = http.StatusNotFound
	}
	msg := "no such admin API endpoint: " + r.Method + " " + r.URL.Path
	if status == http.StatusMethodNotAllowed {
		msg = fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path)
	}
	a.writeJSONError(w, status, msg)
}

// captureWriter records the status and headers a handler writes, discarding the body.
type captureWriter struct {
	header http.Header
	status int
}

func (c *captureWriter) Header() http.Header         { return c.header }
func (c *captureWriter) Write(b []byte) (int, error) { return len(b), nil }
func (c *captureWriter) WriteHeader(status int) {
	if c.status == 0 {
		c.status = status
	}
}

// handler serves one route; a returned error becomes the answer
// through writeError.
type handler func(http.ResponseWriter, *http.Request) error

// wrap turns a handler into an http.Handler.
func (a *api) wrap(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// requestError is a request the HTTP layer itself refuses (a body that
// does not decode, or is too large); it answers with its status and
// message.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// writeError is the one place errors become answers: request errors, field
// errors, vault sentinels and adminops.ErrUnsupported map to 4xx/501 with
// their message; anything else is a 500 with a generic message, its cause
// logged.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	var fe *apiv1.FieldError
	switch {
	case errors.As(err, &re):
		a.writeJSONError(w, re.status, re.msg)
	case errors.As(err, &fe), errors.Is(err, vault.ErrInvalid):
		a.writeJSONError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, vault.ErrNotFound), errors.Is(err, oauth.ErrUnknownProvider):
		a.writeJSONError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, vault.ErrExists):
		a.writeJSONError(w, http.StatusConflict, err.Error())
	case errors.Is(err, adminops.ErrUnsupported):
		a.writeJSONError(w, http.StatusNotImplemented, err.Error())
	default:
		a.log.ErrorContext(r.Context(), "Admin API request failed",
			"method", r.Method, "path", r.URL.Path, "error", err)
		a.writeJSONError(w, http.StatusInternalServerError, "internal error (see the daemon log)")
	}
}

func (a *api) writeJSONError(w http.ResponseWriter, status int, msg string) {
	edge.WriteJSON(w, status, apiv1.Error{Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) { edge.WriteJSON(w, status, v) }

// decodeBody reads one JSON object from r's body into dst: at most
// MaxBodyBytes, no unknown fields, nothing after it. Its errors name what
// was wrong.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return bodyError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err == nil {
			return badRequest("request body: more than one JSON value")
		}
		return bodyError(err)
	}
	return nil
}

// bodyError is the request error for a body that did not decode: 413 when
// it is over MaxBodyBytes, else 400 naming what was wrong.
func bodyError(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &requestError{status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("request body: larger than %d bytes", MaxBodyBytes)}
	}
	return badRequest("request body: %s", describeJSONError(err))
}

func describeJSONError(err error) string {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		big *http.MaxBytesError
		fe  *apiv1.FieldError
	)
	switch {
	case errors.As(err, &fe):
		return fe.Error()
	case errors.Is(err, io.EOF):
		return "empty, expected a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("expected a JSON object, got %s", typ.Value)
		}
		return fmt.Sprintf("field %q must be a %s, got %s", typ.Field, typ.Type, typ.Value)
	case errors.As(err, &big):
		return fmt.Sprintf("larger than %d bytes", big.Limit)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for DisallowUnknownFields.
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "invalid JSON"
}
