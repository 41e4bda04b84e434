package cli

// Help texts of `plexus admin GROUP --help` and `plexus admin GROUP COMMAND
// --help`, cut from adminUsage so the two never disagree.

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// adminUsageLines returns the lines of adminUsage describing group (and,
// when verb is not "", only that command), with their continuation lines.
func adminUsageLines(group, verb string) []string {
	var out []string
	keep := false
	for _, line := range strings.Split(adminUsage, "\n") {
		switch {
		case strings.HasPrefix(line, "    ") && strings.TrimSpace(line) != "": // continuation
		case strings.HasPrefix(line, "  "):
			f := strings.Fields(line)
			keep = len(f) >= 2 && f[0] == group && (verb == "" || contains(strings.Split(f[1], "|"), verb))
		default:
			keep = false
		}
		if keep {
			out = append(out, line)
		}
	}
	return out
}

// adminGroupUsage is `plexus admin GROUP --help`.
func adminGroupUsage(group string) string {
	return fmt.Sprintf("Usage: plexus admin %s COMMAND [flags]\n\nCommands:\n%s\n\n"+
		"Run 'plexus admin %s COMMAND --help' for a command's flags, 'plexus admin --help' for all.\n",
		group, strings.Join(adminUsageLines(group, ""), "\n"), group)
}

// help prints `plexus admin GROUP COMMAND --help`: its synopsis from
// adminUsage, then every flag it takes.
func (a *adminRun) help(fs *flag.FlagSet) func(io.Writer) {
	return func(w io.Writer) {
		group, verb, _ := strings.Cut(a.name, " ")
		lines := adminUsageLines(group, verb)
		if len(lines) == 0 {
			fmt.Fprintf(w, "Usage: plexus admin %s [flags]\n", a.name)
		} else {
			fmt.Fprintf(w, "Usage: plexus admin %s\n", strings.TrimSpace(lines[0]))
			for _, l := range lines[1:] {
				fmt.Fprintf(w, "       %s\n", strings.TrimSpace(l))
			}
		}
		printFlags(w, fs)
	}
}
