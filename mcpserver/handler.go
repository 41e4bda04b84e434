package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/edge"
	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// JSON-RPC error codes Plexus answers with before mcp-go sees a request.
const (
	codeNotFound     = edge.CodeNotFound // unknown tenant, unknown session
	codeUnauthorized = edge.CodeServerError
	codeBadRequest   = mcp.INVALID_REQUEST
	codeInternal     = mcp.INTERNAL_ERROR
)

// peek is the part of a JSON-RPC message the HTTP layer looks at.
type peek struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params struct {
		Meta struct {
			ProtocolVersion string `json:"io.modelcontextprotocol/protocolVersion"`
		} `json:"_meta"`
		// ToolSetFilter is tools/list's MCP Plexus extension.
		ToolSetFilter json.RawMessage `json:"tool_set_filter"`
	} `json:"params"`
}

// serveMCP is the /{tenant}/mcp handler: Host/Origin check (the edge rule,
// unless the edge guard applied it), body limit, tenant lookup,
// authentication and (legacy era) session validation, then the tenant's
// mcp-go transport through an rpcWriter (stream.go). Every error it or
// mcp-go answers is a JSON-RPC error object.
func (s *Server) serveMCP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &edge.StatusWriter{ResponseWriter: w}
	tenantID := r.PathValue("tenant")
	var c tools.Caller
	defer func() {
		s.log.DebugContext(r.Context(), "MCP request", "method", r.Method, "tenant", tenantID,
			"user", c.UserID, "guest", c.Guest, "protocol", c.Protocol, "status", sw.Status(),
			"duration", time.Since(start))
	}()
	w = sw
	if !edge.Require(w, r) {
		return
	}

	// The body is parsed only when the answer depends on it, so a steady
	// tools/call with its headers set is not decoded twice.
	var body []byte
	var p peek
	parsed := false
	peekBody := func() *peek {
		if !parsed {
			parsed = true
			_ = json.Unmarshal(body, &p) // a malformed body is mcp-go's to report
		}
		return &p
	}
	if r.Method == http.MethodPost {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxMCPBody))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				writeRPCError(w, http.StatusRequestEntityTooLarge, nil, codeBadRequest,
					fmt.Sprintf("request body larger than %d bytes", maxMCPBody))
				return
			}
			writeRPCError(w, http.StatusBadRequest, nil, mcp.PARSE_ERROR, "read request body: "+err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}

	ctx := r.Context()
	ts, err := s.tenant(ctx, tenantID)
	if err != nil {
		if errors.Is(err, errUnknownTenant) {
			writeRPCError(w, http.StatusNotFound, peekBody().ID, codeNotFound, unknownTenantMessage(tenantID))
			return
		}
		s.log.ErrorContext(ctx, "Looking up tenant", "tenant", tenantID, "err", err)
		writeRPCError(w, http.StatusInternalServerError, peekBody().ID, codeInternal, "internal error looking up the tenant")
		return
	}

	c, err = s.authenticate(ctx, tenantID, r)
	if err != nil {
		if errors.Is(err, errBadToken) {
			s.recordBadToken(tenantID)
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeRPCError(w, http.StatusUnauthorized, peekBody().ID, codeUnauthorized, msgBadToken)
			return
		}
		s.log.ErrorContext(ctx, "Authenticating MCP request", "tenant", tenantID, "err", err)
		writeRPCError(w, http.StatusInternalServerError, peekBody().ID, codeInternal, "internal error checking the token")
		return
	}

	// Era as mcp-go decides it (header or _meta). A request whose header
	// names a legacy version is taken as legacy without reading _meta; if
	// its _meta claims 2026-07-28 anyway, mcp-go refuses the mismatch.
	headerVersion := r.Header.Get(mcp.HeaderProtocolVersion)
	modern := mcp.IsModernProtocol(headerVersion)
	c.Protocol = headerVersion
	if headerVersion == "" && r.Method == http.MethodPost {
		if v := peekBody().Params.Meta.ProtocolVersion; mcp.IsModernProtocol(v) {
			modern, c.Protocol = true, v
		}
	}
	if !modern {
		sid := r.Header.Get(server.HeaderKeySessionID)
		check := false
		switch r.Method {
		case http.MethodPost:
			// A non-initialize POST without the header is mcp-go's to refuse.
			// (Only a body mentioning "initialize" can be one.)
			check = sid != "" && (!bytes.Contains(body, []byte(`"initialize"`)) ||
				peekBody().Method != string(mcp.MethodInitialize))
		case http.MethodGet, http.MethodDelete:
			if sid == "" {
				writeRPCError(w, http.StatusBadRequest, nil, codeBadRequest,
					"missing Mcp-Session-Id header: initialize a session first")
				return
			}
			check = true
		}
		if check {
			protocol, err := s.checkSession(ctx, c, sid)
			if errors.Is(err, errSessionNotFound) {
				writeRPCError(w, http.StatusNotFound, peekBody().ID, codeNotFound, errSessionNotFound.Error())
				return
			}
			if err != nil {
				s.log.ErrorContext(ctx, "Validating MCP session", "tenant", tenantID, "err", err)
				writeRPCError(w, http.StatusInternalServerError, peekBody().ID, codeInternal, "internal error checking the session")
				return
			}
			c.SessionID = sid
			if c.Protocol == "" {
				c.Protocol = protocol
			}
		}
	}
	ctx = tools.WithCaller(ctx, c)
	// tools/list's tool_set_filter (both eras) reaches the tool filter
	// through the context.
	if r.Method == http.MethodPost && bytes.Contains(body, []byte(`"tool_set_filter"`)) &&
		peekBody().Method == string(mcp.MethodToolsList) {
		sets, ok, err := parseToolSetFilter(p.Params.ToolSetFilter)
		if err != nil {
			writeRPCError(w, http.StatusBadRequest, p.ID, mcp.INVALID_PARAMS, err.Error())
			return
		}
		if ok {
			ctx = withToolSetFilter(ctx, sets)
		}
	}
	// mcp-go's transport, through Handle: it takes the body read above and
	// an rpcWriter (stream.go) for the answer. A POST's notifications go to
	// its own response, except on a subscriptions/listen stream, where
	// mcp-go tags the broadcasts it relays.
	post := r.Method == http.MethodPost
	listen := modern && r.Header.Get(mcp.HeaderMethod) == string(mcp.MethodSubscriptionsListen)
	rw := newRPCWriter(ctx, w, post, post && !listen, modern, body, s.log)
	if post {
		ctx = context.WithValue(ctx, rpcWriterKey{}, rw)
	}
	ts.http.Handle(rw, &server.HTTPRequest{Method: r.Method, URL: r.URL, Header: r.Header, Body: body, Context: ctx})
	rw.finish(ctx)
}

// serveMCPMethodNotAllowed answers the methods /{tenant}/mcp does not
// serve, in JSON-RPC like every other error there.
func serveMCPMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	if !edge.Require(w, r) {
		return
	}
	w.Header().Set("Allow", "GET, POST, DELETE")
	writeRPCError(w, http.StatusMethodNotAllowed, nil, codeBadRequest,
		fmt.Sprintf("method %s not allowed on the MCP endpoint: use POST (GET for the 2025-11-25 stream, DELETE to end a session)", r.Method))
}

// methodNotAllowedDetail answers the methods a seed endpoint does not
// serve, in its {"detail"} shape.
func methodNotAllowedDetail(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !edge.Require(w, r) {
			return
		}
		w.Header().Set("Allow", allow)
		writeDetail(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: use %s", r.Method, allow))
	})
}

// unknownTenantMessage names the tenant and, when the id is a valid tenant
// id (letters, digits, "-", "_": safe to paste into a shell), the command
// that creates it; otherwise it says what is wrong with the id.
func unknownTenantMessage(id string) string {
	if err := vault.ValidateTenantID(id); err != nil {
		return "unknown tenant: " + err.Error()
	}
	return fmt.Sprintf("unknown tenant %q: create it with `plexus admin tenant create --entity-id %s`", id, id)
}

// writeRPCError answers with a JSON-RPC error; id is the request's id when it
// could be read (else null).
func writeRPCError(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string) {
	edge.WriteRPCError(w, status, id, code, msg, nil)
}

// writeDetail answers with a FastAPI-style {"detail": "..."} error (the
// seed endpoints' shape).
func writeDetail(w http.ResponseWriter, status int, msg string) { edge.WriteDetail(w, status, msg) }

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) { edge.WriteJSON(w, status, v) }

// foreignRequest reports a request the edge rule refuses (package edge:
// Host and Origin), with the refusal message. It checks only when the
// edge guard did not already, so handlers mounted without the daemon stay
// safe.
func foreignRequest(r *http.Request) (string, bool) { return edge.Refusal(r) }
