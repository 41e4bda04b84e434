package mcpserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/plexus-mcp/plexus/vault"
)

const (
	// maxRegisterBody bounds a register-user body.
	maxRegisterBody = 64 << 10
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

// parseRegisterBody reads a register-user body and returns the host user
// id, checked with vault.ValidateHostUserID. Errors are *httpError.
//
// The body is JSON whatever the Content-Type says: `curl -d` sends
// application/x-www-form-urlencoded, and MCP Plexus's own examples rely on
// it. This opens no cross-site door: a browser cannot send the
// X-Host-App-Secret header (or an Authorization header, on the api-keys
// endpoint) without a CORS preflight, which Plexus never grants, and a
// foreign Origin is refused outright.
func parseRegisterBody(body io.Reader) (string, error) {
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
	if err := vault.ValidateHostUserID(id); err != nil {
		return "", badRequest("%v", err)
	}
	return id, nil
}

// serveRegisterUser is POST /{tenant}/plexus-auth/register-user: a host
// application (X-Host-App-Secret: the tenant's own secret or
// HOST_APP_REGISTRATION_SECRET, either works) registers one of its users and
// gets a Plexus user token. The persistent id of a new user is its host user
// id. Registering the same host user id again returns the same persistent
// id and a new token; the earlier tokens stay valid until revoked or
// expired. Reserved ids (the local owner's) are refused with 400.
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
	// As in MCP Plexus, HOST_APP_REGISTRATION_SECRET opens every tenant;
	// a tenant's own secret opens that tenant.
	ok := vault.SecretMatches(presented, s.defaultSecret)
	if t.HasHostAppSecret {
		own, err := s.store.CheckHostAppSecret(ctx, tenantID, presented)
		if err != nil {
			s.log.ErrorContext(ctx, "Checking host-app secret", "tenant", tenantID, "err", err)
			writeDetail(w, http.StatusInternalServerError, "internal error checking the host-app secret")
			return
		}
		ok = ok || own
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="Plexus Host App Registration"`)
		writeDetail(w, http.StatusForbidden, "Forbidden: Invalid X-Host-App-Secret.")
		return
	}

	hostUserID, err := parseRegisterBody(http.MaxBytesReader(w, r.Body, maxRegisterBody))
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
	switch {
	case errors.Is(err, vault.ErrInvalid):
		writeDetail(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, vault.ErrExists):
		writeDetail(w, http.StatusConflict, err.Error())
		return
	case err != nil:
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
