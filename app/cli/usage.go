package cli

// This file is the help and usage machinery shared by every command:
// `--help`, `-h` and `help` print to stdout and succeed; a mistake is one
// line on stderr (main adds "plexus: "), with "did you mean …?" when a
// known name is close, and exit status 2.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// usageErr is a command-line mistake; it matches ErrUsage.
type usageErr struct{ msg string }

func (e *usageErr) Error() string        { return e.msg }
func (e *usageErr) Is(target error) bool { return target == ErrUsage }

// usageError is a one-line command-line mistake (exit status 2).
func usageError(format string, args ...any) error {
	return &usageErr{msg: oneLine(fmt.Sprintf(format, args...))}
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// isHelpArg reports whether a is a request for help.
func isHelpArg(a string) bool {
	return a == "-h" || a == "--help" || a == "-help" || a == "help"
}

// parseFlags parses args into fs, which itself prints nothing. -h or
// --help prints help (help(w)) to stdout and returns flag.ErrHelp, which
// commands turn into success with helpOK; a mistake is a one-line usage
// error naming cmd ("serve", "admin tenant create"), with "did you mean"
// for a misspelt flag.
func parseFlags(fs *flag.FlagSet, args []string, env Env, cmd string, help func(io.Writer)) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		help(env.Stdout)
		return flag.ErrHelp
	}
	return flagError(fs, cmd, err)
}

// flagError rewrites an error of the flag package as one line:
// "serve: unknown flag --dta; did you mean --data? (see 'plexus serve --help')".
func flagError(fs *flag.FlagSet, cmd string, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimLeft(name, "-")
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		msg = "unknown flag --" + name
		if s := suggest(name, names); s != "" {
			msg += "; did you mean --" + s + "?"
		}
	} else {
		// The flag package names flags "-name"; the help says "--name".
		fs.VisitAll(func(f *flag.Flag) {
			old := " -" + f.Name
			if strings.HasSuffix(msg, old) {
				msg = strings.TrimSuffix(msg, old) + " --" + f.Name
			}
			msg = strings.ReplaceAll(msg, old+":", " --"+f.Name+":")
		})
	}
	return usageError("%s: %s (see 'plexus %s --help')", cmd, msg, cmd)
}

// commandHelp returns a help printer: the usage line, a description, then
// the flags.
func commandHelp(fs *flag.FlagSet, usage, description string) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprintf(w, "Usage: %s\n", usage)
		if description != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimRight(description, "\n"))
		}
		printFlags(w, fs)
	}
}

// printFlags lists fs's flags as "--name TYPE  usage (default …)".
func printFlags(w io.Writer, fs *flag.FlagSet) {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nFlags:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if typ != "" {
			name += " " + typ
		}
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" {
			if typ == "string" {
				d = strconv.Quote(d)
			}
			usage += " (default " + d + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	})
	tw.Flush()
}

// unknownError is the one line for an unknown command or subcommand:
// `unknown command "sevre"; did you mean "serve"? <more>`.
func unknownError(where, what, word string, options []string, more string) error {
	msg := fmt.Sprintf("unknown %s %q", what, word)
	if where != "" {
		msg = where + ": " + msg
	}
	if s := suggest(word, options); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else {
		msg += "."
	}
	return usageError("%s %s", msg, more)
}

// suggest returns the option closest to word when it is close enough to
// be a typo (at most 2 edits, counting a swap of neighbours as one, and
// fewer than half of word's letters), or one that word begins; else "".
func suggest(word string, options []string) string {
	w := strings.ToLower(word)
	if w == "" {
		return ""
	}
	best, bestD := "", 3
	for _, o := range options {
		d := editDistance(w, strings.ToLower(o))
		if d < bestD && 2*d < utf8.RuneCountInString(w)+1 {
			best, bestD = o, d
		}
	}
	if best != "" {
		return best
	}
	if utf8.RuneCountInString(w) >= 3 {
		for _, o := range options {
			if strings.HasPrefix(strings.ToLower(o), w) {
				return o
			}
		}
	}
	return ""
}

// editDistance is the optimal-string-alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent letters. It
// gives up at 64 runes (no command name is that long).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 1 << 20
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
