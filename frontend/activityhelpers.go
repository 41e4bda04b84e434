package frontend

import (
	"fmt"
	"strconv"
)

func itoa(n int) string { return strconv.Itoa(n) }

func activitySentence(v ActivityView) string {
	if v.Tenant.ID == "" {
		return "What your apps did through Plexus."
	}
	return "What Claude and your other apps did through Plexus for tenant " + v.Tenant.Name + ": each tool call, who made it and how it went. What was sent to the tools is kept only in the audit log, with passwords and keys blanked out."
}

func notRecordedText(n uint64) string {
	if n == 1 {
		return "One call since Plexus started is missing here: Plexus was too busy to record it."
	}
	return fmt.Sprintf("%d calls since Plexus started are missing here: Plexus was too busy to record them.", n)
}
