package frontend

// This file holds the views of the desktop parts of the UI: the locked
// daemon's unlock and choose-a-passphrase pages, the key move on Home's
// "Your secrets" card and the Claude Desktop button on its connect card.

// UnlockView is the page a locked Plexus shows: type the passphrase
// (Unlock) or, for a new vault without a keyring, choose one.
type UnlockView struct {
	Assets string
	CSRF   string
	// New: the vault is new; choose a passphrase (typed twice), or keep
	// the key in a file instead.
	New        bool
	Passphrase Secret
	Confirm    Secret // New only
	// Error is a problem of the whole form (not of one field), in plain
	// words; "" = none.
	Error string
	// VaultFile is the vault's file (for "forgot your passphrase?").
	VaultFile string
	// KeyFile is where a new vault's key file would go.
	KeyFile string
}

// Secret is a password field: never prefilled, so an error shows under
// an empty field.
type Secret struct {
	Name         string
	Label        string
	Help         string
	Error        string
	Autocomplete string // "current-password" or "new-password"
	MinLength    int
	Autofocus    bool
}

// KeyMoveView offers to move a key kept in the generated key file: into
// the keyring (when one answers here) or behind a passphrase.
type KeyMoveView struct {
	KeyringAvailable bool
	// Open keeps the passphrase form open (after an error in it).
	Open       bool
	Passphrase Secret
	Confirm    Secret
}

// ClaudeState is the state of Claude Desktop's config for the current
// tenant.
type ClaudeState string

// Claude Desktop config states.
const (
	ClaudeConnected    ClaudeState = "connected"
	ClaudeNotConnected ClaudeState = "not-connected"
	ClaudeDiffers      ClaudeState = "differs"
	ClaudeUnreadable   ClaudeState = "unreadable"
)

// ClaudeView is the "Connect Claude Desktop" button's part of the card.
type ClaudeView struct {
	State ClaudeState
	// Name is the entry's name in the file ("plexus").
	Name string
	// Problem says, for ClaudeUnreadable, what is wrong with the file and
	// what to do, in plain words.
	Problem string
	// FileExists is false when Plexus would create the file.
	FileExists bool
}
