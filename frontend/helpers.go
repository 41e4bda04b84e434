package frontend

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func flashRole(k FlashKind) string {
	if k == FlashError {
		return "alert"
	}
	return "status"
}

func fieldType(f Field) string {
	if f.Type == "" {
		return "text"
	}
	return f.Type
}

// autocomplete keeps browsers from filling a field: a secret field is a
// new password to them (never a saved one).
func autocomplete(f Field) string {
	if f.Type == "password" {
		return "new-password"
	}
	return "off"
}

// fieldID is a field's element id: f.ID, else "f-" and its name.
func fieldID(f Field) string {
	if f.ID != "" {
		return f.ID
	}
	return "f-" + f.Name
}

func describedBy(f Field) string {
	var ids []string
	if f.Help != "" {
		ids = append(ids, fieldID(f)+"-help")
	}
	if f.Error != "" {
		ids = append(ids, fieldID(f)+"-error")
	}
	return strings.Join(ids, " ")
}

func homeAction(v HomeView) *Action {
	if len(v.Tenants) == 0 || v.Connect.Claude != nil {
		// The empty state, or the Claude Desktop card's Connect button,
		// carries the one filled button.
		return nil
	}
	return &Action{Label: "Connect Claude Desktop", Href: "#connect"}
}

func keyPillLabel(s Status) string {
	switch s {
	case StatusOK:
		return "Protected"
	case StatusWarn:
		return "Needs attention"
	case StatusBad:
		return "Problem"
	}
	return "Unknown"
}

func tenantsAction(v TenantsView) *Action {
	if len(v.Tenants) == 0 {
		return nil
	}
	return &Action{Label: "Add tenant", Href: "#add"}
}

func dateLabel(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2 Jan 2006")
}

func providersAction(v ProvidersView) *Action {
	if len(v.Providers) == 0 {
		return nil // the empty state carries the one filled button
	}
	return &Action{Label: "Add provider", Href: "#add"}
}

func addProviderSentence(v AddProviderView) string {
	if v.Form.Custom {
		return "Let your tools use accounts at a service Plexus has no preset for. You register a small app there once; Plexus keeps its secret."
	}
	return "Let your tools use " + v.Display + " accounts. You register a small app at " + v.Display + " once; Plexus keeps its secret."
}

func providerSentence(v ProviderView) string {
	return "Your tools sign in to " + v.Row.Display + " through the app you registered there; " +
		countWords(v.Row.Connections, "account is", "accounts are") + " connected in tenant " + v.Tenant.Name + "."
}

// connectedWords says how many accounts are connected: "None connected",
// "1 connected".
func connectedWords(n int) string {
	if n == 0 {
		return "None connected"
	}
	return strconv.Itoa(n) + " connected"
}

// countWords says "no accounts", "1 account" or "3 accounts".
func countWords(n int, one, many string) string {
	switch n {
	case 0:
		return "no " + many
	case 1:
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func userSentence(v UserView) string {
	if v.Owner {
		return "You use tenant " + v.Tenant.Name + " through the apps on this computer, such as Claude Desktop; they need no token."
	}
	return "A person your app registered in tenant " + v.Tenant.Name + "."
}

// OrDash is s, or an em dash for nothing.
func OrDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// claudePill is the pill of Claude Desktop's settings state.
func claudePill(s ClaudeState) (Status, string) {
	switch s {
	case ClaudeConnected:
		return StatusOK, "Connected"
	case ClaudeDiffers:
		return StatusWarn, "Entry differs"
	case ClaudeUnreadable:
		return StatusBad, "Cannot read settings"
	}
	return StatusNever, "Not connected"
}
