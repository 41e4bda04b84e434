package mcpserver

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/plexus-mcp/plexus/vault"
)

const (
	// maxRegisterBody bounds a register-user body.
	maxRegisterBody = 64 << 10
	// maxHostUserID bounds user_id_from_host_app (bytes).
	maxHostUserID = 256
	// registeredMessage is MCP Plexus's success message.
	registeredMessage = "User token processed successfully."
)

// registerRequest is the register-user body.
type registerRequest struct {
	UserIDFromHostApp *string `json:"user_id_from_host_app"`
}

// registerResponse is the register-user answer (MCP Plexus's shape).
type registerResponse struct {
	Token            string `json:"plexus_user_auth_token"`
	PersistentUserID string `json:"persistent_user_id"`
	Message          string `json:"message"`
}

// httpError is an error with the status to answer with; its message is safe
// to show the client.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// parseRegisterBody reads a register-user body and returns the host user id.
// Errors are *httpError.
func parseRegisterBody(contentType string, body io.Reader) (string, error) {
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil || mt != "application/json" {
			return "", &httpError{status: http.StatusUnsupportedMediaType,
				msg: fmt.Sprintf("unsupported Content-Type %q: send application/json", contentType)}
		}
	}
	dec := json.NewDecoder(body)
	var req registerRequest
	if err := dec.Decode(&req); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return "", &httpError{status: http.StatusRequestEntityTooLarge,
				msg: fmt.Sprintf("request body larger than %d bytes", maxRegisterBody)}
		}
		return "", badRequest(`invalid JSON body: %v; want {"user_id_from_host_app": "..."}`, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", badRequest(`invalid JSON body: unexpected data after the object; want {"user_id_from_host_app": "..."}`)
	}
	if req.UserIDFromHostApp == nil {
		return "", badRequest("user_id_from_host_app: field required")
	}
	id := *req.UserIDFromHostApp
	switch {
	case id == "" || isBlank(id):
		return "", badRequest("user_id_from_host_app: must not be empty")
	case len(id) > maxHostUserID:
		return "", badRequest("user_id_from_host_app: longer than %d bytes", maxHostUserID)
	case !utf8.ValidString(id):
		return "", badRequest("user_id_from_host_app: not valid UTF-8")
	case hasControl(id):
		return "", badRequest("user_id_from_host_app: must not contain control characters")
	}
	return id, nil
}

func isBlank(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// serveRegisterUser is POST /{tenant}/plexus-auth/register-user: a host
// application (X-Host-App-Secret) registers one of its users and gets a
// Plexus user token. Registering the same host user id again returns the
// same persistent id and a new token.
func (s *Server) serveRegisterUser(w http.ResponseWriter, r *http.Request) {
	tenantID := r.PathValue("tenant")
	ctx := r.Context()
	if msg, bad := foreignRequest(r); bad {
		writeDetail(w, http.StatusForbidden, msg)
		return
	}
	t, err := s.store.GetTenant(ctx, tenantID)
	if err != nil {
		if errors.Is(err, vault.ErrNotFound) || errors.Is(err, vault.ErrInvalid) {
			writeDetail(w, http.StatusNotFound, unknownTenantMessage(tenantID))
			return
		}
		s.log.ErrorContext(ctx, "Looking up tenant", "tenant", tenantID, "err", err)
		writeDetail(w, http.StatusInternalServerError, "internal error looking up the tenant")
		return
	}

	presented := r.Header.Get("X-Host-App-Secret")
	if !t.HasHostAppSecret && s.defaultSecret == "" {
		writeDetail(w, http.StatusForbidden, fmt.Sprintf("host-app registration is not configured for tenant %q: "+
			"give the tenant a host-app secret (admin API or CLI) or start the daemon with HOST_APP_REGISTRATION_SECRET set", tenantID))
		return
	}
	if presented == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="Plexus Host App Registration"`)
		writeDetail(w, http.StatusUnauthorized, "Not authorized: X-Host-App-Secret header missing.")
		return
	}
	var ok bool
	if t.HasHostAppSecret {
		ok, err = s.store.CheckHostAppSecret(ctx, tenantID, presented)
		if err != nil {
			s.log.ErrorContext(ctx, "Checking host-app secret", "tenant", tenantID, "err", err)
			writeDetail(w, http.StatusInternalServerError, "internal error checking the host-app secret")
			return
		}
	} else {
		ok = subtle.ConstantTimeCompare([]byte(presented), []byte(s.defaultSecret)) == 1
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="Plexus Host App Registration"`)
		writeDetail(w, http.StatusForbidden, "Forbidden: Invalid X-Host-App-Secret.")
		return
	}

	hostUserID, err := parseRegisterBody(r.Header.Get("Content-Type"), http.MaxBytesReader(w, r.Body, maxRegisterBody))
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			writeDetail(w, he.status, he.msg)
			return
		}
		writeDetail(w, http.StatusBadRequest, err.Error())
		return
	}

	u, created, err := s.store.EnsureUser(ctx, tenantID, hostUserID)
	if err != nil {
		s.log.ErrorContext(ctx, "Registering user", "tenant", tenantID, "err", err)
		writeDetail(w, http.StatusInternalServerError, "Could not process user token: internal error storing the user")
		return
	}
	token, info, err := s.store.IssueToken(ctx, tenantID, u.ID, s.userTokenTTL)
	if err != nil {
		s.log.ErrorContext(ctx, "Issuing user token", "tenant", tenantID, "err", err)
		writeDetail(w, http.StatusInternalServerError, "Could not process user token: internal error issuing the token")
		return
	}
	s.log.InfoContext(ctx, "Registered host-app user", "tenant", tenantID, "user", u.ID, "created", created, "tokenID", info.ID)
	writeJSON(w, http.StatusOK, registerResponse{Token: token, PersistentUserID: u.ID, Message: registeredMessage})
}
