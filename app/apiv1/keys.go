package apiv1

// KeyPlace says where the vault's master key is kept and where it can
// move: a key in the key file Plexus generated (for want of a keyring)
// can go into the OS keyring, when one answers here, or behind a
// passphrase.
type KeyPlace struct {
	KeyInfo
	// Generated is true when File is the key file Plexus generated in the
	// data directory (not one the user named).
	Generated bool `json:"generated,omitempty"`
	// CanMove is true when the key can move (a generated key file).
	CanMove bool `json:"can_move"`
	// KeyringAvailable is true when the OS keyring answers here (only
	// looked at when CanMove).
	KeyringAvailable bool `json:"keyring_available"`
}

// ProtectRequest asks to move the key behind a passphrase, typed twice.
type ProtectRequest struct {
	Passphrase string `json:"passphrase"`
	Confirm    string `json:"confirm"`
}

// KeyMoved is what a key move did.
type KeyMoved struct {
	// Source is where the key is kept now: "keyring" or "passphrase".
	Source string `json:"source"`
	// RemovedFile is the key file removed; LeftFile one that could not be
	// removed (it still opens the vault: delete it by hand).
	RemovedFile string `json:"removed_file,omitempty"`
	LeftFile    string `json:"left_file,omitempty"`
}
