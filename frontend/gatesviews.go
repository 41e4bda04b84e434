package frontend

import "strings"

// GatesView is the "Code-protected tools" page: the current tenant's TOTP
// gates, the form that adds one, its tool search switch, and right after
// an enrollment the QR code, shown once.
type GatesView struct {
	Shell       Shell
	Tenant      TenantRef
	Unavailable bool
	Gates       []GateRow
	// Sets are the tenant's tool sets without a gate, offered in the add
	// form.
	Sets     []Option
	Add      GateForm
	SearchOn bool
	// Enrolled is set right after a gate was added or given a new secret.
	Enrolled *GateEnrolled
}

// GateRow is one code-protected tool set.
type GateRow struct {
	ToolSet, Title, Anchor string
	Tools                  []string
	UnlockFor, CoolOff     string // minutes
	Status                 Status
	Label                  string
	Note                   string
}

// GateForm is the add form as typed, with its errors by field
// ("tool_set", "unlock_for", "cool_off").
type GateForm struct {
	ToolSet, UnlockFor, CoolOff string
	Errors                      map[string]string
}

// GateEnrolled is an enrollment to show once: the QR code an
// authenticator app scans, and the same key as text.
type GateEnrolled struct {
	ToolSet, Title, Account string
	QR                      QRCode
	URI, Secret             string
}

// QRCode is a QR code drawn as one SVG path in a Size x Size view box.
type QRCode struct {
	Size int
	Path string
}

// ListWords joins ["a", "b", "c"] as "a, b and c" ("a and b", "a").
func ListWords(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// gateToolsSentence says which tools ask for a code.
func gateToolsSentence(g GateRow) string {
	switch len(g.Tools) {
	case 0:
		return "No tool is in this set right now. Tools that join it ask for a code too."
	case 1:
		return g.Tools[0] + " asks for a code."
	}
	return ListWords(g.Tools) + " ask for a code."
}
