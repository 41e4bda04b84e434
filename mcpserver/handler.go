package mcpserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
)

// JSON-RPC error codes Plexus answers with before mcp-go sees a request.
const (
	codeNotFound     = -32001 // unknown tenant, unknown session
	codeUnauthorized = -32000
	codeForbidden    = -32000
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

// serveMCP is the /{tenant}/mcp handler: Host/Origin check, body limit,
// tenant lookup, authentication and (legacy era) session validation, then
// the tenant's mcp-go transport.
func (s *Server) serveMCP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	tenantID := r.PathValue("tenant")
	var c tools.Caller
	defer func() {
		s.log.DebugContext(r.Context(), "MCP request", "method", r.Method, "tenant", tenantID,
			"user", c.UserID, "guest", c.Guest, "protocol", c.Protocol, "status", sw.status(),
			"duration", time.Since(start))
	}()
	w = sw
	if msg, bad := foreignRequest(r); bad {
		writeRPCError(w, http.StatusForbidden, nil, codeForbidden, msg)
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
	ts.http.ServeHTTP(w, r.WithContext(ctx))
}

// unknownTenantMessage names the tenant and says how to create it.
func unknownTenantMessage(id string) string {
	if len(id) > 64 {
		id = id[:64] + "..."
	}
	return fmt.Sprintf("unknown tenant %q: create it with `plexus admin tenant create --entity-id %s`", id, id)
}

// rpcError is a JSON-RPC error response.
type rpcError struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Error   rpcErrorBody    `json:"error"`
}

type rpcErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// writeRPCError answers with a JSON-RPC error; id is the request's id when it
// could be read (else null).
func writeRPCError(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string) {
	if len(id) == 0 || !json.Valid(id) {
		id = json.RawMessage("null")
	}
	b, err := json.Marshal(rpcError{JSONRPC: "2.0", ID: id, Error: rpcErrorBody{Code: code, Message: msg}})
	if err != nil { // not reached: every field marshals
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// foreignRequest refuses what a browser tricked by DNS rebinding or a
// foreign page would send: on a loopback connection a non-loopback Host,
// and anywhere an Origin that is not a loopback origin.
func foreignRequest(r *http.Request) (string, bool) {
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && la != nil &&
		isLoopbackHost(la.String()) && !isLoopbackHost(r.Host) {
		return fmt.Sprintf("forbidden: Host %q is not a loopback address", r.Host), true
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !isLoopbackHost(u.Host) {
			return fmt.Sprintf("forbidden: Origin %q is not a loopback origin", o), true
		}
	}
	return "", false
}

// isLoopbackHost reports whether addr (host or host:port) is localhost or a
// loopback IP.
func isLoopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.Trim(addr, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// statusWriter records the status code for the access log. It keeps
// Flush working (SSE) and unwraps for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
