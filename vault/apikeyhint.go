package vault

import (
	"context"
	"unicode/utf8"
)

// APIKeyHint returns the end of a user's stored API key, for a person to
// recognise which key it is ("3f9a" shown as "•••• 3f9a"): its last 4
// characters at most, and never more than a quarter of the key, so a short
// key shows less and a key under 4 characters shows nothing ("").
// The key itself never leaves the vault. Errors are GetCredential's
// (ErrNotFound, ErrDecrypt), never naming the key.
func (v *Vault) APIKeyHint(ctx context.Context, tenantID, userID, provider string) (string, error) {
	key, err := v.GetCredential(ctx, tenantID, userID, CredentialAPIKey, provider)
	if err != nil {
		return "", err
	}
	h := keyHint(key)
	clear(key)
	return h, nil
}

// keyHint is the last min(4, n/4) characters of a key of n characters.
func keyHint(key []byte) string {
	n := min(4, utf8.RuneCount(key)/4)
	end := len(key)
	for range n {
		_, size := utf8.DecodeLastRune(key[:end])
		end -= size
	}
	return string(key[end:])
}
