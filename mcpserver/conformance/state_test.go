package conformance

import (
	"errors"
	"strings"
	"testing"
)

func TestStateSealer(t *testing.T) {
	s := newStateSealer()
	good := s.seal("fixture-a", roundState{Round: 2, Name: "Alice"})
	payload, sig, _ := strings.Cut(good, ".")
	tests := []struct {
		name    string
		fixture string
		token   string
		want    roundState
		wantErr bool
	}{
		{"round trip", "fixture-a", good, roundState{Round: 2, Name: "Alice"}, false},
		{"other fixture", "fixture-b", good, roundState{}, true},
		{"other key", "fixture-a", newStateSealer().seal("fixture-a", roundState{Round: 2, Name: "Alice"}), roundState{}, true},
		{"empty", "fixture-a", "", roundState{}, true},
		{"no dot", "fixture-a", payload + sig, roundState{}, true},
		{"suffix", "fixture-a", good + "-TAMPERED", roundState{}, true},
		{"payload changed", "fixture-a", s.seal("fixture-a", roundState{Round: 1}) + "x", roundState{}, true},
		{"payload swapped", "fixture-a", strings.SplitN(s.seal("fixture-a", roundState{Round: 1}), ".", 2)[0] + "." + sig, roundState{}, true},
		{"too long", "fixture-a", strings.Repeat("a", maxStateLen+1), roundState{}, true},
		{"signed non-JSON", "fixture-a", "bm90anNvbg." + b64.EncodeToString(s.mac("fixture-a", "bm90anNvbg")), roundState{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.open(tc.fixture, tc.token)
			if tc.wantErr {
				if !errors.Is(err, errBadState) {
					t.Fatalf("open = %+v, %v; want errBadState", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("open = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// FuzzStateOpen: any requestState a client sends is refused with
// errBadState or, only if it is one the sealer issued, opened; never a panic.
func FuzzStateOpen(f *testing.F) {
	s := newStateSealer()
	good := s.seal("fixture-a", roundState{Round: 1, Name: "Alice"})
	for _, seed := range []string{good, good + "-TAMPERED", "", ".", "a.b", "not-a-state", strings.Repeat(".", 10)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		st, err := s.open("fixture-a", token)
		if err != nil {
			if !errors.Is(err, errBadState) {
				t.Fatalf("open(%q): error %v is not errBadState", token, err)
			}
			return
		}
		if token != good || st != (roundState{Round: 1, Name: "Alice"}) {
			t.Fatalf("open(%q) accepted a token the sealer did not issue: %+v", token, st)
		}
	})
}
