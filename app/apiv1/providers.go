package apiv1

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on scopes.
const (
	MaxScopes     = 100
	MaxScopeBytes = 256
)

// Scopes is a list of OAuth scopes. In a request it may be a JSON array
// of strings or one space-separated string ("read:user repo", as the seed
// CLI sends); each array element is split on spaces too. Empty entries are
// dropped.
type Scopes []string

// UnmarshalJSON accepts an array of strings or a space-separated string,
// and checks the scopes as ParseScopes does.
func (s *Scopes) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var raw []string
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		raw = []string{one}
	} else if err := json.Unmarshal(b, &raw); err != nil {
		return scopesError("must be an array of strings or a space-separated string")
	}
	out, err := ParseScopes(raw...)
	if err != nil {
		return err
	}
	*s = out
	return nil
}

// ParseScopes splits each of raw on white space and checks the scopes: at
// most MaxScopes of at most MaxScopeBytes each, valid UTF-8, none with a
// control character, quote or backslash. The result is never nil. Its error is a
// *FieldError for "scopes".
func ParseScopes(raw ...string) (Scopes, error) {
	out := Scopes{}
	for _, r := range raw {
		for _, sc := range strings.Fields(r) {
			if len(sc) > MaxScopeBytes {
				return nil, scopesError(fmt.Sprintf("a scope is longer than %d bytes", MaxScopeBytes))
			}
			if !utf8.ValidString(sc) {
				return nil, scopesError("a scope is not valid UTF-8")
			}
			if strings.IndexFunc(sc, func(r rune) bool { return r < 0x21 || r == 0x7f || r == '"' || r == '\\' }) >= 0 {
				return nil, scopesError("a scope contains a control character, quote or backslash")
			}
			out = append(out, sc)
		}
	}
	if len(out) > MaxScopes {
		return nil, scopesError(fmt.Sprintf("more than %d scopes", MaxScopes))
	}
	return out, nil
}

func scopesError(msg string) error {
	return &FieldError{Field: "scopes", Err: errors.New(`field "scopes" ` + msg)}
}

// Preset is a well-known provider's endpoints, default scopes and API
// origins, so a user only pastes a client id and secret.
type Preset struct {
	Name             string   `json:"name"`
	DisplayName      string   `json:"display_name"`
	AuthorizationURL string   `json:"authorization_url"`
	TokenURL         string   `json:"token_url"`
	UserinfoURL      string   `json:"userinfo_url,omitempty"`
	RevocationURL    string   `json:"revocation_url,omitempty"`
	Scopes           []string `json:"scopes"`
	APIOrigins       []string `json:"api_origins"`
}

// PresetList is the answer of GET /api/v1/oauth-presets.
type PresetList struct {
	Presets []Preset `json:"presets"`
}

// ProviderRequest is the body of POST /api/v1/tenants/{id}/ext-oauth. With
// Preset set (see GET /api/v1/oauth-presets) the URLs and default scopes
// come from the preset, the provider name defaults to the preset's, and
// only ClientID and ClientSecret are needed; explicit fields override the
// preset.
type ProviderRequest struct {
	ProviderName     string `json:"provider_name,omitempty"`
	Preset           string `json:"preset,omitempty"`
	ClientID         string `json:"client_id"`
	ClientSecret     string `json:"client_secret"`
	AuthorizationURL string `json:"authorization_url,omitempty"`
	TokenURL         string `json:"token_url,omitempty"`
	UserinfoURL      string `json:"userinfo_url,omitempty"`
	RevocationURL    string `json:"revocation_url,omitempty"`
	Resource         string `json:"resource,omitempty"`
	Scopes           Scopes `json:"scopes,omitempty"`
	// APIOrigins are the origins (https://host[:port]) the provider's
	// access tokens may be sent to. A preset brings its own; a custom
	// provider without them gets its userinfo URL's origin, and without a
	// userinfo URL must name them.
	APIOrigins []string `json:"api_origins,omitempty"`
}

// ProviderPatch is the body of PATCH /api/v1/tenants/{id}/ext-oauth/{p}:
// only the fields present change. A preset given here re-applies its URLs,
// scopes and API origins before the other fields present; "preset":"" only
// clears the label.
//
// Where a secret goes is part of the secret: a change of
// authorization_url, token_url, revocation_url, userinfo_url, client_id or
// api_origins needs client_secret in the same request (400 naming the
// field otherwise) and drops every user's connection to the provider (the
// answer's connections_dropped; they consent again). Otherwise an omitted
// client_secret keeps the stored one.
type ProviderPatch struct {
	Preset           *string   `json:"preset,omitempty"`
	ClientID         *string   `json:"client_id,omitempty"`
	ClientSecret     *string   `json:"client_secret,omitempty"`
	AuthorizationURL *string   `json:"authorization_url,omitempty"`
	TokenURL         *string   `json:"token_url,omitempty"`
	UserinfoURL      *string   `json:"userinfo_url,omitempty"`
	RevocationURL    *string   `json:"revocation_url,omitempty"`
	Resource         *string   `json:"resource,omitempty"`
	Scopes           *Scopes   `json:"scopes,omitempty"`
	APIOrigins       *[]string `json:"api_origins,omitempty"`
}

// Provider is an external OAuth provider as the admin API shows it: never
// with its client secret, only whether one is set.
type Provider struct {
	TenantID         string   `json:"entity_id"`
	Name             string   `json:"provider_name"`
	Preset           string   `json:"preset,omitempty"`
	ClientID         string   `json:"client_id"`
	ClientSecretSet  bool     `json:"client_secret_set"`
	AuthorizationURL string   `json:"authorization_url"`
	TokenURL         string   `json:"token_url"`
	UserinfoURL      string   `json:"userinfo_url,omitempty"`
	RevocationURL    string   `json:"revocation_url,omitempty"`
	Scopes           []string `json:"scopes"`
	Resource         string   `json:"resource,omitempty"`
	// APIOrigins are where the provider's access tokens may be sent.
	APIOrigins []string `json:"api_origins"`
	// RedirectURL is the callback URL to register with the provider (when
	// the daemon knows it).
	RedirectURL string    `json:"redirect_url,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ProviderBody is the answer of POST (201) and GET
// /api/v1/tenants/{id}/ext-oauth[/{p}].
type ProviderBody struct {
	Provider Provider `json:"provider"`
}

// ProviderList is the answer of GET /api/v1/tenants/{id}/ext-oauth.
type ProviderList struct {
	Providers []Provider `json:"providers"`
}

// ProviderUpdate is the answer of PATCH /api/v1/tenants/{id}/ext-oauth/{p}.
type ProviderUpdate struct {
	Provider Provider `json:"provider"`
	// ConnectionsDropped counts the users' (and guests') connections to
	// the provider that the change dropped (a destination changed).
	ConnectionsDropped int    `json:"connections_dropped"`
	Message            string `json:"message,omitempty"`
}
