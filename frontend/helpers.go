package frontend

import (
	"sort"
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

func describedBy(f Field) string {
	var ids []string
	if f.Help != "" {
		ids = append(ids, "f-"+f.Name+"-help")
	}
	if f.Error != "" {
		ids = append(ids, "f-"+f.Name+"-error")
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
