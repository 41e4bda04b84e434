package vault

// This file moves a vault's master key from a key file to a better place:
// the OS keyring (MoveKeyToKeyring) or behind a passphrase
// (ProtectWithPassphrase). A move changes where the key is kept, never the
// key: nothing sealed under it is touched.
//
// A passphrase vault made by a move keeps the same master key, wrapped
// (sealed with AES-256-GCM) under a key derived from the passphrase with
// Argon2id, instead of deriving the master key from the passphrase as a new
// passphrase vault does. The alternative, a new key and a re-seal of every
// sealed value in one transaction, would have to know every kind of sealed
// record and its AAD (a kind forgotten there, now or in a later schema, is
// lost for good) and would rewrite the whole file; wrapping is one meta
// write whatever the vault holds, and changing the passphrase later is
// another. Meta records such a vault with key_source "passphrase-wrapped",
// which an older plexus refuses by name instead of taking the passphrase
// for a wrong one.

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// ErrKeyringUnavailable is returned by MoveKeyToKeyring when the OS
// keyring cannot take the key (none here, locked, or it failed to keep
// it). The vault is then unchanged.
var ErrKeyringUnavailable = errors.New("the OS keyring is not available")

// keySourceWrapped is meta's key_source of a passphrase vault whose
// master key is wrapped (KeySourcePassphrase everywhere else).
const keySourceWrapped KeySource = "passphrase-wrapped"

const (
	wrappedKeyAAD = "meta|wrapped-key"
	wrapKeyInfo   = "plexus vault key-wrapping key v1"
)

// metaWrappedKey holds the wrapped master key of a keySourceWrapped vault.
var metaWrappedKey = []byte("wrapped_key")

// kekAEAD is the cipher that wraps the master key, keyed by HKDF of the
// passphrase's Argon2id output (never the same key as the data key).
func kekAEAD(derived []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, derived, nil, wrapKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive key-wrapping key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("key-wrapping cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// passphraseKey opens a passphrase vault's key with p: the Argon2id output
// is the master key, or (wrapped vaults) unwraps it. ErrWrongKey when p
// does not open the vault.
func passphraseKey(p string, kdf *kdfParams, st metaState) (keyResult, error) {
	derived := kdf.derive(p)
	if st.wrapped == nil {
		return checkKey(derived, KeySourcePassphrase, kdf, st)
	}
	aead, err := kekAEAD(derived)
	if err != nil {
		return keyResult{}, err
	}
	k, err := unsealWith(aead, wrappedKeyAAD, st.wrapped)
	if err != nil || len(k) != masterKeyLen {
		return keyResult{}, fmt.Errorf("%w (key source: %s)", ErrWrongKey, KeySourcePassphrase)
	}
	return checkKey(k, KeySourcePassphrase, kdf, st)
}

// KeyMove says what a key move did.
type KeyMove struct {
	From, To KeySource
	// RemovedFile is the key file removed after the key's new place
	// worked; LeftFile is one that could not be removed (it still opens
	// the vault: delete it by hand). At most one of them is set.
	RemovedFile, LeftFile string
	// KeyringAccount is the keyring item's account (service "plexus")
	// after a move to the keyring.
	KeyringAccount string
}

// KeyringAvailable reports whether the OS keyring answers here (an item
// that is not there counts as an answer). It may take as long as the
// keyring's timeout.
func (v *Vault) KeyringAvailable() bool {
	_, err := v.keyring.Get(keyringService, v.keyringAccount)
	return err == nil || keyringNotFound(err)
}

// MoveKeyToKeyring moves a key-file vault's master key into the OS
// keyring, unchanged: it stores the key (or finds it already there), reads
// it back and checks it opens the vault, records the keyring as the key's
// place in one transaction, and only then removes the key file. If any
// step before the record fails, the vault and the key file are as they
// were (ErrKeyringUnavailable when the keyring could not take it; an item
// this call created is deleted again). A vault whose key is not in a key
// file is refused (ErrInvalid).
//
// The item's account is Config.KeyringAccount unless another vault's key
// is kept there already; then one made unique by this vault's path.
func (v *Vault) MoveKeyToKeyring(ctx context.Context) (KeyMove, error) {
	if err := ctx.Err(); err != nil {
		return KeyMove{}, err
	}
	v.keyMu.Lock()
	defer v.keyMu.Unlock()
	if err := v.movable(); err != nil {
		return KeyMove{}, err
	}
	enc := base64.StdEncoding.EncodeToString(v.master)
	account, created, err := v.keyringSlot(enc)
	if err != nil {
		return KeyMove{}, err
	}
	undo := func() {
		if created {
			if err := v.keyring.Delete(keyringService, account); err != nil && !keyringNotFound(err) {
				v.log.Warn("Could not delete the keyring item of a failed key move", "account", account, "error", err)
			}
		}
	}
	// Read back: some keyrings accept a Set they cannot serve later.
	got, err := v.keyring.Get(keyringService, account)
	if err != nil {
		undo()
		return KeyMove{}, fmt.Errorf("%w: reading the key back failed: %v", ErrKeyringUnavailable, err)
	}
	k, err := parseMasterKey(got)
	if err == nil && !bytes.Equal(k, v.master) {
		err = errors.New("it holds another key")
	}
	if err == nil {
		err = v.opensCanary(k)
	}
	if err != nil {
		undo()
		return KeyMove{}, fmt.Errorf("%w: the key read back from it does not open this vault (%v)", ErrKeyringUnavailable, err)
	}
	err = v.db.Update(func(tx *bolt.Tx) error {
		return putKeyPlace(tx.Bucket(bucketMeta), map[string][]byte{
			string(metaKeySource):      []byte(KeySourceKeyring),
			string(metaKeyringAccount): []byte(account),
		})
	})
	if err != nil {
		undo()
		return KeyMove{}, fmt.Errorf("record the key's new place: %w", err)
	}
	m := KeyMove{From: KeySourceFile, To: KeySourceKeyring, KeyringAccount: account}
	v.log.Info("Master key moved into the OS keyring", "account", account)
	return v.dropKeyFile(m), nil
}

// ProtectWithPassphrase moves a key-file vault's master key behind a
// passphrase (at least MinPassphraseLen characters, else ErrInvalid): the
// same key, wrapped under a key derived from the passphrase with Argon2id
// (see the top of this file). It wraps the key, checks that the
// passphrase unwraps it to a key that opens the vault, records that in one
// transaction, and only then removes the key file; on any failure before
// the record the vault and the key file are as they were. From the next
// start on, the vault asks for the passphrase. A vault whose key is not in
// a key file is refused (ErrInvalid). Errors never contain the passphrase.
func (v *Vault) ProtectWithPassphrase(ctx context.Context, passphrase string) (KeyMove, error) {
	if err := ctx.Err(); err != nil {
		return KeyMove{}, err
	}
	if err := checkNewPassphrase(passphrase); err != nil {
		return KeyMove{}, err
	}
	v.keyMu.Lock()
	defer v.keyMu.Unlock()
	if err := v.movable(); err != nil {
		return KeyMove{}, err
	}
	kdf := v.opts.kdf
	kdf.Salt = make([]byte, 16)
	if _, err := rand.Read(kdf.Salt); err != nil {
		return KeyMove{}, fmt.Errorf("passphrase salt: %w", err)
	}
	aead, err := kekAEAD(kdf.derive(passphrase))
	if err != nil {
		return KeyMove{}, err
	}
	wrapped, err := sealWith(aead, wrappedKeyAAD, v.master)
	if err != nil {
		return KeyMove{}, err
	}
	canary, err := v.canary()
	if err != nil {
		return KeyMove{}, err
	}
	// The new place must work before anything changes: derive again from
	// the passphrase, unwrap, and open the canary with what comes out.
	if _, err := passphraseKey(passphrase, &kdf, metaState{canary: canary, kdf: &kdf, wrapped: wrapped}); err != nil {
		return KeyMove{}, fmt.Errorf("check the wrapped key: %w", err)
	}
	rawKDF, err := json.Marshal(kdf)
	if err != nil {
		return KeyMove{}, err
	}
	err = v.db.Update(func(tx *bolt.Tx) error {
		return putKeyPlace(tx.Bucket(bucketMeta), map[string][]byte{
			string(metaKeySource):  []byte(keySourceWrapped),
			string(metaKDF):        rawKDF,
			string(metaWrappedKey): wrapped,
		})
	})
	if err != nil {
		return KeyMove{}, fmt.Errorf("record the key's new place: %w", err)
	}
	v.log.Info("Master key protected with a passphrase (Argon2id, key wrapped)")
	return v.dropKeyFile(KeyMove{From: KeySourceFile, To: KeySourcePassphrase}), nil
}

// movable refuses a move of a vault whose key is not in a key file.
// keyMu is held.
func (v *Vault) movable() error {
	if v.source != KeySourceFile {
		return invalidf("the master key is kept in the %s, not in a key file: there is nothing to move", v.source)
	}
	if len(v.master) != masterKeyLen {
		return errors.New("the master key is not at hand")
	}
	return nil
}

// putKeyPlace records where the key is kept: the given meta entries, and
// none of the other places' entries.
func putKeyPlace(m *bolt.Bucket, puts map[string][]byte) error {
	for _, k := range [][]byte{metaKeyFile, metaKeyringAccount, metaKDF, metaWrappedKey} {
		if _, ok := puts[string(k)]; ok {
			continue
		}
		if err := m.Delete(k); err != nil {
			return err
		}
	}
	for k, val := range puts {
		if err := m.Put([]byte(k), val); err != nil {
			return fmt.Errorf("write meta %s: %w", k, err)
		}
	}
	return nil
}

// keyringSlot picks the keyring account for the key enc (base64): the
// configured account when it is free or holds this very key, else one
// named after this vault's path. created says this call stored the item.
func (v *Vault) keyringSlot(enc string) (account string, created bool, err error) {
	abs, aerr := filepath.Abs(v.path)
	if aerr != nil {
		abs = v.path
	}
	sum := sha256.Sum256([]byte(abs))
	for _, acc := range []string{v.keyringAccount, v.keyringAccount + "-" + hex.EncodeToString(sum[:6])} {
		s, err := v.keyring.Get(keyringService, acc)
		switch {
		case err == nil:
			if k, perr := parseMasterKey(s); perr == nil && bytes.Equal(k, v.master) {
				return acc, false, nil // already there (an earlier move that did not finish)
			}
			continue // another vault's key: never overwrite it
		case !keyringNotFound(err):
			return "", false, fmt.Errorf("%w: %v", ErrKeyringUnavailable, err)
		}
		if err := v.keyring.Set(keyringService, acc, enc); err != nil {
			return "", false, fmt.Errorf("%w: storing the key failed: %v", ErrKeyringUnavailable, err)
		}
		return acc, true, nil
	}
	return "", false, fmt.Errorf("%w: its items %s/%s and the one named after this vault hold other keys",
		ErrKeyringUnavailable, keyringService, v.keyringAccount)
}

// canary reads the sealed canary from meta.
func (v *Vault) canary() ([]byte, error) {
	var c []byte
	err := v.db.View(func(tx *bolt.Tx) error {
		c = append([]byte(nil), tx.Bucket(bucketMeta).Get(metaCanary)...)
		return nil
	})
	if err == nil && len(c) == 0 {
		err = errors.New("meta has no canary")
	}
	return c, err
}

// opensCanary checks that master key k opens this vault.
func (v *Vault) opensCanary(k []byte) error {
	c, err := v.canary()
	if err != nil {
		return err
	}
	_, err = checkKey(k, KeySourceKeyring, nil, metaState{canary: c})
	return err
}

// dropKeyFile, after the new place is recorded, forgets the key file and
// removes it. keyMu is held.
func (v *Vault) dropKeyFile(m KeyMove) KeyMove {
	old := v.keyFile
	v.source, v.keyFile, v.keyFileGenerated = m.To, "", false
	if old == "" {
		return m
	}
	remove := v.opts.removeKeyFile
	if remove == nil {
		remove = os.Remove
	}
	if err := remove(old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		v.log.Warn("The key moved, but the old key file could not be removed; delete it by hand", "keyFile", old, "error", err)
		m.LeftFile = old
		return m
	}
	syncDir(filepath.Dir(old))
	m.RemovedFile = old
	return m
}
