package mcpserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/plexus-mcp/plexus/mcpserver/tools"
	"github.com/plexus-mcp/plexus/vault"
)

// maxAPIKeyBody bounds an api-keys POST body.
const maxAPIKeyBody = 64 << 10

// apiKeyRequest is the POST /{tenant}/plexus-services/api-keys body (MCP
// Plexus's UserApiKeySubmissionRequest).
type apiKeyRequest struct {
	ProviderName *string `json:"provider_name"`
	APIKeyValue  *string `json:"api_key_value"`
}

// apiKeyInfo is one entry of the GET answer: a name, never a value.
type apiKeyInfo struct {
	ProviderName string    `json:"provider_name"`
	UpdatedAt    time.Time `json:"updated_at"`
}

const apiKeyBodyShape = `want {"provider_name": "...", "api_key_value": "..."}`

// parseAPIKeyBody reads an api-keys POST body: JSON whatever the
// Content-Type says (see parseRegisterBody). Errors are *httpError and
// never contain the key.
func parseAPIKeyBody(body io.Reader) (provider, key string, err error) {
	dec := json.NewDecoder(body)
	var req apiKeyRequest
	if err := dec.Decode(&req); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return "", "", &httpError{status: http.StatusRequestEntityTooLarge,
				msg: fmt.Sprintf("request body larger than %d bytes", maxAPIKeyBody)}
		}
		// The decoder's message may quote the input (the key): say only where.
		return "", "", badRequest("invalid JSON body (%s); %s", jsonErrorKind(err), apiKeyBodyShape)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", "", badRequest("invalid JSON body: unexpected data after the object; %s", apiKeyBodyShape)
	}
	switch {
	case req.ProviderName == nil:
		return "", "", badRequest("provider_name: field required")
	case req.APIKeyValue == nil:
		return "", "", badRequest("api_key_value: field required")
	}
	provider, key = *req.ProviderName, *req.APIKeyValue
	if err := validProviderName(provider); err != nil {
		return "", "", err
	}
	if err := vault.ValidateAPIKeyValue(key); err != nil {
		return "", "", badRequest("api_key_value: %v", err)
	}
	return provider, key, nil
}

// validProviderName checks a provider name with vault.ValidateProviderName
// (the one rule for provider names); the error is an *httpError (400).
func validProviderName(p string) error {
	if err := vault.ValidateProviderName(p); err != nil {
		return badRequest("provider_name: %v", err)
	}
	return nil
}

// jsonErrorKind describes a JSON decoding error without quoting input.
func jsonErrorKind(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("%s must be a string", typ.Field)
		}
		return "want a JSON object"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "empty or truncated body"
	}
	return "malformed"
}

// clipText shortens a non-secret input for an error message.
func clipText(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return s
}

// apiKeyCaller authenticates an api-keys request: a user token of the
// tenant or the local token (the tenant's local owner). It writes the error
// answer and returns false when the caller may not use the endpoint.
func (s *Server) apiKeyCaller(w http.ResponseWriter, r *http.Request) (tools.Caller, bool) {
	ctx := r.Context()
	tenantID := r.PathValue("tenant")
	if msg, bad := foreignRequest(r); bad {
		writeDetail(w, http.StatusForbidden, msg)
		return tools.Caller{}, false
	}
	if _, err := s.tenant(ctx, tenantID); err != nil {
		if errors.Is(err, errUnknownTenant) {
			writeDetail(w, http.StatusNotFound, unknownTenantMessage(tenantID))
			return tools.Caller{}, false
		}
		s.log.ErrorContext(ctx, "Looking up tenant", "tenant", tenantID, "err", err)
		writeDetail(w, http.StatusInternalServerError, "internal error looking up the tenant")
		return tools.Caller{}, false
	}
	c, err := s.authenticate(ctx, tenantID, r)
	switch {
	case errors.Is(err, errBadToken):
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeDetail(w, http.StatusUnauthorized, msgBadToken)
		return c, false
	case err != nil:
		s.log.ErrorContext(ctx, "Authenticating API-key request", "tenant", tenantID, "err", err)
		writeDetail(w, http.StatusInternalServerError, "internal error checking the token")
		return c, false
	case c.Guest:
		// A guest's credentials live in its MCP session, and this endpoint
		// has none: a key stored here could never be found again.
		w.Header().Set("WWW-Authenticate", `Bearer realm="plexus"`)
		writeDetail(w, http.StatusUnauthorized, "Not authenticated: API keys are stored per user. Send Authorization: Bearer "+
			"<Plexus user token> (from POST /"+tenantID+"/plexus-auth/register-user).")
		return c, false
	}
	return c, true
}

// serveAPIKeyPut is POST /{tenant}/plexus-services/api-keys: stores (or
// replaces) the caller's key for a provider, sealed in the vault.
func (s *Server) serveAPIKeyPut(w http.ResponseWriter, r *http.Request) {
	c, ok := s.apiKeyCaller(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	provider, key, err := parseAPIKeyBody(http.MaxBytesReader(w, r.Body, maxAPIKeyBody))
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			writeDetail(w, he.status, he.msg)
			return
		}
		writeDetail(w, http.StatusBadRequest, "invalid request body")
		return
	}
	if err := s.store.PutCredential(ctx, c.TenantID, c.UserID, vault.CredentialAPIKey, provider, []byte(key)); err != nil {
		if errors.Is(err, vault.ErrInvalid) {
			writeDetail(w, http.StatusBadRequest, fmt.Sprintf("provider_name %q: not accepted by the store", clipText(provider)))
			return
		}
		s.log.ErrorContext(ctx, "Storing API key", "tenant", c.TenantID, "user", c.UserID, "provider", provider, "err", err)
		writeDetail(w, http.StatusInternalServerError, "Failed to save API key: internal error storing it.")
		return
	}
	s.log.InfoContext(ctx, "Stored API key", "tenant", c.TenantID, "user", c.UserID, "provider", provider)
	writeJSON(w, http.StatusOK, map[string]string{
		"message": fmt.Sprintf("API key for provider '%s' was successfully saved/updated.", provider),
	})
}

// serveAPIKeyList is GET /{tenant}/plexus-services/api-keys: the caller's
// key names, never values.
func (s *Server) serveAPIKeyList(w http.ResponseWriter, r *http.Request) {
	c, ok := s.apiKeyCaller(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	infos, err := s.store.ListCredentials(ctx, c.TenantID, c.UserID)
	if err != nil {
		s.log.ErrorContext(ctx, "Listing API keys", "tenant", c.TenantID, "user", c.UserID, "err", err)
		writeDetail(w, http.StatusInternalServerError, "internal error listing API keys")
		return
	}
	out := []apiKeyInfo{}
	for _, in := range infos {
		if in.Kind == vault.CredentialAPIKey && in.UserID == c.UserID && in.TenantID == c.TenantID {
			out = append(out, apiKeyInfo{ProviderName: in.Provider, UpdatedAt: in.UpdatedAt})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"api_keys": out})
}

// serveAPIKeyDelete is DELETE /{tenant}/plexus-services/api-keys/{provider_name}.
func (s *Server) serveAPIKeyDelete(w http.ResponseWriter, r *http.Request) {
	c, ok := s.apiKeyCaller(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	provider := r.PathValue("provider_name")
	if err := validProviderName(provider); err != nil {
		var he *httpError
		errors.As(err, &he)
		writeDetail(w, he.status, he.msg)
		return
	}
	err := s.store.DeleteCredential(ctx, c.TenantID, c.UserID, vault.CredentialAPIKey, provider)
	switch {
	case errors.Is(err, vault.ErrNotFound):
		writeDetail(w, http.StatusNotFound, fmt.Sprintf("no API key stored for provider '%s'", provider))
		return
	case err != nil:
		s.log.ErrorContext(ctx, "Deleting API key", "tenant", c.TenantID, "user", c.UserID, "provider", provider, "err", err)
		writeDetail(w, http.StatusInternalServerError, "internal error deleting the API key")
		return
	}
	s.log.InfoContext(ctx, "Deleted API key", "tenant", c.TenantID, "user", c.UserID, "provider", provider)
	writeJSON(w, http.StatusOK, map[string]string{
		"message": fmt.Sprintf("API key for provider '%s' was deleted.", provider),
	})
}
