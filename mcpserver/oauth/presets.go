package oauth

import "slices"

// presets returns fresh copies of the built-in presets (no shared state).
// vault/migrate_v3.go keeps a frozen copy of their API origins for the
// schema migration that introduced them.
func presets() []Preset {
	return []Preset{
		{
			Name:             "github",
			DisplayName:      "GitHub",
			AuthorizationURL: "https://github.com/login/oauth/authorize",
			TokenURL:         "https://github.com/login/oauth/access_token",
			UserinfoURL:      "https://api.github.com/user",
			Scopes:           []string{"read:user"},
			APIOrigins:       []string{"https://api.github.com"},
		},
		{
			Name:             "google",
			DisplayName:      "Google",
			AuthorizationURL: "https://accounts.google.com/o/oauth2/v2/auth",
			TokenURL:         "https://oauth2.googleapis.com/token",
			UserinfoURL:      "https://openidconnect.googleapis.com/v1/userinfo",
			RevocationURL:    "https://oauth2.googleapis.com/revoke",
			Scopes:           []string{"openid", "email", "profile"},
			APIOrigins:       []string{"https://openidconnect.googleapis.com", "https://www.googleapis.com"},
		},
		{
			Name:             "slack",
			DisplayName:      "Slack",
			AuthorizationURL: "https://slack.com/oauth/v2/authorize",
			TokenURL:         "https://slack.com/api/oauth.v2.access",
			RevocationURL:    "https://slack.com/api/auth.revoke",
			Scopes:           []string{"users:read"},
			APIOrigins:       []string{"https://slack.com"},
		},
		{
			Name:             "microsoft",
			DisplayName:      "Microsoft",
			AuthorizationURL: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
			TokenURL:         "https://login.microsoftonline.com/common/oauth2/v2.0/token",
			UserinfoURL:      "https://graph.microsoft.com/oidc/userinfo",
			Scopes:           []string{"openid", "profile", "offline_access", "User.Read"},
			APIOrigins:       []string{"https://graph.microsoft.com"},
		},
	}
}

// Presets returns the built-in provider presets (github, google, slack,
// microsoft). The slice is a fresh copy each call.
func Presets() []Preset { return presets() }

// LookupPreset returns a preset by name.
func LookupPreset(name string) (Preset, bool) {
	i := slices.IndexFunc(presets(), func(p Preset) bool { return p.Name == name })
	if i < 0 {
		return Preset{}, false
	}
	return presets()[i], true
}

// presetAuthParams are extra authorization parameters a preset needs:
// Google only issues a refresh token with access_type=offline (and again
// on a repeat consent only with prompt=consent).
func presetAuthParams(preset string) map[string]string {
	if preset == "google" {
		return map[string]string{"access_type": "offline", "prompt": "consent"}
	}
	return nil
}
