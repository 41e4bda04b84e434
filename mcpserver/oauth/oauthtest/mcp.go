package oauthtest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
)

// The authorization server side of MCP authorization: RFC 8414 metadata
// and RFC 7591 dynamic client registration, on the Provider's own
// origin.
//
//	GET  /.well-known/oauth-authorization-server   metadata (issuer = URL)
//	POST /register                                 registration: answers 201 with ClientID and ClientSecret

// mcpAS holds the metadata and registration hooks and records.
type mcpAS struct {
	mu            sync.Mutex
	metadata      func(map[string]any)
	registration  func(map[string]any)
	registered    []Registration
	metadataReads int
}

// Registration is one RFC 7591 registration request the Provider got.
type Registration struct {
	ClientName   string   `json:"client_name"`
	RedirectURIs []string `json:"redirect_uris"`
	GrantTypes   []string `json:"grant_types"`
	AuthMethod   string   `json:"token_endpoint_auth_method"`
}

func (p *Provider) mcpRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", p.handleASMetadata)
	mux.HandleFunc("POST /register", p.handleRegister)
}

// Metadata returns the Provider's authorization server metadata as it
// serves it now.
func (p *Provider) Metadata() map[string]any {
	m := map[string]any{
		"issuer":                                p.URL,
		"authorization_endpoint":                p.AuthorizationURL(),
		"token_endpoint":                        p.TokenURL(),
		"registration_endpoint":                 p.URL + "/register",
		"revocation_endpoint":                   p.RevocationURL(),
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	}
	p.mcp.mu.Lock()
	f := p.mcp.metadata
	p.mcp.mu.Unlock()
	if f != nil {
		f(m)
	}
	return m
}

// EditMetadata makes the metadata endpoint serve what f makes of the
// default document (a hostile or broken server, for tests).
func (p *Provider) EditMetadata(f func(map[string]any)) {
	p.mcp.mu.Lock()
	p.mcp.metadata = f
	p.mcp.mu.Unlock()
}

// EditRegistration makes the registration endpoint answer what f makes
// of the default answer.
func (p *Provider) EditRegistration(f func(map[string]any)) {
	p.mcp.mu.Lock()
	p.mcp.registration = f
	p.mcp.mu.Unlock()
}

// Registrations returns the registration requests received so far.
func (p *Provider) Registrations() []Registration {
	p.mcp.mu.Lock()
	defer p.mcp.mu.Unlock()
	return slices.Clone(p.mcp.registered)
}

func (p *Provider) handleASMetadata(w http.ResponseWriter, _ *http.Request) {
	p.mcp.mu.Lock()
	p.mcp.metadataReads++
	p.mcp.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(p.Metadata())
}

func (p *Provider) handleRegister(w http.ResponseWriter, r *http.Request) {
	var reg Registration
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&reg); err != nil || len(reg.RedirectURIs) == 0 {
		tokenError(w, http.StatusBadRequest, "invalid_client_metadata", "redirect_uris required")
		return
	}
	p.mcp.mu.Lock()
	p.mcp.registered = append(p.mcp.registered, reg)
	f := p.mcp.registration
	p.mcp.mu.Unlock()
	ans := map[string]any{
		"client_id":                  p.ClientID,
		"client_secret":              p.ClientSecret,
		"redirect_uris":              reg.RedirectURIs,
		"token_endpoint_auth_method": "client_secret_basic",
	}
	if f != nil {
		f(ans)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(ans)
}
