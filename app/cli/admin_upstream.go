package cli

// plexus admin upstream …: mount, change, remove, list, show, restart an
// upstream MCP server and read its log (issue 11).

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/localclient"
)

// multiFlag is a flag that may be given several times.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// upstreamFlags are the settings flags of upstream add and update.
type upstreamFlags struct {
	id, name, transport, command, url string
	args, env, envFromKey             multiFlag
	headerFromKey, bearerFromKey      multiFlag
	bearerFromOAuth                   string
	callTimeout, idleTimeout          time.Duration
	noCredentials                     bool
	oauth                             upstreamOAuthFlags // admin_upstream_oauth.go
}

func (f *upstreamFlags) register(fs *flag.FlagSet, update bool) {
	fs.StringVar(&f.id, "entity-id", "", "tenant id (required)")
	fs.StringVar(&f.name, "name", "", "the upstream's name: its items appear as NAME__item (required)")
	fs.StringVar(&f.command, "command", "", `a stdio upstream's command line, e.g. "npx -y @modelcontextprotocol/server-everything" (run directly, never through a shell)`)
	fs.StringVar(&f.url, "url", "", "an http (or sse) upstream's endpoint, e.g. https://mcp.example.com/mcp")
	fs.StringVar(&f.transport, "transport", "", "stdio, http or sse (default: stdio with --command, http with --url)")
	fs.Var(&f.args, "arg", "one more argument of the command, taken as it is (repeatable)")
	fs.Var(&f.env, "env", "NAME=VALUE: a plain environment variable of a stdio upstream, stored in the clear; not for secrets (repeatable)")
	fs.Var(&f.envFromKey, "env-from-key", "NAME=PROVIDER: the calling user's API key for PROVIDER as environment variable NAME (stdio; repeatable)")
	fs.Var(&f.headerFromKey, "header-from-key", "HEADER=PROVIDER: the calling user's API key for PROVIDER in request header HEADER (http, sse; repeatable)")
	fs.Var(&f.bearerFromKey, "bearer-from-key", "PROVIDER: the calling user's API key as Authorization: Bearer (http, sse)")
	fs.StringVar(&f.bearerFromOAuth, "bearer-from-oauth", "", "PROVIDER: the calling user's OAuth connection to the tenant's provider as Authorization: Bearer (http, sse)")
	fs.DurationVar(&f.callTimeout, "call-timeout", 0, "how long one call may take, e.g. 2m (default 60s)")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", 0, "stop the upstream after this long without calls, e.g. 30m (default 10m)")
	f.oauth.register(fs)
	if update {
		fs.BoolVar(&f.noCredentials, "no-credentials", false, "remove every credential (the upstream becomes one shared process per tenant)")
	}
}

// credentials builds the credential references from the flags.
func (f *upstreamFlags) credentials(cmd string) ([]apiv1.UpstreamCredential, error) {
	var out []apiv1.UpstreamCredential
	pair := func(flagName, v string) (string, string, error) {
		k, p, ok := strings.Cut(v, "=")
		if !ok || k == "" || p == "" {
			return "", "", usageError("admin %s: --%s %q: want NAME=PROVIDER", cmd, flagName, v)
		}
		return k, p, nil
	}
	for _, v := range f.envFromKey {
		env, p, err := pair("env-from-key", v)
		if err != nil {
			return nil, err
		}
		out = append(out, apiv1.UpstreamCredential{Kind: "api_key", Provider: p, Env: env})
	}
	for _, v := range f.headerFromKey {
		h, p, err := pair("header-from-key", v)
		if err != nil {
			return nil, err
		}
		out = append(out, apiv1.UpstreamCredential{Kind: "api_key", Provider: p, Header: h})
	}
	for _, p := range f.bearerFromKey {
		out = append(out, apiv1.UpstreamCredential{Kind: "api_key", Provider: p, Header: "Authorization", Scheme: "Bearer"})
	}
	if f.bearerFromOAuth != "" {
		out = append(out, apiv1.UpstreamCredential{Kind: "oauth", Provider: f.bearerFromOAuth, Header: "Authorization", Scheme: "Bearer"})
	}
	return out, nil
}

func (f *upstreamFlags) envMap(cmd string) (map[string]string, error) {
	if len(f.env) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range f.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError("admin %s: --env %q: want NAME=VALUE", cmd, kv)
		}
		m[k] = v
	}
	return m, nil
}

// settingsFlags is a.flags() for upstream add and update, where --url is
// the upstream's: the daemon's --url goes before the group there
// (plexus admin --url URL upstream add ...).
func (a *adminRun) settingsFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("plexus admin "+a.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&a.g.data, "data", a.g.data, "data directory of the local daemon (default: PLEXUS_DATA_DIR or the user config dir)")
	fs.BoolVar(&a.g.json, "json", a.g.json, "print JSON instead of a table")
	return fs
}

func seconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

func adminUpstreamAdd(ctx context.Context, a *adminRun, args []string) error {
	fs := a.settingsFlags()
	var f upstreamFlags
	f.register(fs, false)
	if err := a.parse(fs, args, &f.id, "entity-id", "name"); err != nil {
		return helpOK(err)
	}
	if (f.command == "") == (f.url == "") {
		return usageError("admin %s: give --command (a stdio upstream) or --url (an http or sse upstream)", a.name)
	}
	creds, err := f.credentials(a.name)
	if err != nil {
		return err
	}
	env, err := f.envMap(a.name)
	if err != nil {
		return err
	}
	oauthReq, err := f.oauth.request(a)
	if err != nil {
		return err
	}
	req := apiv1.UpstreamRequest{Name: f.name, Transport: f.transport, Command: f.command, Args: f.args, Env: env, URL: f.url,
		Credentials: creds, CallTimeoutSeconds: seconds(f.callTimeout), IdleTimeoutSeconds: seconds(f.idleTimeout), OAuth: oauthReq}
	return a.call(ctx, func(c *localclient.Client) error {
		u, err := c.AddUpstream(ctx, f.id, req)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(apiv1.UpstreamBody{Upstream: u})
		}
		fmt.Fprintf(a.env.Stdout, "Added upstream %s to %s.\n", u.Name, u.TenantID)
		return a.printUpstreamText(a.env.Stdout, u)
	})
}

func adminUpstreamUpdate(ctx context.Context, a *adminRun, args []string) error {
	fs := a.settingsFlags()
	var f upstreamFlags
	f.register(fs, true)
	if err := a.parse(fs, args, &f.id, "entity-id", "name"); err != nil {
		return helpOK(err)
	}
	set := setFlags(fs)
	creds, err := f.credentials(a.name)
	if err != nil {
		return err
	}
	oauthReq, err := f.oauth.request(a)
	if err != nil {
		return err
	}
	env, err := f.envMap(a.name)
	if err != nil {
		return err
	}
	return a.call(ctx, func(c *localclient.Client) error {
		cur, err := c.GetUpstream(ctx, f.id, f.name)
		if err != nil {
			return err
		}
		// Only what was given changes.
		req := apiv1.UpstreamRequest{Transport: cur.Transport, Command: quoteCommand(cur.Command, cur.Args), Env: cur.Env, URL: cur.URL,
			Credentials: cur.Credentials, CallTimeoutSeconds: cur.CallTimeoutSeconds, IdleTimeoutSeconds: cur.IdleTimeoutSeconds}
		if set["transport"] {
			req.Transport = f.transport
		}
		if set["command"] {
			req.Command, req.URL = f.command, ""
			if !set["transport"] && cur.Transport != "stdio" {
				req.Transport = "stdio"
			}
		}
		if set["arg"] {
			req.Args = f.args
		}
		if set["url"] {
			req.URL, req.Command = f.url, ""
			if !set["transport"] && cur.Transport == "stdio" {
				req.Transport = "http"
			}
		}
		if set["env"] {
			req.Env = env
		}
		if f.noCredentials {
			req.Credentials = nil
		}
		if len(creds) > 0 {
			req.Credentials = creds
		}
		if set["call-timeout"] {
			req.CallTimeoutSeconds = seconds(f.callTimeout)
		}
		if set["idle-timeout"] {
			req.IdleTimeoutSeconds = seconds(f.idleTimeout)
		}
		req.OAuth = oauthReq
		u, err := c.UpdateUpstream(ctx, f.id, f.name, req)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(apiv1.UpstreamBody{Upstream: u})
		}
		fmt.Fprintf(a.env.Stdout, "Updated upstream %s of %s; it restarted with the new settings.\n", u.Name, u.TenantID)
		return a.printUpstreamText(a.env.Stdout, u)
	})
}

// quoteCommand writes a command and its arguments back as one command
// line that SplitCommandLine reads into the same words.
func quoteCommand(cmd string, args []string) string {
	if cmd == "" {
		return ""
	}
	words := append([]string{cmd}, args...)
	for i, w := range words {
		if w != "" && !strings.ContainsAny(w, " \t'\"\\$`|&;<>()*?[~#=") {
			continue
		}
		words[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(words, " ")
}

func (a *adminRun) upstreamNameFlags(fs *flag.FlagSet, id, name *string) {
	fs.StringVar(id, "entity-id", "", "tenant id (required)")
	fs.StringVar(name, "name", "", "the upstream's name (required)")
}

func adminUpstreamList(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	if err := a.parse(fs, args, &id, "entity-id"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		us, err := c.ListUpstreams(ctx, id)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(apiv1.UpstreamList{Upstreams: us})
		}
		if len(us) == 0 {
			fmt.Fprintf(a.env.Stdout, "Tenant %s has no upstream MCP servers. Add one with: plexus admin upstream add --entity-id %s --name NAME --command \"...\"\n", id, id)
			return nil
		}
		rows := make([][]string, 0, len(us))
		for _, u := range us {
			rows = append(rows, []string{u.Name, u.Transport, target(u), credentialsText(u.Credentials), stateText(u.Status), itemsText(u.Status)})
		}
		return a.table("NAME\tTRANSPORT\tCOMMAND / URL\tCREDENTIALS\tSTATE\tITEMS", rows)
	})
}

func adminUpstreamShow(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, name string
	a.upstreamNameFlags(fs, &id, &name)
	if err := a.parse(fs, args, &id, "entity-id", "name"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		u, err := c.GetUpstream(ctx, id, name)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(apiv1.UpstreamBody{Upstream: u})
		}
		return a.printUpstreamText(a.env.Stdout, u)
	})
}

func adminUpstreamRemove(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, name string
	a.upstreamNameFlags(fs, &id, &name)
	if err := a.parse(fs, args, &id, "entity-id", "name"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		if err := c.DeleteUpstream(ctx, id, name); err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(map[string]string{"entity_id": id, "removed_upstream": name})
		}
		fmt.Fprintf(a.env.Stdout, "Removed upstream %s from %s: its processes stopped, and connected MCP clients are told its items are gone.\n", name, id)
		return nil
	})
}

func adminUpstreamRestart(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, name string
	a.upstreamNameFlags(fs, &id, &name)
	if err := a.parse(fs, args, &id, "entity-id", "name"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		u, err := c.RestartUpstream(ctx, id, name)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(apiv1.UpstreamBody{Upstream: u})
		}
		fmt.Fprintf(a.env.Stdout, "Restarted upstream %s of %s.\n", name, id)
		return a.printUpstreamText(a.env.Stdout, u)
	})
}

func adminUpstreamLog(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, name string
	a.upstreamNameFlags(fs, &id, &name)
	if err := a.parse(fs, args, &id, "entity-id", "name"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		lg, err := c.UpstreamLog(ctx, id, name)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(lg)
		}
		if len(lg.Lines) == 0 {
			fmt.Fprintf(a.env.Stdout, "Nothing logged for upstream %s of %s yet (it starts when the tenant is used).\n", name, id)
			return nil
		}
		for _, l := range lg.Lines {
			fmt.Fprintf(a.env.Stdout, "%s %-12s %s\n", l.Time.UTC().Format("2006-01-02T15:04:05.000Z"), l.Source, l.Text)
		}
		return nil
	})
}

// target is an upstream's command line or URL.
func target(u apiv1.Upstream) string {
	if u.URL != "" {
		return u.URL
	}
	return quoteCommand(u.Command, u.Args)
}

func credentialsText(cs []apiv1.UpstreamCredential) string {
	if len(cs) == 0 {
		return "-"
	}
	var parts []string
	for _, c := range cs {
		what := c.Provider + " API key"
		if c.Kind == "oauth" {
			what = c.Provider + " OAuth token"
		}
		where := "env " + c.Env
		if c.Env == "" {
			where = "header " + c.Header
			if c.Scheme != "" {
				where += " (" + c.Scheme + ")"
			}
		}
		parts = append(parts, what+" → "+where)
	}
	return strings.Join(parts, "; ")
}

func stateText(st *apiv1.UpstreamStatus) string {
	if st == nil {
		return "-"
	}
	if len(st.Instances) == 0 {
		return "not started"
	}
	counts := map[string]int{}
	for _, in := range st.Instances {
		counts[in.State]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if len(st.Instances) == 1 {
			parts = append(parts, k)
		} else {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
	}
	return strings.Join(parts, ", ")
}

func itemsText(st *apiv1.UpstreamStatus) string {
	if st == nil || !st.Listed {
		return "-"
	}
	return fmt.Sprintf("%d tools, %d resources, %d templates, %d prompts", st.Tools, st.Resources, st.ResourceTemplates, st.Prompts)
}

func (a *adminRun) printUpstreamText(w io.Writer, u apiv1.Upstream) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Name:\t%s (items appear as %s__<name>)\n", u.Name, u.Name)
	fmt.Fprintf(tw, "Tenant:\t%s\n", u.TenantID)
	fmt.Fprintf(tw, "Transport:\t%s\n", u.Transport)
	if u.URL != "" {
		fmt.Fprintf(tw, "URL:\t%s\n", u.URL)
	} else {
		fmt.Fprintf(tw, "Command:\t%s\n", quoteCommand(u.Command, u.Args))
	}
	if len(u.Env) > 0 {
		keys := make([]string, 0, len(u.Env))
		for k := range u.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(tw, "Environment:\t%s\n", strings.Join(keys, ", "))
	}
	fmt.Fprintf(tw, "Credentials:\t%s\n", credentialsText(u.Credentials))
	printUpstreamOAuth(tw, u.OAuth)
	if u.PerUser {
		fmt.Fprintf(tw, "Runs:\tone process per user, with that user's own credentials\n")
	} else {
		fmt.Fprintf(tw, "Runs:\tone process for the whole tenant, shared by every session\n")
	}
	if st := u.Status; st != nil {
		fmt.Fprintf(tw, "Items:\t%s\n", dash(itemsText(st)))
		if st.Waiting != "" {
			fmt.Fprintf(tw, "Waiting:\t%s\n", st.Waiting)
		}
		for _, p := range st.Problems {
			fmt.Fprintf(tw, "Not shown:\t%s\n", p)
		}
		for _, in := range st.Instances {
			who := "shared"
			if in.Owner != "" {
				who = "user " + in.Owner
			}
			line := in.State
			if in.PID != 0 {
				line += fmt.Sprintf(", pid %d", in.PID)
			}
			if in.Server != "" {
				line += ", " + in.Server
			}
			line += fmt.Sprintf(", %d starts, %d failures", in.Starts, in.Failures)
			fmt.Fprintf(tw, "Process (%s):\t%s\n", who, line)
			if in.LastError != "" {
				fmt.Fprintf(tw, "  last error:\t%s\n", in.LastError)
			}
		}
		if !st.Listed && len(st.Instances) > 0 {
			fmt.Fprintf(tw, "Log:\tplexus admin upstream log --entity-id %s --name %s\n", u.TenantID, u.Name)
		}
	}
	return tw.Flush()
}
