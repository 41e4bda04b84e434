package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/localclient"
	"golang.org/x/term"
)

const adminUsage = `Usage: plexus admin [--data DIR | --url URL] [--json] GROUP COMMAND [flags]

  tenant create --entity-id ID --name NAME
  tenant list
  tenant show --entity-id ID
  tenant update --entity-id ID --name NAME
  tenant delete --entity-id ID
  tenant rotate-secret --entity-id ID
  user list --entity-id ID
  user token --entity-id ID --user-id-from-host-app U
  user delete --entity-id ID --user PERSISTENT_USER_ID
  token list --entity-id ID [--user PERSISTENT_USER_ID]
  token revoke --entity-id ID --token-id TID
  ext-oauth create --entity-id ID --provider-name P --client-id C --client-secret S|-
        --authorization-url U --token-url U [--scopes "a b" | a,b] [--userinfo-url U]
        [--api-origins "https://api.example.com ..."] [--revocation-url U]
        [--resource U] [--preset NAME]
  ext-oauth list --entity-id ID
  ext-oauth show --entity-id ID --provider-name P
  ext-oauth update --entity-id ID --provider-name P [any create flag; only given ones change]
  ext-oauth delete --entity-id ID --provider-name P
  ext-oauth presets
  tools list --entity-id ID
  tools enable|disable --entity-id ID (--tool NAME | --tool-set NAME)
  tools search --entity-id ID (--on | --off)
  connections list --entity-id ID [--user PERSISTENT_USER_ID]
  connections set-api-key --entity-id ID [--user PERSISTENT_USER_ID] --provider-name P [--api-key K|-]
  connections disconnect --entity-id ID [--user PERSISTENT_USER_ID] --provider-name P
  connections delete-api-key --entity-id ID [--user PERSISTENT_USER_ID] --provider-name P
  upstream add --entity-id ID --name NAME (--command "CMD ARGS" | --url URL) [--transport stdio|http|sse]
        [--env NAME=VALUE] [--env-from-key NAME=PROVIDER] [--header-from-key HEADER=PROVIDER]
        [--bearer-from-key PROVIDER] [--bearer-from-oauth PROVIDER] [--call-timeout 60s] [--idle-timeout 10m]
        [--oauth [--oauth-client-id C [--oauth-client-secret S|-]] [--oauth-scopes "A B"] [--oauth-provider P]]
  upstream update --entity-id ID --name NAME [any add flag; only given ones change] [--no-credentials]
  upstream list --entity-id ID
  upstream show --entity-id ID --name NAME
  upstream log --entity-id ID --name NAME
  upstream restart --entity-id ID --name NAME
  upstream remove --entity-id ID --name NAME
  httptool import --entity-id ID FILE.yaml|FILE.json|-
  httptool list --entity-id ID
  httptool get --entity-id ID --name NAME
  httptool delete --entity-id ID --name NAME
  gate enroll --entity-id ID --tool-set SET [--unlock-for 15m] [--cool-off 15m] [--again]
  gate set --entity-id ID --tool-set SET [--unlock-for 15m] [--cool-off 15m]
  gate list --entity-id ID
  gate remove --entity-id ID --tool-set SET
  audit list [--entity-id ID] [--user PERSISTENT_USER_ID | --who local|guest] [--tool T]
        [--outcome O] [--kind tool_call|credential|login|admin] [--since 24h|RFC3339]
        [--until T] [--limit N] [--cursor C]

With --preset (github, google, slack, microsoft; see ext-oauth presets) only
the client id and secret are needed. Access tokens go only to the provider's
API origins (a preset knows its own; a custom provider defaults to its
userinfo URL's origin, else needs --api-origins). ext-oauth update of a URL,
the client id or the API origins needs the client secret again and
disconnects every user of the provider. --client-secret - reads the secret from
one line of stdin; without --client-secret, ext-oauth create takes it from
PLEXUS_CLIENT_SECRET. Either keeps it out of shell history. A client secret
is never printed.

connections commands act for you, the tenant's local owner (the user Claude
Desktop acts as through plexus stdio), unless --user names a user registered
by a host application. set-api-key takes the key from --api-key (- reads one
line of stdin), else from PLEXUS_API_KEY, else asks for it (not echoed).

An upstream MCP server's tools, resources, templates and prompts appear in
the tenant as NAME__item. Its credentials are the calling user's own, from
the vault (--env-from-key OPENAI_API_KEY=openai: their API key for openai;
--bearer-from-oauth github: their GitHub connection); they are injected when
it starts, never stored with it, put in an argument list or logged. Without
credentials it runs once per tenant; with them, once per user. --oauth is for
an upstream that requires OAuth itself: Plexus finds its authorization server
from its 401, registers there (or uses --oauth-client-id), and each user
connects their own account through the link its tools answer with. In upstream
add and update, --url is the upstream's: give the daemon's before the group.

An HTTP tool is one HTTP request built from templates ("{city}" is the
argument city, escaped for its place in the path, query, a header or the
JSON body). httptool import reads a YAML or JSON file holding one tool, a
list, or tools: [...], and adds or replaces each; httptool get prints a
tool as an entry import takes back. A tool's auth names the calling user's
credential (type oauth or api_key, provider_name, and for a key header or
query_param), never a secret; it is sent only to the tool's URL origin.
A gate locks a tool set behind a one-time code from an authenticator app:
its tools answer "locked" until the MCP session calls plexus_gate_unlock
with the code. gate enroll prints the otpauth URI (and a QR code) once.
tools search --on lists plexus_search_tools and plexus_call_tool, for
clients that do not reload their tool list.

The daemon is found through the runtime file in the data directory (started
if not running); with --url, ADMIN_API_KEY must hold the admin token.
Global flags may also follow the command. --entity-id ID may be given as a
plain argument instead.
`

// adminGlobals are the flags every admin command accepts.
type adminGlobals struct {
	data, url string
	json      bool
}

func (g *adminGlobals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.data, "data", g.data, "data directory of the local daemon (default: PLEXUS_DATA_DIR or the user config dir)")
	fs.StringVar(&g.url, "url", g.url, "base URL of a daemon to talk to (token from ADMIN_API_KEY)")
	fs.BoolVar(&g.json, "json", g.json, "print JSON instead of a table")
}

// adminCommand is one `plexus admin GROUP COMMAND`.
type adminCommand struct {
	group, name string
	run         func(ctx context.Context, a *adminRun, args []string) error
}

// adminCommands is the whole CLI surface of the admin API.
var adminCommands = []adminCommand{
	{"tenant", "create", adminTenantCreate},
	{"tenant", "list", adminTenantList},
	{"tenant", "show", adminTenantShow},
	{"tenant", "update", adminTenantUpdate},
	{"tenant", "delete", adminTenantDelete},
	{"tenant", "rotate-secret", adminTenantRotate},
	{"user", "list", adminUserList},
	{"user", "token", adminUserToken},
	{"user", "delete", adminUserDelete},
	{"token", "list", adminTokenList},
	{"token", "revoke", adminTokenRevoke},
	{"ext-oauth", "create", adminProviderCreate},
	{"ext-oauth", "list", adminProviderList},
	{"ext-oauth", "show", adminProviderShow},
	{"ext-oauth", "update", adminProviderUpdate},
	{"ext-oauth", "delete", adminProviderDelete},
	{"ext-oauth", "presets", adminPresets},
	{"tools", "list", adminToolsList},
	{"tools", "enable", adminToolsSwitch(true)},
	{"tools", "disable", adminToolsSwitch(false)},
	{"tools", "search", adminToolSearch},
	{"connections", "list", adminConnectionsList},
	{"connections", "set-api-key", adminSetAPIKey},
	{"connections", "disconnect", adminDisconnect},
	{"connections", "delete-api-key", adminDeleteAPIKey},
	{"upstream", "add", adminUpstreamAdd},
	{"upstream", "update", adminUpstreamUpdate},
	{"upstream", "list", adminUpstreamList},
	{"upstream", "show", adminUpstreamShow},
	{"upstream", "log", adminUpstreamLog},
	{"upstream", "restart", adminUpstreamRestart},
	{"upstream", "remove", adminUpstreamRemove},
	{"httptool", "import", adminHTTPToolImport},
	{"httptool", "list", adminHTTPToolList},
	{"httptool", "get", adminHTTPToolGet},
	{"httptool", "delete", adminHTTPToolDelete},
	{"gate", "enroll", adminGateEnroll},
	{"gate", "set", adminGateSet},
	{"gate", "list", adminGateList},
	{"gate", "remove", adminGateRemove},
	{"audit", "list", adminAuditList},
}

// adminRun carries what a command needs: its globals, env and the client
// (made on first use, so flag mistakes never start a daemon).
type adminRun struct {
	g    adminGlobals
	env  Env
	name string // "tenant create", for messages
}

// Admin runs `plexus admin …`, a client of the daemon's admin API.
func Admin(ctx context.Context, args []string, env Env) error {
	a := &adminRun{env: env}
	fs := flag.NewFlagSet("plexus admin", flag.ContinueOnError)
	a.g.register(fs)
	if err := parseFlags(fs, args, env, "admin", func(w io.Writer) { fmt.Fprint(w, adminUsage) }); err != nil {
		return helpOK(err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return usageError("admin: missing command; one of: %s (see 'plexus admin --help')", strings.Join(adminGroups(), ", "))
	}
	group := rest[0]
	if group == "help" { // plexus admin help [GROUP [COMMAND]]
		return Admin(ctx, append(append([]string{}, rest[1:]...), "--help"), env)
	}
	if !contains(adminGroups(), group) {
		return unknownError("admin", "command", group, adminGroups(),
			"Commands: "+strings.Join(adminGroups(), ", ")+" (see 'plexus admin --help').")
	}
	verbs := adminVerbs(group)
	if len(rest) < 2 {
		return usageError("admin %s: missing command; one of: %s (see 'plexus admin %s --help')", group, strings.Join(verbs, ", "), group)
	}
	if isHelpArg(rest[1]) {
		fmt.Fprint(env.Stdout, adminGroupUsage(group))
		return nil
	}
	for _, c := range adminCommands {
		if c.group == group && c.name == rest[1] {
			a.name = group + " " + c.name
			return c.run(ctx, a, rest[2:])
		}
	}
	return unknownError("admin "+group, "command", rest[1], verbs,
		"Commands: "+strings.Join(verbs, ", ")+" (see 'plexus admin "+group+" --help').")
}

func adminGroups() []string {
	var gs []string
	for _, c := range adminCommands {
		if !contains(gs, c.group) {
			gs = append(gs, c.group)
		}
	}
	return gs
}

func adminVerbs(group string) []string {
	var vs []string
	for _, c := range adminCommands {
		if c.group == group {
			vs = append(vs, c.name)
		}
	}
	return vs
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// flags returns a FlagSet for the current command, with the global flags.
func (a *adminRun) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("plexus admin "+a.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.g.register(fs)
	return fs
}

// parse parses args into fs. If id is non-nil, one plain argument is taken
// as the entity id (so `tenant show acme` works like `--entity-id acme`).
// Named flags listed in required must be non-empty afterwards.
func (a *adminRun) parse(fs *flag.FlagSet, args []string, id *string, required ...string) error {
	help := a.help(fs)
	if err := parseFlags(fs, args, a.env, "admin "+a.name, help); err != nil {
		return err
	}
	if fs.NArg() > 0 && id != nil && *id == "" {
		*id = fs.Arg(0)
		if err := parseFlags(fs, fs.Args()[1:], a.env, "admin "+a.name, help); err != nil {
			return err
		}
	}
	if fs.NArg() > 0 {
		return usageError("admin %s: unexpected argument %q", a.name, fs.Arg(0))
	}
	for _, name := range required {
		if f := fs.Lookup(name); f != nil && f.Value.String() == "" {
			return usageError("admin %s: --%s is required", a.name, name)
		}
	}
	return nil
}

// client connects to the daemon: the one at --url with ADMIN_API_KEY, or
// the local one (started if needed) with its runtime file's token.
func (a *adminRun) client(ctx context.Context) (*localclient.Client, error) {
	if a.g.url != "" {
		key := a.env.Getenv("ADMIN_API_KEY")
		if key == "" {
			return nil, usageError("admin: --url needs the admin token in ADMIN_API_KEY")
		}
		return &localclient.Client{BaseURL: a.g.url, Token: key}, nil
	}
	dir, err := resolveDataDir(a.g.data, a.env)
	if err != nil {
		return nil, err
	}
	rt, err := localclient.EnsureDaemon(ctx, localclient.EnsureOptions{
		DataDir: dir,
		Exe:     a.env.Exe,
		Logger:  slog.New(slog.NewTextHandler(a.env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return nil, fmt.Errorf("start or find the plexus daemon for %s: %w", dir, err)
	}
	// NewClient re-proves the daemon's identity on each connection, so the
	// token and a typed key never reach a process that took its port.
	return localclient.NewClient(rt), nil
}

// call runs fn with a client and explains an admin-token refusal.
func (a *adminRun) call(ctx context.Context, fn func(c *localclient.Client) error) error {
	c, err := a.client(ctx)
	if err != nil {
		return err
	}
	err = fn(c)
	var ae *localclient.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		hint := "the runtime file's token was refused; is another daemon on that address?"
		if a.g.url != "" {
			hint = "check ADMIN_API_KEY"
		}
		return fmt.Errorf("admin %s: %w (%s)", a.name, err, hint)
	}
	if err != nil {
		return fmt.Errorf("admin %s: %w", a.name, err)
	}
	return nil
}

// Output helpers.

func (a *adminRun) printJSON(v any) error {
	enc := json.NewEncoder(a.env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *adminRun) table(header string, rows [][]string) error {
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (a *adminRun) printTenant(t apiv1.Tenant) error {
	if a.g.json {
		return a.printJSON(map[string]any{"tenant": t})
	}
	return a.printTenantText(a.env.Stdout, t)
}

func (a *adminRun) printTenantText(w io.Writer, t apiv1.Tenant) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Entity ID:\t%s\n", t.ID)
	fmt.Fprintf(tw, "Name:\t%s\n", t.Name)
	fmt.Fprintf(tw, "Host-app secret set:\t%s\n", yesNo(t.HasHostAppSecret))
	fmt.Fprintf(tw, "Created:\t%s\n", fmtTime(t.CreatedAt))
	fmt.Fprintf(tw, "Updated:\t%s\n", fmtTime(t.UpdatedAt))
	return tw.Flush()
}

func (a *adminRun) printSecret(t apiv1.Tenant, secret string) error {
	if a.g.json {
		return a.printJSON(map[string]any{"tenant": t, "host_app_secret": secret})
	}
	if err := a.printTenantText(a.env.Stdout, t); err != nil {
		return err
	}
	fmt.Fprintf(a.env.Stdout, "\nHost-app secret: %s\n", secret)
	fmt.Fprintf(a.env.Stdout, "This secret is shown once: store it now. Your host application sends it as\nX-Host-App-Secret to POST /%s/plexus-auth/register-user.\nTo replace it: plexus admin tenant rotate-secret --entity-id %s\n", t.ID, t.ID)
	return nil
}

// Commands.

func adminTenantCreate(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, name string
	fs.StringVar(&id, "entity-id", "", "tenant id: 1-63 of a-z 0-9 - _ (required)")
	fs.StringVar(&name, "name", "", "display name (required)")
	if err := a.parse(fs, args, &id, "entity-id", "name"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		t, secret, err := c.CreateTenant(ctx, id, name)
		if err != nil {
			return err
		}
		return a.printSecret(t, secret)
	})
}

func adminTenantList(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	if err := a.parse(fs, args, nil); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		ts, err := c.ListTenants(ctx)
		if err != nil {
			return err
		}
		if a.g.json {
			if ts == nil {
				ts = []apiv1.Tenant{}
			}
			return a.printJSON(map[string]any{"tenants": ts})
		}
		if len(ts) == 0 {
			fmt.Fprintln(a.env.Stdout, "No tenants yet. Create one: plexus admin tenant create --entity-id ID --name NAME")
			return nil
		}
		rows := make([][]string, 0, len(ts))
		for _, t := range ts {
			rows = append(rows, []string{t.ID, t.Name, yesNo(t.HasHostAppSecret), fmtTime(t.CreatedAt)})
		}
		return a.table("ENTITY ID\tNAME\tHOST-APP SECRET\tCREATED", rows)
	})
}

func adminTenantShow(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	if err := a.parse(fs, args, &id, "entity-id"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		t, err := c.GetTenant(ctx, id)
		if err != nil {
			return err
		}
		return a.printTenant(t)
	})
}

func adminTenantUpdate(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, name string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	fs.StringVar(&name, "name", "", "new display name (required)")
	if err := a.parse(fs, args, &id, "entity-id", "name"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		t, err := c.UpdateTenant(ctx, id, name)
		if err != nil {
			return err
		}
		return a.printTenant(t)
	})
}

func adminTenantDelete(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	fs.Bool("yes", false, "accepted for compatibility; delete never asks")
	if err := a.parse(fs, args, &id, "entity-id"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		if err := c.DeleteTenant(ctx, id); err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(map[string]any{"deleted": id})
		}
		fmt.Fprintf(a.env.Stdout, "Deleted tenant %s with its users, tokens, sessions and credentials.\n", id)
		return nil
	})
}

func adminTenantRotate(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	if err := a.parse(fs, args, &id, "entity-id"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		secret, err := c.RotateHostAppSecret(ctx, id)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(map[string]any{"entity_id": id, "host_app_secret": secret})
		}
		fmt.Fprintf(a.env.Stdout, "New host-app secret for %s: %s\nThis secret is shown once: store it now. The old secret no longer works.\n", id, secret)
		return nil
	})
}

func adminUserList(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	if err := a.parse(fs, args, &id, "entity-id"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		us, err := c.ListUsers(ctx, id)
		if err != nil {
			return err
		}
		if a.g.json {
			if us == nil {
				us = []apiv1.User{}
			}
			return a.printJSON(map[string]any{"users": us})
		}
		if len(us) == 0 {
			fmt.Fprintf(a.env.Stdout, "Tenant %s has no users yet.\n", id)
			return nil
		}
		rows := make([][]string, 0, len(us))
		for _, u := range us {
			rows = append(rows, []string{u.ID, u.HostUserID, fmtTime(u.CreatedAt)})
		}
		return a.table("PERSISTENT USER ID\tUSER ID FROM HOST APP\tCREATED", rows)
	})
}

func adminUserToken(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, hostUser string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	fs.StringVar(&hostUser, "user-id-from-host-app", "", "the user's id in the host application (required)")
	if err := a.parse(fs, args, &id, "entity-id", "user-id-from-host-app"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		token, uid, err := c.CreateUserToken(ctx, id, hostUser)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(map[string]string{"plexus_user_auth_token": token, "persistent_user_id": uid})
		}
		fmt.Fprintf(a.env.Stdout, "User token for %s in %s (persistent user id %s):\n%s\nThis token is shown once: store it now. MCP clients send it as Authorization: Bearer.\n", hostUser, id, uid, token)
		return nil
	})
}

func adminUserDelete(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, user string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	fs.StringVar(&user, "user", "", "persistent user id, as listed by: plexus admin user list (required)")
	if err := a.parse(fs, args, &id, "entity-id", "user"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		if err := c.DeleteUser(ctx, id, user); err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(map[string]string{"entity_id": id, "deleted": user})
		}
		fmt.Fprintf(a.env.Stdout, "Deleted user %s of %s, with their tokens, sessions, API keys and connections.\n", user, id)
		return nil
	})
}

func adminTokenList(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, user string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	fs.StringVar(&user, "user", "", "only this persistent user id's tokens")
	if err := a.parse(fs, args, &id, "entity-id"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		ts, err := c.ListTokens(ctx, id, user)
		if err != nil {
			return err
		}
		if a.g.json {
			if ts == nil {
				ts = []apiv1.TokenInfo{}
			}
			return a.printJSON(map[string]any{"tokens": ts})
		}
		if len(ts) == 0 {
			fmt.Fprintf(a.env.Stdout, "No tokens in %s.\n", id)
			return nil
		}
		rows := make([][]string, 0, len(ts))
		for _, t := range ts {
			exp := "never"
			if !t.ExpiresAt.IsZero() {
				exp = fmtTime(t.ExpiresAt)
			}
			rows = append(rows, []string{t.ID, t.UserID, fmtTime(t.CreatedAt), exp, t.State(time.Now())})
		}
		return a.table("TOKEN ID\tPERSISTENT USER ID\tCREATED\tEXPIRES\tSTATUS", rows)
	})
}

func adminTokenRevoke(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, tid string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	fs.StringVar(&tid, "token-id", "", "id of the token to revoke, from `token list` (required)")
	if err := a.parse(fs, args, nil, "entity-id", "token-id"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		if err := c.RevokeToken(ctx, id, tid); err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(map[string]string{"entity_id": id, "revoked": tid})
		}
		fmt.Fprintf(a.env.Stdout, "Revoked token %s of %s.\n", tid, id)
		return nil
	})
}

// helpOK turns flag.ErrHelp (help was printed) into success.
func helpOK(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// External OAuth providers.

// clientSecretEnv is read by `ext-oauth create` when --client-secret is
// not given, so the secret stays out of shell history.
const clientSecretEnv = "PLEXUS_CLIENT_SECRET"

// maxSecretLine bounds the client secret read from stdin.
const maxSecretLine = 64 << 10

// providerFlags are the flags of ext-oauth create and update.
type providerFlags struct {
	id, name, preset, clientID, secret                string
	authURL, tokenURL, userinfo, revocation, resource string
	scopes, apiOrigins                                string
}

func (p *providerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.id, "entity-id", "", "tenant id (required)")
	fs.StringVar(&p.name, "provider-name", "", "provider name, e.g. github (required; with --preset defaults to the preset's name)")
	fs.StringVar(&p.preset, "preset", "", "fill URLs and scopes from a built-in preset: github, google, slack, microsoft")
	fs.StringVar(&p.clientID, "client-id", "", "OAuth client id")
	fs.StringVar(&p.secret, "client-secret", "", "OAuth client secret; - reads one line from stdin (create: default $"+clientSecretEnv+")")
	fs.StringVar(&p.authURL, "authorization-url", "", "authorization endpoint (https, or http on loopback)")
	fs.StringVar(&p.tokenURL, "token-url", "", "token endpoint")
	fs.StringVar(&p.scopes, "scopes", "", `scopes, separated by spaces or commas: "read:user repo" or read:user,repo`)
	fs.StringVar(&p.userinfo, "userinfo-url", "", "userinfo endpoint")
	fs.StringVar(&p.revocation, "revocation-url", "", "token revocation endpoint (RFC 7009), used on disconnect")
	fs.StringVar(&p.resource, "resource", "", "RFC 8707 resource indicator sent on token requests")
	fs.StringVar(&p.apiOrigins, "api-origins", "", `origins the access tokens may be sent to, space- or comma-separated: "https://api.example.com"`)
}

// splitOrigins splits --api-origins on spaces and commas, like --scopes.
func splitOrigins(s string) []string { return splitScopes(s) }

// splitScopes reads --scopes: scopes separated by spaces (OAuth's own
// form) or commas (MCP Plexus's), or both ("a, b"). OAuth scope names never
// contain either.
func splitScopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// readSecret resolves the value of a secret flag (--client-secret,
// --api-key): "-" means one line of stdin.
func (a *adminRun) readSecret(flagName, v string) (string, error) {
	if v != "-" {
		return v, nil
	}
	if a.env.Stdin == nil {
		return "", usageError("admin %s: --%s -: no stdin", a.name, flagName)
	}
	sc := bufio.NewScanner(a.env.Stdin)
	sc.Buffer(make([]byte, 0, 1024), maxSecretLine)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return "", fmt.Errorf("admin %s: read --%s from stdin: %w", a.name, flagName, err)
		}
		return "", usageError("admin %s: --%s -: stdin is empty", a.name, flagName)
	}
	secret := strings.TrimSpace(sc.Text())
	if secret == "" {
		return "", usageError("admin %s: --%s -: the line read from stdin is empty", a.name, flagName)
	}
	return secret, nil
}

// promptSecret asks for a secret on the terminal without echo; when stdin
// is not a terminal it reads one line of stdin instead, and an empty one is
// a usage error saying missing.
func (a *adminRun) promptSecret(flagName, prompt, missing string) (string, error) {
	f, ok := a.env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		v, err := a.readSecret(flagName, "-")
		if errors.Is(err, ErrUsage) {
			return "", usageError("admin %s: %s", a.name, missing)
		}
		return v, err
	}
	fmt.Fprint(a.env.Stderr, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.env.Stderr)
	if err != nil {
		return "", fmt.Errorf("admin %s: read %s: %w", a.name, flagName, err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return "", usageError("admin %s: no %s entered", a.name, flagName)
	}
	return secret, nil
}

func adminProviderCreate(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var p providerFlags
	p.register(fs)
	if err := a.parse(fs, args, &p.id, "entity-id", "client-id"); err != nil {
		return helpOK(err)
	}
	if p.name == "" && p.preset == "" {
		return usageError("admin %s: --provider-name is required (or --preset)", a.name)
	}
	given := setFlags(fs)
	if !given["client-secret"] {
		p.secret = a.env.Getenv(clientSecretEnv)
	}
	secret, err := a.readSecret("client-secret", p.secret)
	if err != nil {
		return err
	}
	if secret == "" {
		return usageError("admin %s: --client-secret is required (- reads it from stdin; or set %s)", a.name, clientSecretEnv)
	}
	req := apiv1.ProviderRequest{
		ProviderName:     p.name,
		Preset:           p.preset,
		ClientID:         p.clientID,
		ClientSecret:     secret,
		AuthorizationURL: p.authURL,
		TokenURL:         p.tokenURL,
		UserinfoURL:      p.userinfo,
		RevocationURL:    p.revocation,
		Resource:         p.resource,
		Scopes:           splitScopes(p.scopes),
		APIOrigins:       splitOrigins(p.apiOrigins),
	}
	return a.call(ctx, func(c *localclient.Client) error {
		pr, err := c.CreateOAuthProvider(ctx, p.id, req)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(map[string]any{"provider": pr})
		}
		if err := a.printProviderText(pr); err != nil {
			return err
		}
		redirect := pr.RedirectURL
		if redirect == "" {
			redirect = strings.TrimRight(c.BaseURL, "/") + "/" + url.PathEscape(pr.TenantID) +
				"/oauth/external_callback/" + url.PathEscape(pr.Name)
		}
		fmt.Fprintf(a.env.Stdout, "\nRegister this redirect URL with the provider:\n  %s\n", redirect)
		return nil
	})
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	m := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}

func adminProviderUpdate(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var p providerFlags
	p.register(fs)
	if err := a.parse(fs, args, &p.id, "entity-id", "provider-name"); err != nil {
		return helpOK(err)
	}
	given := setFlags(fs)
	var patch apiv1.ProviderPatch
	for _, f := range []struct {
		name string
		dst  **string
		v    *string
	}{
		{"preset", &patch.Preset, &p.preset},
		{"client-id", &patch.ClientID, &p.clientID},
		{"authorization-url", &patch.AuthorizationURL, &p.authURL},
		{"token-url", &patch.TokenURL, &p.tokenURL},
		{"userinfo-url", &patch.UserinfoURL, &p.userinfo},
		{"revocation-url", &patch.RevocationURL, &p.revocation},
		{"resource", &patch.Resource, &p.resource},
	} {
		if given[f.name] {
			*f.dst = f.v
		}
	}
	if given["client-secret"] {
		secret, err := a.readSecret("client-secret", p.secret)
		if err != nil {
			return err
		}
		if secret == "" {
			return usageError("admin %s: --client-secret must not be empty (leave it out to keep the current one)", a.name)
		}
		patch.ClientSecret = &secret
	}
	if given["scopes"] {
		sc := apiv1.Scopes(splitScopes(p.scopes))
		if sc == nil {
			sc = apiv1.Scopes{}
		}
		patch.Scopes = &sc
	}
	if given["api-origins"] {
		origins := splitOrigins(p.apiOrigins)
		patch.APIOrigins = &origins
	}
	if patch == (apiv1.ProviderPatch{}) {
		return usageError("admin %s: nothing to change; give at least one of --client-id, --client-secret, --authorization-url, --token-url, --scopes, --userinfo-url, --api-origins, --revocation-url, --resource, --preset", a.name)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		up, err := c.UpdateOAuthProvider(ctx, p.id, p.name, patch)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(up)
		}
		if err := a.printProviderText(up.Provider); err != nil {
			return err
		}
		if up.Message != "" {
			fmt.Fprintf(a.env.Stdout, "\n%s\n", up.Message)
		}
		return nil
	})
}

func adminProviderList(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	if err := a.parse(fs, args, &id, "entity-id"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		ps, err := c.ListOAuthProviders(ctx, id)
		if err != nil {
			return err
		}
		if a.g.json {
			if ps == nil {
				ps = []apiv1.Provider{}
			}
			return a.printJSON(map[string]any{"providers": ps})
		}
		if len(ps) == 0 {
			fmt.Fprintf(a.env.Stdout, "Tenant %s has no external OAuth providers. Add one: plexus admin ext-oauth create --entity-id %s --preset github --client-id ID --client-secret -\n", id, id)
			return nil
		}
		rows := make([][]string, 0, len(ps))
		for _, p := range ps {
			rows = append(rows, []string{p.Name, dash(p.Preset), p.ClientID, yesNo(p.ClientSecretSet), dash(strings.Join(p.Scopes, " ")), fmtTime(p.UpdatedAt)})
		}
		return a.table("PROVIDER\tPRESET\tCLIENT ID\tSECRET SET\tSCOPES\tUPDATED", rows)
	})
}

func adminProviderShow(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, name string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	fs.StringVar(&name, "provider-name", "", "provider name (required)")
	if err := a.parse(fs, args, &id, "entity-id", "provider-name"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		p, err := c.GetOAuthProvider(ctx, id, name)
		if err != nil {
			return err
		}
		return a.printProvider(p)
	})
}

func adminProviderDelete(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, name string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	fs.StringVar(&name, "provider-name", "", "provider name (required)")
	fs.Bool("yes", false, "accepted for compatibility; delete never asks")
	if err := a.parse(fs, args, &id, "entity-id", "provider-name"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		if err := c.DeleteOAuthProvider(ctx, id, name); err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(map[string]string{"entity_id": id, "deleted": name})
		}
		fmt.Fprintf(a.env.Stdout, "Deleted OAuth provider %s of %s and every user's connection to it.\n", name, id)
		return nil
	})
}

func adminPresets(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	if err := a.parse(fs, args, nil); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		ps, err := c.ListOAuthPresets(ctx)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(map[string]any{"presets": ps})
		}
		rows := make([][]string, 0, len(ps))
		for _, p := range ps {
			rows = append(rows, []string{p.Name, p.DisplayName, strings.Join(p.Scopes, " "), p.AuthorizationURL})
		}
		return a.table("PRESET\tNAME\tDEFAULT SCOPES\tAUTHORIZATION URL", rows)
	})
}

func (a *adminRun) printProvider(p apiv1.Provider) error {
	if a.g.json {
		return a.printJSON(map[string]any{"provider": p})
	}
	return a.printProviderText(p)
}

// printProviderText prints a provider; the API never returns the client
// secret, and neither does this.
func (a *adminRun) printProviderText(p apiv1.Provider) error {
	tw := tabwriter.NewWriter(a.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Provider:\t%s\n", p.Name)
	fmt.Fprintf(tw, "Entity ID:\t%s\n", p.TenantID)
	fmt.Fprintf(tw, "Preset:\t%s\n", dash(p.Preset))
	fmt.Fprintf(tw, "Client ID:\t%s\n", p.ClientID)
	fmt.Fprintf(tw, "Client secret set:\t%s\n", yesNo(p.ClientSecretSet))
	fmt.Fprintf(tw, "Authorization URL:\t%s\n", p.AuthorizationURL)
	fmt.Fprintf(tw, "Token URL:\t%s\n", p.TokenURL)
	fmt.Fprintf(tw, "Userinfo URL:\t%s\n", dash(p.UserinfoURL))
	fmt.Fprintf(tw, "Revocation URL:\t%s\n", dash(p.RevocationURL))
	fmt.Fprintf(tw, "API origins:\t%s\n", dash(strings.Join(p.APIOrigins, " ")))
	fmt.Fprintf(tw, "Resource:\t%s\n", dash(p.Resource))
	fmt.Fprintf(tw, "Scopes:\t%s\n", dash(strings.Join(p.Scopes, " ")))
	if p.RedirectURL != "" {
		fmt.Fprintf(tw, "Redirect URL:\t%s\n", p.RedirectURL)
	}
	fmt.Fprintf(tw, "Updated:\t%s\n", fmtTime(p.UpdatedAt))
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Tool settings.

func adminToolsList(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	if err := a.parse(fs, args, &id, "entity-id"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		st, err := c.GetToolSettings(ctx, id)
		if err != nil {
			return err
		}
		return a.printToolSettings(st)
	})
}

func adminToolsSwitch(enable bool) func(ctx context.Context, a *adminRun, args []string) error {
	return func(ctx context.Context, a *adminRun, args []string) error {
		fs := a.flags()
		var id, tool, set string
		fs.StringVar(&id, "entity-id", "", "tenant id (required)")
		fs.StringVar(&tool, "tool", "", "tool name")
		fs.StringVar(&set, "tool-set", "", "tool set name")
		if err := a.parse(fs, args, &id, "entity-id"); err != nil {
			return helpOK(err)
		}
		if (tool == "") == (set == "") {
			return usageError("admin %s: give exactly one of --tool NAME or --tool-set NAME", a.name)
		}
		return a.call(ctx, func(c *localclient.Client) error {
			var (
				st   apiv1.ToolSettingsResponse
				err  error
				what string
			)
			if tool != "" {
				st, err = c.SetToolEnabled(ctx, id, tool, enable)
				what = "tool " + tool
			} else {
				st, err = c.SetToolSetEnabled(ctx, id, set, enable)
				what = "tool set " + set
			}
			if err != nil {
				return err
			}
			if a.g.json {
				return a.printJSON(st)
			}
			state := "Disabled"
			if enable {
				state = "Enabled"
			}
			fmt.Fprintf(a.env.Stdout, "%s %s in %s. Connected MCP clients are told the tool list changed.\n", state, what, id)
			return nil
		})
	}
}

func (a *adminRun) printToolSettings(st apiv1.ToolSettingsResponse) error {
	if a.g.json {
		return a.printJSON(st)
	}
	if st.Tools != nil {
		if len(st.Tools) == 0 {
			fmt.Fprintln(a.env.Stdout, "No tools are available to this tenant.")
		} else {
			rows := make([][]string, 0, len(st.Tools))
			for _, t := range st.Tools {
				rows = append(rows, []string{t.Name, strings.TrimSpace(dash(t.Source.Kind) + " " + t.Source.Name), dash(strings.Join(t.ToolSets, ",")), dash(t.Requires), yesNo(t.Enabled)})
			}
			if err := a.table("TOOL\tSOURCE\tTOOL SETS\tREQUIRES\tENABLED", rows); err != nil {
				return err
			}
		}
		fmt.Fprintln(a.env.Stdout)
	}
	fmt.Fprintf(a.env.Stdout, "Disabled tools: %s\n", noneIfEmpty(st.DisabledTools))
	fmt.Fprintf(a.env.Stdout, "Disabled tool sets: %s\n", noneIfEmpty(st.DisabledToolSets))
	return nil
}

func noneIfEmpty(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

// Connections and API keys.

// userFlags registers --entity-id, --user (default: the local owner) and
// (if provider) --provider-name.
func (a *adminRun) userFlags(fs *flag.FlagSet, id, user, provider *string) {
	fs.StringVar(id, "entity-id", "", "tenant id (required)")
	fs.StringVar(user, "user", apiv1.LocalOwner, "persistent user id, as listed by: plexus admin user list; local-owner is you, the user Claude Desktop acts as")
	if provider != nil {
		fs.StringVar(provider, "provider-name", "", "provider name (required)")
	}
}

func adminConnectionsList(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, user string
	a.userFlags(fs, &id, &user, nil)
	if err := a.parse(fs, args, &id, "entity-id"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		cs, err := c.ListConnections(ctx, id, user)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(cs)
		}
		if len(cs.Connections) == 0 && len(cs.APIKeys) == 0 {
			fmt.Fprintf(a.env.Stdout, "No OAuth connections or API keys for %s in %s.\n", userLabel(user), id)
			return nil
		}
		rows := make([][]string, 0, len(cs.Connections)+len(cs.APIKeys))
		for _, cn := range cs.Connections {
			rows = append(rows, []string{"oauth", cn.Provider, cn.Status, dash(strings.Join(cn.Scopes, " ")), fmtTime(cn.UpdatedAt)})
		}
		for _, k := range cs.APIKeys {
			rows = append(rows, []string{"api key", k.Provider, "stored", "-", fmtTime(k.UpdatedAt)})
		}
		return a.table("KIND\tPROVIDER\tSTATUS\tSCOPES\tUPDATED", rows)
	})
}

// apiKeyEnv is read by `connections set-api-key` when --api-key is not
// given, so the key stays out of shell history.
const apiKeyEnv = "PLEXUS_API_KEY"

// userLabel names a --user value for the middle of a sentence.
func userLabel(user string) string {
	if user == apiv1.LocalOwner {
		return "you (the local owner)"
	}
	return "user " + user
}

func adminSetAPIKey(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, user, provider, key string
	a.userFlags(fs, &id, &user, &provider)
	fs.StringVar(&key, "api-key", "", "the API key; - reads one line from stdin (default $"+apiKeyEnv+", else asks)")
	if err := a.parse(fs, args, &id, "entity-id", "provider-name"); err != nil {
		return helpOK(err)
	}
	var err error
	switch {
	case setFlags(fs)["api-key"]:
		key, err = a.readSecret("api-key", key)
	case a.env.Getenv(apiKeyEnv) != "":
		key = a.env.Getenv(apiKeyEnv)
	default:
		key, err = a.promptSecret("api-key", fmt.Sprintf("API key for %s: ", provider),
			"no API key given: pipe it on stdin (one line), set "+apiKeyEnv+", pass --api-key -, or run in a terminal to be asked")
	}
	if err != nil {
		return err
	}
	return a.call(ctx, func(c *localclient.Client) error {
		if err := c.SetAPIKey(ctx, id, user, provider, key); err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(map[string]string{"entity_id": id, "persistent_user_id": user, "stored_api_key": provider})
		}
		fmt.Fprintf(a.env.Stdout, "Stored the %s API key of %s in %s (sealed in the vault; it is never shown again).\n",
			provider, userLabel(user), id)
		return nil
	})
}

func adminDisconnect(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, user, provider string
	a.userFlags(fs, &id, &user, &provider)
	if err := a.parse(fs, args, &id, "entity-id", "provider-name"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		if err := c.Disconnect(ctx, id, user, provider); err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(map[string]string{"entity_id": id, "persistent_user_id": user, "disconnected": provider})
		}
		fmt.Fprintf(a.env.Stdout, "Disconnected %s of %s from %s (tokens revoked at the provider where it supports that).\n", userLabel(user), id, provider)
		return nil
	})
}

func adminDeleteAPIKey(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, user, provider string
	a.userFlags(fs, &id, &user, &provider)
	if err := a.parse(fs, args, &id, "entity-id", "provider-name"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		if err := c.DeleteAPIKey(ctx, id, user, provider); err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(map[string]string{"entity_id": id, "persistent_user_id": user, "deleted_api_key": provider})
		}
		fmt.Fprintf(a.env.Stdout, "Deleted the %s API key of %s in %s.\n", provider, userLabel(user), id)
		return nil
	})
}
