package cli

// plexus admin httptool …: import, list, show and delete a tenant's
// declarative HTTP tools (issue 11).

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/plexus-mcp/plexus/app/adminops"
	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/localclient"
)

func adminHTTPToolImport(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, file string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	fs.StringVar(&file, "file", "", "YAML or JSON file of tools, - for stdin (or give it as a plain argument)")
	help := a.help(fs)
	if err := parseFlags(fs, args, a.env, "admin "+a.name, help); err != nil {
		return helpOK(err)
	}
	// Plain arguments: FILE, or ID FILE; flags may follow them.
	for fs.NArg() > 0 {
		arg := fs.Arg(0)
		switch {
		case file == "" && (id != "" || fs.NArg() == 1):
			file = arg
		case id == "":
			id = arg
		default:
			return usageError("admin %s: unexpected argument %q", a.name, arg)
		}
		if err := parseFlags(fs, fs.Args()[1:], a.env, "admin "+a.name, help); err != nil {
			return helpOK(err)
		}
	}
	if id == "" {
		return usageError("admin %s: --entity-id is required", a.name)
	}
	if file == "" {
		return usageError("admin %s: name the YAML or JSON file of tools (or - for stdin)", a.name)
	}
	content, err := readToolFile(a, file)
	if err != nil {
		return err
	}
	// Check the file here first: a syntax error is reported without a
	// round trip (the daemon checks it again, with the definitions).
	if _, err := adminops.ParseHTTPTools(content); err != nil {
		return fmt.Errorf("admin %s: %s: %w", a.name, file, err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		got, err := c.ImportHTTPTools(ctx, id, string(content))
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(got)
		}
		if len(got.Created) > 0 {
			fmt.Fprintf(a.env.Stdout, "Added to %s: %s\n", id, strings.Join(got.Created, ", "))
		}
		if len(got.Updated) > 0 {
			fmt.Fprintf(a.env.Stdout, "Replaced in %s: %s\n", id, strings.Join(got.Updated, ", "))
		}
		for _, h := range got.HTTPTools {
			if h.Problem != "" {
				fmt.Fprintf(a.env.Stdout, "Not shown: %s: %s\n", h.Name, h.Problem)
			}
		}
		fmt.Fprintln(a.env.Stdout, "Connected MCP clients are told the tool list changed.")
		return nil
	})
}

// readToolFile reads a tool file (or stdin for "-"), at most
// adminops.MaxHTTPToolFile bytes.
func readToolFile(a *adminRun, file string) ([]byte, error) {
	var r io.Reader
	if file == "-" {
		if a.env.Stdin == nil {
			return nil, usageError("admin %s: no stdin to read the tools from", a.name)
		}
		r = a.env.Stdin
	} else {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("admin %s: %w", a.name, err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, adminops.MaxHTTPToolFile+1))
	if err != nil {
		return nil, fmt.Errorf("admin %s: read %s: %w", a.name, file, err)
	}
	if len(b) > adminops.MaxHTTPToolFile {
		return nil, fmt.Errorf("admin %s: %s is larger than %d bytes", a.name, file, adminops.MaxHTTPToolFile)
	}
	return b, nil
}

func adminHTTPToolList(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	if err := a.parse(fs, args, &id, "entity-id"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		hs, err := c.ListHTTPTools(ctx, id)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(apiv1.HTTPToolList{HTTPTools: hs})
		}
		if len(hs) == 0 {
			fmt.Fprintf(a.env.Stdout, "Tenant %s has no HTTP tools. Add some with: plexus admin httptool import --entity-id %s FILE.yaml\n", id, id)
			return nil
		}
		rows := make([][]string, 0, len(hs))
		for _, h := range hs {
			rows = append(rows, []string{h.Name, h.Method, h.URL, authText(h.Auth), shownText(h)})
		}
		return a.table("NAME\tMETHOD\tURL\tCREDENTIAL\tSHOWN", rows)
	})
}

func authText(a *apiv1.HTTPToolAuth) string {
	switch {
	case a == nil:
		return "-"
	case a.Type == "oauth":
		return "oauth:" + a.ProviderName
	case a.Header != "":
		return "api_key:" + a.ProviderName + " (header " + a.Header + ")"
	default:
		return "api_key:" + a.ProviderName + " (query " + a.QueryParam + ")"
	}
}

func shownText(h apiv1.HTTPTool) string {
	switch {
	case h.Shown == nil:
		return "-"
	case *h.Shown:
		return "yes"
	default:
		return "no: " + h.Problem
	}
}

func adminHTTPToolGet(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, name string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	fs.StringVar(&name, "name", "", "the tool's name (required)")
	if err := a.parse(fs, args, &id, "entity-id", "name"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		h, err := c.GetHTTPTool(ctx, id, name)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(apiv1.HTTPToolBody{HTTPTool: h})
		}
		// The definition as a file entry: import takes it back.
		fmt.Fprintf(a.env.Stdout, "# %s of tenant %s (shown: %s)\n", h.Name, id, shownText(h))
		return a.printJSON(h.HTTPToolDefinition)
	})
}

func adminHTTPToolDelete(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id, name string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	fs.StringVar(&name, "name", "", "the tool's name (required)")
	if err := a.parse(fs, args, &id, "entity-id", "name"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		if err := c.DeleteHTTPTool(ctx, id, name); err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(map[string]string{"entity_id": id, "deleted_http_tool": name})
		}
		fmt.Fprintf(a.env.Stdout, "Deleted HTTP tool %s of %s; connected MCP clients are told the tool list changed.\n", name, id)
		return nil
	})
}
