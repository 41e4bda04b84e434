package frontend

import "fmt"

func toolsSentence(v ToolsView) string {
	if v.Tenant.ID == "" {
		return "What Claude and your other apps can do through Plexus."
	}
	return "What Claude and your other apps can do through Plexus, for tenant " + v.Tenant.Name + "."
}

// groupSentence says how many of a group's tools are on.
func groupSentence(g ToolGroup) string {
	on := 0
	for _, t := range g.Tools {
		if t.On {
			on++
		}
	}
	n := len(g.Tools)
	switch {
	case g.Name != "" && !g.On && n == 1:
		return "Switched off: Claude cannot use this tool."
	case g.Name != "" && !g.On:
		return fmt.Sprintf("Switched off: Claude cannot use these %d tools.", n)
	case n == 1 && on == 1:
		return "1 tool, on."
	case n == 1:
		return "1 tool, off."
	case on == n:
		return fmt.Sprintf("%d tools, all on.", n)
	case on == 0:
		return fmt.Sprintf("%d tools, all off.", n)
	}
	return fmt.Sprintf("%d tools, %d on.", n, on)
}
