package cli

import (
	"strconv"
	"time"
)

// auditRetention is how long the daemon keeps audit records: --audit-
// retention-days when given (not 0), else $PLEXUS_AUDIT_RETENTION_DAYS,
// else 90 days; 1 to 3650 days.
func auditRetention(days int, env Env) (time.Duration, error) {
	src := "--audit-retention-days"
	if days == 0 {
		days = 90
		if v := env.Getenv("PLEXUS_AUDIT_RETENTION_DAYS"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, usageError("serve: PLEXUS_AUDIT_RETENTION_DAYS=%q: want a number of days", v)
			}
			days, src = n, "PLEXUS_AUDIT_RETENTION_DAYS"
		}
	}
	if days < 1 || days > 3650 {
		return 0, usageError("serve: %s %d: want 1-3650 days", src, days)
	}
	return time.Duration(days) * 24 * time.Hour, nil
}
