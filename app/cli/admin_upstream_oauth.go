package cli

// plexus admin upstream add|update --oauth …: Plexus as the OAuth client
// of an upstream MCP server that requires OAuth (issue 11 item 3).

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/plexus-mcp/plexus/app/apiv1"
)

// upstreamOAuthFlags are the --oauth flags of upstream add and update.
type upstreamOAuthFlags struct {
	on                                 bool
	provider, clientID, secret, scopes string
}

func (f *upstreamOAuthFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.on, "oauth", false, "the upstream requires OAuth: find its authorization server from its 401 and register Plexus there; each user connects their own account (http, sse)")
	fs.StringVar(&f.clientID, "oauth-client-id", "", "a client registered by hand at the upstream's authorization server, instead of Plexus registering itself (implies --oauth)")
	fs.StringVar(&f.secret, "oauth-client-secret", "", "that client's secret; - reads one line from stdin")
	fs.StringVar(&f.scopes, "oauth-scopes", "", "the scopes to ask for, space-separated (default: those the upstream asks for)")
	fs.StringVar(&f.provider, "oauth-provider", "", "the name of the OAuth provider Plexus keeps for the upstream (default: the upstream's name)")
}

// request builds the OAuth part of an upstream request (nil without
// --oauth or --oauth-client-id).
func (f *upstreamOAuthFlags) request(a *adminRun) (*apiv1.UpstreamOAuthRequest, error) {
	if !f.on && f.clientID == "" {
		if f.secret != "" || f.scopes != "" || f.provider != "" {
			return nil, usageError("admin %s: --oauth-client-secret, --oauth-scopes and --oauth-provider go with --oauth", a.name)
		}
		return nil, nil
	}
	r := &apiv1.UpstreamOAuthRequest{Provider: f.provider, ClientID: f.clientID}
	if f.secret != "" {
		if f.clientID == "" {
			return nil, usageError("admin %s: --oauth-client-secret needs --oauth-client-id", a.name)
		}
		s, err := a.readSecret("oauth-client-secret", f.secret)
		if err != nil {
			return nil, err
		}
		r.ClientSecret = s
	}
	if f.scopes != "" {
		r.Scopes = strings.Fields(f.scopes)
	}
	return r, nil
}

// printUpstreamOAuth writes how Plexus authorizes at the upstream.
func printUpstreamOAuth(w io.Writer, o *apiv1.UpstreamOAuth) {
	if o == nil {
		return
	}
	fmt.Fprintf(w, "OAuth:\tPlexus is its OAuth client (provider %s, client %s); each user connects their own account through the link its tools answer with\n", o.Provider, o.ClientID)
	fmt.Fprintf(w, "Authorization:\t%s\n", o.AuthorizationURL)
	fmt.Fprintf(w, "Resource:\t%s\n", o.Resource)
	if len(o.Scopes) > 0 {
		fmt.Fprintf(w, "Scopes:\t%s\n", strings.Join(o.Scopes, " "))
	}
}
