package tools

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/plexus-mcp/plexus/mcpserver/oauth"
	"github.com/plexus-mcp/plexus/vault"
)

// Requirement is the credential a tool needs before it can run. Set one of
// OAuth or APIKey (both is allowed: the tool then needs both). When the
// caller lacks it, Plexus does not call the handler: it answers with a
// structured result telling the user how to get it (an authorization URL,
// or where to enter the API key).
type Requirement struct {
	// OAuth asks for a connection to an external OAuth provider.
	OAuth *OAuthRequirement
	// APIKey asks for an API key the user stored for a provider.
	APIKey *APIKeyRequirement
}

// OAuthRequirement names a tenant's external OAuth provider (as configured
// with `plexus admin ext-oauth create --provider-name`; the name follows
// vault.ValidateProviderName) and the scopes the tool needs (nil: the
// provider's configured scopes).
type OAuthRequirement struct {
	Provider string
	Scopes   []string
}

// APIKeyRequirement names the provider of an API key (vault.ValidateProviderName:
// lowercase letters, digits, "-" and "_"), how to call it in
// front of a user (DisplayName, e.g. "OpenWeatherMap API key") and how to
// get one (Instructions, e.g. a sign-up URL).
//
// As in MCP Plexus, a tool whose input schema (Definition.InputSchema, not
// RawInputSchema) has a property named APIKeyArgument(Provider) gets the key
// in that argument, overwriting whatever the client sent; the property is
// hidden from tools/list so a model never asks the user for it.
type APIKeyRequirement struct {
	Provider     string
	DisplayName  string
	Instructions string
}

// APIKeyArgument is the name of the argument an API key is injected into
// for provider (MCP Plexus's convention): "<provider>_api_key", lower case,
// with "-" and " " replaced by "_".
func APIKeyArgument(provider string) string {
	return strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToLower(provider)) + "_api_key"
}

func (r *Requirement) validate() error {
	if r == nil {
		return nil
	}
	if r.OAuth == nil && r.APIKey == nil {
		return errors.New("tool requirement names neither OAuth nor APIKey")
	}
	// The vault's rule: a provider it cannot store could never be set up.
	if r.OAuth != nil {
		if err := vault.ValidateProviderName(r.OAuth.Provider); err != nil {
			return fmt.Errorf("tool requirement OAuth.Provider: %w", err)
		}
	}
	if r.APIKey != nil {
		if err := vault.ValidateProviderName(r.APIKey.Provider); err != nil {
			return fmt.Errorf("tool requirement APIKey.Provider: %w", err)
		}
		if strings.TrimSpace(r.APIKey.DisplayName) == "" {
			return errors.New("tool requirement APIKey.DisplayName: must not be empty")
		}
	}
	return nil
}

func (r *Requirement) clone() *Requirement {
	if r == nil {
		return nil
	}
	c := &Requirement{}
	if r.OAuth != nil {
		o := *r.OAuth
		o.Scopes = slices.Clone(o.Scopes)
		c.OAuth = &o
	}
	if r.APIKey != nil {
		k := *r.APIKey
		c.APIKey = &k
	}
	return c
}

// ErrAPIKeyMissing is returned (wrapped) by APIKey when the caller has not
// stored a key for the provider. A handler may return it (or an error
// wrapping it, or oauth.ErrConsentRequired) and Plexus answers with the
// structured "API key required" (or "authorization required") result.
var ErrAPIKeyMissing = errors.New("api key missing")

// ErrNoCredentials is returned when the request context carries no
// Credentials (a handler run outside Plexus's MCP endpoint).
var ErrNoCredentials = errors.New("no credentials in the request context")

// ErrConsentRequired is oauth.ErrConsentRequired, repeated here so tool
// code needs one import: the caller must (re)connect the provider.
var ErrConsentRequired = oauth.ErrConsentRequired

// Credentials hands a request's caller their own credentials. The MCP
// endpoint installs one per request, bound to the caller (tenant, user or
// guest session); it never returns another caller's token or key.
type Credentials interface {
	// HTTPClient returns a client that sends the caller's OAuth token for
	// provider and refreshes it itself. Errors wrap
	// oauth.ErrConsentRequired when the caller must (re)connect,
	// oauth.ErrUnknownProvider when the tenant has no such provider, and
	// ErrNoSession for a guest without a session.
	HTTPClient(ctx context.Context, provider string, scopes []string) (*http.Client, error)
	// APIKey returns the caller's API key for provider, or an error
	// wrapping ErrAPIKeyMissing (or ErrNoSession for a guest without a
	// session).
	APIKey(ctx context.Context, provider string) (string, error)
}

type credentialsKey struct{}

// WithCredentials returns a context carrying c.
func WithCredentials(ctx context.Context, c Credentials) context.Context {
	return context.WithValue(ctx, credentialsKey{}, c)
}

type requirementKey struct{}

// WithRequirement returns a context saying which credential the running
// tool declared; AuthenticatedClient takes its scopes from it.
func WithRequirement(ctx context.Context, r *Requirement) context.Context {
	return context.WithValue(ctx, requirementKey{}, r)
}

// RequirementFrom returns the running tool's declared requirement, if any.
func RequirementFrom(ctx context.Context) (*Requirement, bool) {
	r, ok := ctx.Value(requirementKey{}).(*Requirement)
	return r, ok && r != nil
}

// AuthenticatedClient returns an *http.Client that authenticates the
// request's caller to the OAuth provider and refreshes its token itself.
// The scopes are those the running tool declared in Requires.OAuth (for
// that provider), else the provider's configured ones.
//
// An error wrapping oauth.ErrConsentRequired (also ErrConsentRequired) means
// the caller has to connect the provider first; return it from the handler
// and Plexus turns it into the authorization result. Requests made with the
// client return errors wrapping it too when the connection dies mid-call.
func AuthenticatedClient(ctx context.Context, provider string) (*http.Client, error) {
	c, ok := ctx.Value(credentialsKey{}).(Credentials)
	if !ok || c == nil {
		return nil, ErrNoCredentials
	}
	var scopes []string
	if r, ok := RequirementFrom(ctx); ok && r.OAuth != nil && r.OAuth.Provider == provider {
		scopes = r.OAuth.Scopes
	}
	hc, err := c.HTTPClient(ctx, provider, scopes)
	if err != nil {
		return nil, fmt.Errorf("oauth client for %q: %w", provider, err)
	}
	return hc, nil
}

// APIKey returns the request caller's API key for provider, or an error
// wrapping ErrAPIKeyMissing. Never log or echo the key.
func APIKey(ctx context.Context, provider string) (string, error) {
	c, ok := ctx.Value(credentialsKey{}).(Credentials)
	if !ok || c == nil {
		return "", ErrNoCredentials
	}
	k, err := c.APIKey(ctx, provider)
	if err != nil {
		return "", fmt.Errorf("api key for %q: %w", provider, err)
	}
	return k, nil
}

// IsCredentialError reports whether err means the caller lacks a credential
// (consent required, API key missing, or a guest without a session); a
// handler returns such errors as they are and Plexus answers with the
// structured result.
func IsCredentialError(err error) bool {
	return errors.Is(err, oauth.ErrConsentRequired) || errors.Is(err, ErrAPIKeyMissing) || errors.Is(err, ErrNoSession)
}
