package ui

// The Activity page's second list: the audit log's records other than
// tool calls (settings changed in the window or through the admin API,
// credentials stored or removed, sign-ins), newest first, in words.

import (
	"context"
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

// loginRecordWords name the sign-in records.
var loginRecordWords = map[string]string{
	"ui_login_link":     "Opened this window with a sign-in link",
	"admin_api":         "Used the admin API",
	"mcp_token":         "An app signed in with a user token",
	"register_user":     "A host app registered a user",
	"unlock_passphrase": "Typed the passphrase to unlock Plexus",
}

// credentialChangeWords name the credential records; %s is the target.
var credentialChangeWords = map[string]string{
	"provider_changed": "Changed the settings of OAuth provider %s",
	"provider_deleted": "Removed OAuth provider %s",
	"token_revoked":    "Revoked a user token",
	"user_deleted":     "Removed a user",
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

// adminWords says what an admin request changed: a window form ("POST
// /ui/providers/github/delete" reads "In this window: providers › github
// › delete") or an admin API route ("DELETE /api/v1/tenants/{id}" with
// target "id=acme" reads "Admin API: DELETE tenants/acme").
func adminWords(action, target string) string {
	method, path, _ := strings.Cut(action, " ")
	switch {
	case strings.HasPrefix(path, "/ui/"):
		return "In this window: " + strings.Join(strings.Split(strings.Trim(strings.TrimPrefix(path, "/ui/"), "/"), "/"), " › ")
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
