package ui

// The Activity page's second list: the audit log's records other than
// tool calls (settings changed in the window or through the admin API,
// credentials stored or removed, sign-ins), newest first, in words.

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/frontend"
	"github.com/plexus-mcp/plexus/mcpserver/audit"
	"github.com/plexus-mcp/plexus/vault"
)

// changesShown is how many changes and sign-ins the Activity page lists.
const changesShown = 20

// changesWait bounds reading them; past it the page goes without.
const changesWait = 3 * time.Second

// changeKinds are the records the list shows.
var changeKinds = []audit.Kind{audit.KindAdmin, audit.KindCredential, audit.KindLogin}

// recentChanges reads the newest changes and sign-ins of every kind.
func (h *Handler) recentChanges(ctx context.Context, now time.Time) ([]frontend.ChangeRow, error) {
	var all []apiv1.AuditRecord
	for _, k := range changeKinds {
		res, err := h.opts.Activity.Audit(ctx, apiv1.AuditQuery{Kind: string(k), Limit: changesShown})
		if err != nil {
			return nil, err
		}
		all = append(all, res.Records...)
	}
	slices.SortStableFunc(all, func(a, b apiv1.AuditRecord) int { return b.Time.Compare(a.Time) })
	rows := make([]frontend.ChangeRow, 0, min(len(all), changesShown))
	for _, r := range all[:min(len(all), changesShown)] {
		rows = append(rows, changeRow(r, now))
	}
	return rows, nil
}

// changeOutcomes are the results as the list names them.
var changeOutcomes = map[audit.Outcome]outcomeWord{
	audit.OutcomeOK:     {"Done", frontend.StatusOK},
	audit.OutcomeDenied: {"Refused", frontend.StatusWarn},
	audit.OutcomeFailed: {"Failed", frontend.StatusBad},
}

// changeRow is a record in words.
func changeRow(r apiv1.AuditRecord, now time.Time) frontend.ChangeRow {
	row := frontend.ChangeRow{What: changeWords(r), By: actorWords(r), Tenant: r.Tenant}
	row.When, row.WhenFull = whenWords(r.Time, now)
	o, ok := changeOutcomes[audit.Outcome(r.Outcome)]
	if !ok {
		o = changeOutcomes[audit.OutcomeFailed]
	}
	row.Outcome, row.Status = o.label, o.status
	return row
}

// loginRecordWords name the sign-in records (in the imperative, like the
// forms: they may be refused).
var loginRecordWords = map[string]string{
	"ui_login_link":     "Open this window with a sign-in link",
	"admin_api":         "Use the admin API",
	"mcp_token":         "Sign an app in with a user token",
	"register_user":     "Register a user (host app)",
	"unlock_passphrase": "Unlock Plexus with its passphrase",
}

// credentialChangeWords name the credential records; %s is the target.
var credentialChangeWords = map[string]string{
	"provider_changed": "Changed the settings of OAuth provider %s",
	"provider_deleted": "Removed OAuth provider %s",
	"token_revoked":    "Revoked a user token",
	"user_deleted":     "Remove a user",
	"tenant_deleted":   "Removed the tenant",
}

// changeWords says what a record is about.
func changeWords(r apiv1.AuditRecord) string {
	switch audit.Kind(r.Kind) {
	case audit.KindLogin:
		if r.Action == "not_recorded" { // the log's own count of a flood
			return "Too many refused requests to keep one by one: " + r.Target
		}
		if w, ok := loginRecordWords[r.Action]; ok {
			return w
		}
	case audit.KindCredential:
		if r.Action == "credential_changed" {
			kind, provider, _ := strings.Cut(r.Target, "/")
			switch kind {
			case "api_key":
				return "Stored or removed an API key for " + provider
			case "oauth":
				return "Connected or disconnected " + provider
			}
			return "Changed a credential for " + provider
		}
		if w, ok := credentialChangeWords[r.Action]; ok {
			return strings.ReplaceAll(w, "%s", r.Target)
		}
	case audit.KindAdmin:
		return adminWords(r.Action, r.Target)
	}
	return strings.ReplaceAll(r.Action, "_", " ")
}

// formWords say what each form of the window asks for, by its route (in
// the imperative: the Result column says whether it was done); a
// {wildcard} in the sentence is the value in the request's path.
var formWords = map[string]string{
	"/ui/logout":                                    "Sign out of this window",
	"/ui/tenant":                                    "Switch to another tenant",
	"/ui/tenants":                                   "Create a tenant",
	"/ui/tenants/{id}/rename":                       "Rename tenant {id}",
	"/ui/tenants/{id}/secret":                       "Replace the host-app secret of tenant {id}",
	"/ui/tenants/{id}/delete":                       "Delete tenant {id}",
	"/ui/providers":                                 "Add an OAuth provider",
	"/ui/providers/{name}":                          "Change OAuth provider {name}",
	"/ui/providers/{name}/secret":                   "Replace the client secret of OAuth provider {name}",
	"/ui/providers/{name}/delete":                   "Remove OAuth provider {name}",
	"/ui/connections/{user}/connect/{provider}":     "Connect {provider}",
	"/ui/connections/{user}/disconnect/{provider}":  "Disconnect {provider}",
	"/ui/connections/{user}/keys":                   "Save an API key",
	"/ui/connections/{user}/keys/{provider}/delete": "Delete the {provider} API key",
	"/ui/users":                                     "Add a user",
	"/ui/users/{user}/tokens":                       "Make a sign-in token for a user",
	"/ui/users/{user}/tokens/{token}/revoke":        "Revoke a user's sign-in token",
	"/ui/users/{user}/delete":                       "Remove a user",
	"/ui/sessions/{ref}/end":                        "End a session",
	"/ui/claude-desktop":                            "Connect Claude Desktop",
	"/ui/key/keyring":                               "Move the master key into the system keyring",
	"/ui/key/passphrase":                            "Put the master key under a passphrase",
	"/ui/tools":                                     "Switch tools on or off",
	"/ui/http-tools":                                "Add an HTTP tool",
	"/ui/http-tools/{name}":                         "Change HTTP tool {name}",
	"/ui/http-tools/{name}/delete":                  "Remove HTTP tool {name}",
	gatesPath:                                       "Change which tools ask for a code",
	"/ui/servers":                                   "Add an MCP server",
	"/ui/servers/{name}":                            "Change MCP server {name}",
	"/ui/servers/{name}/restart":                    "Restart MCP server {name}",
	"/ui/servers/{name}/delete":                     "Remove MCP server {name}",
}

// formSentence is what formWords says of a form posted to path ("" when
// no route matches).
func formSentence(path string) string {
	got := strings.Split(strings.Trim(path, "/"), "/")
	for pattern, words := range formWords {
		want := strings.Split(strings.Trim(pattern, "/"), "/")
		if len(want) != len(got) {
			continue
		}
		values := map[string]string{}
		match := true
		for i, w := range want {
			switch {
			case strings.HasPrefix(w, "{") && strings.HasSuffix(w, "}") && got[i] != "":
				v, err := url.PathUnescape(got[i])
				if err != nil {
					v = got[i]
				}
				values[w] = v
			case w != got[i]:
				match = false
			}
			if !match {
				break
			}
		}
		if match {
			for w, v := range values {
				words = strings.ReplaceAll(words, w, v)
			}
			return words
		}
	}
	return ""
}

// apiWords say what each mutating admin API route asks for (what plexus
// admin sends), by its pattern; a {wildcard} is the value the record's
// target names (adminapi's path targets).
var apiWords = map[string]string{
	"POST /api/v1/ui/login-ticket":                                   "Make a sign-in link for this window",
	"POST /api/v1/shutdown":                                          "Stop Plexus",
	"POST /api/v1/tenants":                                           "Create a tenant",
	"PATCH /api/v1/tenants/{id}":                                     "Change tenant {id}",
	"DELETE /api/v1/tenants/{id}":                                    "Delete tenant {id}",
	"POST /api/v1/tenants/{id}/host-app-secret":                      "Replace the host-app secret of tenant {id}",
	"POST /api/v1/tenants/{id}/ext-oauth":                            "Add an OAuth provider",
	"PATCH /api/v1/tenants/{id}/ext-oauth/{provider}":                "Change OAuth provider {provider}",
	"DELETE /api/v1/tenants/{id}/ext-oauth/{provider}":               "Remove OAuth provider {provider}",
	"POST /api/v1/tenants/{id}/users":                                "Add a user",
	"DELETE /api/v1/tenants/{id}/users/{uid}":                        "Remove a user",
	"DELETE /api/v1/tenants/{id}/tokens/{token_id}":                  "Revoke a user's sign-in token",
	"PUT /api/v1/tenants/{id}/users/{uid}/api-keys/{provider}":       "Save the {provider} API key",
	"DELETE /api/v1/tenants/{id}/users/{uid}/api-keys/{provider}":    "Delete the {provider} API key",
	"DELETE /api/v1/tenants/{id}/users/{uid}/connections/{provider}": "Disconnect {provider}",
	"PUT /api/v1/tenants/{id}/tools":                                 "Switch tools on or off",
	"POST /api/v1/tenants/{id}/tools/{name}/enable":                  "Switch on tool {name}",
	"POST /api/v1/tenants/{id}/tools/{name}/disable":                 "Switch off tool {name}",
	"POST /api/v1/tenants/{id}/tool-sets/{name}/enable":              "Switch on tool set {name}",
	"POST /api/v1/tenants/{id}/tool-sets/{name}/disable":             "Switch off tool set {name}",
	"PUT /api/v1/tenants/{id}/tool-search":                           "Switch tool search on or off",
	"POST /api/v1/tenants/{id}/http-tools":                           "Add an HTTP tool",
	"POST /api/v1/tenants/{id}/http-tools/import":                    "Import HTTP tools",
	"PUT /api/v1/tenants/{id}/http-tools/{name}":                     "Change HTTP tool {name}",
	"DELETE /api/v1/tenants/{id}/http-tools/{name}":                  "Remove HTTP tool {name}",
	"POST /api/v1/tenants/{id}/upstreams":                            "Add an MCP server",
	"PUT /api/v1/tenants/{id}/upstreams/{name}":                      "Change MCP server {name}",
	"POST /api/v1/tenants/{id}/upstreams/{name}/restart":             "Restart MCP server {name}",
	"DELETE /api/v1/tenants/{id}/upstreams/{name}":                   "Remove MCP server {name}",
	"POST /api/v1/tenants/{id}/gates":                                "Ask for a code before some tools",
	"PUT /api/v1/tenants/{id}/gates/{set}":                           "Change when {set} asks for a code",
	"POST /api/v1/tenants/{id}/gates/{set}/enroll":                   "Enrol an authenticator app for {set}",
	"DELETE /api/v1/tenants/{id}/gates/{set}":                        "Stop asking for a code for {set}",
}

// adminWords says what an admin request changed: a window form ("POST
// /ui/providers/github/delete" reads "Remove OAuth provider github"; a
// form it does not know reads "In this window: a › b") or an admin API
// route ("DELETE /api/v1/tenants/{id}" with target "id=acme" reads
// "Delete tenant acme"; one apiWords does not know, "Admin API: DELETE
// tenants/acme").
func adminWords(action, target string) string {
	method, path, _ := strings.Cut(action, " ")
	switch {
	case strings.HasPrefix(path, "/ui/"):
		if w := formSentence(path); w != "" {
			return w
		}
		return "In this window: " + strings.Join(strings.Split(strings.Trim(strings.TrimPrefix(path, "/ui/"), "/"), "/"), " › ")
	case apiWords[action] != "":
		words := apiWords[action]
		for _, kv := range strings.Fields(target) {
			k, v, _ := strings.Cut(kv, "=")
			words = strings.ReplaceAll(words, "{"+k+"}", v)
		}
		if !strings.Contains(words, "{") {
			return words
		}
		fallthrough // a value the record lacks: the route as it is
	case strings.HasPrefix(path, "/api/v1/"):
		path = strings.TrimPrefix(path, "/api/v1/")
		var rest []string
		for _, kv := range strings.Fields(target) {
			k, v, _ := strings.Cut(kv, "=")
			if p := strings.Replace(path, "{"+k+"}", v, 1); p != path {
				path = p
			} else {
				rest = append(rest, kv)
			}
		}
		words := "Admin API: " + method + " " + path
		if len(rest) > 0 {
			words += " (" + strings.Join(rest, " ") + ")"
		}
		return words
	}
	return action
}

// actorWords says who did it.
func actorWords(r apiv1.AuditRecord) string {
	switch r.Actor {
	case "ui":
		if r.Outcome == string(audit.OutcomeDenied) {
			return "Someone not signed in to this window"
		}
		return "You, in this window"
	case "local_token":
		return "plexus admin on this computer"
	case "admin_token":
		return "An admin API client"
	case "host_app":
		return "A host app"
	case "link":
		return "A sign-in link"
	case "unlock_page":
		return "The unlock page"
	}
	switch {
	case r.Local || r.UserName == vault.LocalOwnerHostUserID:
		return "You (this computer)"
	case r.UserName != "":
		return r.UserName
	case r.UserID != "":
		return "User " + shortID(r.UserID)
	}
	return ""
}
