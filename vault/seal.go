package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

const (
	// sealVersion is the first byte of every sealed blob: AES-256-GCM with
	// a 12-byte random nonce under the HKDF-SHA256 data key.
	sealVersion  byte = 1
	nonceSize         = 12
	masterKeyLen      = 32
	dataKeyInfo       = "plexus vault data key v1"
)

// newAEAD derives the data key from the master key and returns the cipher.
func newAEAD(master []byte) (cipher.AEAD, error) {
	if len(master) != masterKeyLen {
		return nil, fmt.Errorf("master key: want %d bytes, got %d", masterKeyLen, len(master))
	}
	dk, err := hkdf.Key(sha256.New, master, nil, dataKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive data key: %w", err)
	}
	block, err := aes.NewCipher(dk)
	if err != nil {
		return nil, fmt.Errorf("data key cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

func sealWith(aead cipher.AEAD, aad string, plaintext []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plaintext)+aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1 : 1+nonceSize]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return aead.Seal(out, out[1:1+nonceSize], plaintext, []byte(aad)), nil
}

func unsealWith(aead cipher.AEAD, aad string, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+nonceSize+aead.Overhead() {
		return nil, fmt.Errorf("%w: too short", ErrDecrypt)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: unknown seal version %d", ErrDecrypt, sealed[0])
	}
	pt, err := aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: wrong key, tampered, or sealed for another record", ErrDecrypt)
	}
	return pt, nil
}

// Seal encrypts plaintext for the record named by aad.
func (v *Vault) Seal(aad string, plaintext []byte) ([]byte, error) {
	return sealWith(v.aead, aad, plaintext)
}

// Unseal opens a value sealed for the record named by aad; ErrDecrypt otherwise.
func (v *Vault) Unseal(aad string, sealed []byte) ([]byte, error) {
	return unsealWith(v.aead, aad, sealed)
}
