package oauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Slack's OAuth v2 (https://api.slack.com/authentication/oauth-v2) departs
// from RFC 6749 where x/oauth2 cannot follow it: a user token is asked for
// with user_scope (comma-separated) rather than scope, the token answer
// carries it under "authed_user" with no top-level access_token, and errors
// come back as HTTP 200 {"ok":false,"error":"..."}. Plexus acts for the
// person, so the slack preset asks for user tokens, and slackTransport
// rewrites Slack's token answers into the standard shape.

// slackPreset is the preset name whose providers get Slack's treatment.
const slackPreset = "slack"

// slackAuthParam is the authorization parameter carrying the scopes of a
// Slack user token.
func slackAuthParam(scopes []string) (key, value string) {
	return "user_scope", strings.Join(scopes, ",")
}

// slackGrantErrors are Slack token errors that mean the code or refresh
// token is no good: they become invalid_grant, so a dead refresh token
// marks the connection expired as with any provider.
var slackGrantErrors = map[string]bool{
	"invalid_code":          true,
	"code_already_used":     true,
	"code_expired":          true,
	"invalid_refresh_token": true,
	"token_expired":         true,
	"token_revoked":         true,
}

// slackTransport rewrites answers of Slack's token endpoint (POSTs to
// tokenURL) into RFC 6749 form; other requests pass through.
type slackTransport struct {
	base     http.RoundTripper
	tokenURL string
}

func (st slackTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := st.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil || !isTokenRequest(req, st.tokenURL) || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read slack token answer: %w", err)
	}
	status, body := normalizeSlackToken(raw)
	resp.StatusCode, resp.Status = status, strconv.Itoa(status)+" "+http.StatusText(status)
	resp.Header = resp.Header.Clone()
	resp.Header.Set("Content-Type", "application/json")
	resp.Header.Del("Content-Length")
	resp.ContentLength = int64(len(body))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// normalizeSlackToken turns a Slack token answer into an RFC 6749 one:
// {"ok":false,"error":e} becomes 400 {"error":...}; a user token under
// "authed_user" is lifted to the top level (scopes space-separated).
// Anything else is returned unchanged with 200.
func normalizeSlackToken(raw []byte) (int, []byte) {
	var ans struct {
		OK          *bool          `json:"ok"`
		Error       string         `json:"error"`
		AccessToken string         `json:"access_token"`
		AuthedUser  map[string]any `json:"authed_user"`
	}
	if json.Unmarshal(raw, &ans) != nil || ans.OK == nil {
		return http.StatusOK, raw
	}
	if !*ans.OK {
		code := ans.Error
		switch {
		case code == "":
			code = "invalid_request"
		case slackGrantErrors[code]:
			code = "invalid_grant"
		}
		b, _ := json.Marshal(map[string]string{"error": code, "error_description": "Slack: " + ans.Error})
		return http.StatusBadRequest, b
	}
	if ans.AccessToken != "" || ans.AuthedUser["access_token"] == nil {
		return http.StatusOK, raw
	}
	out := map[string]any{}
	for _, k := range []string{"access_token", "token_type", "refresh_token", "expires_in", "scope"} {
		if v, ok := ans.AuthedUser[k]; ok {
			out[k] = v
		}
	}
	if s, ok := out["scope"].(string); ok {
		out["scope"] = strings.ReplaceAll(s, ",", " ")
	}
	b, err := json.Marshal(out)
	if err != nil {
		return http.StatusOK, raw
	}
	return http.StatusOK, b
}
