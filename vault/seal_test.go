package vault

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealRoundTrip(t *testing.T) {
	v, _ := newTestVault(t)
	for _, pt := range [][]byte{nil, {}, []byte("x"), bytes.Repeat([]byte("secret"), 1000)} {
		s, err := v.Seal("rec", pt)
		if err != nil {
			t.Fatal(err)
		}
		if s[0] != sealVersion {
			t.Fatalf("version byte = %d", s[0])
		}
		got, err := v.Unseal("rec", s)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Unseal = %q, %v", got, err)
		}
	}
	a, _ := v.Seal("rec", []byte("same"))
	b, _ := v.Seal("rec", []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same value are equal (nonce reuse)")
	}
}

func TestUnsealRejects(t *testing.T) {
	v, _ := newTestVault(t)
	other, _ := newTestVault(t) // another master key
	good, err := v.Seal("credential|acme|alice|github", []byte("tok"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte { c := bytes.Clone(good); c[i] ^= 1; return c }
	tests := []struct {
		name   string
		v      *Vault
		aad    string
		sealed []byte
	}{
		{"other tenant", v, "credential|globex|alice|github", good},
		{"other user", v, "credential|acme|bob|github", good},
		{"other provider", v, "credential|acme|alice|gitlab", good},
		{"other key", other, "credential|acme|alice|github", good},
		{"tampered body", v, "credential|acme|alice|github", flip(len(good) - 1)},
		{"tampered nonce", v, "credential|acme|alice|github", flip(1)},
		{"unknown version", v, "credential|acme|alice|github", flip(0)},
		{"truncated", v, "credential|acme|alice|github", good[:10]},
		{"empty", v, "credential|acme|alice|github", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.v.Unseal(tc.aad, tc.sealed); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Unseal: %v, want ErrDecrypt", err)
			}
		})
	}
}
