package cli

import (
	"errors"
	"testing"
	"time"
)

func TestAuditRetention(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		flag int
		env  string
		want time.Duration
		err  bool
	}{
		{0, "", 90 * day, false},
		{7, "", 7 * day, false},
		{0, "30", 30 * day, false},
		{5, "30", 5 * day, false}, // the flag wins
		{0, "x", 0, true},
		{0, "0", 0, true},
		{-1, "", 0, true},
		{3651, "", 0, true},
	} {
		got, err := auditRetention(tc.flag, Env{Getenv: func(k string) string {
			return map[string]string{"PLEXUS_AUDIT_RETENTION_DAYS": tc.env}[k]
		}})
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("flag %d env %q: %v %v, want %v (error %v)", tc.flag, tc.env, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrUsage) {
			t.Errorf("flag %d env %q: %v is not a usage error", tc.flag, tc.env, err)
		}
	}
}
