package cli

// plexus admin audit list: read the audit log (GET /api/v1/audit).

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/localclient"
)

func adminAuditList(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var q apiv1.AuditQuery
	fs.StringVar(&q.Tenant, "entity-id", "", "only this tenant's records")
	fs.StringVar(&q.User, "user", "", "only this persistent user id's records")
	fs.StringVar(&q.Who, "who", "", "local, guest or user:<persistent id>")
	fs.StringVar(&q.Tool, "tool", "", "only calls of this tool")
	fs.StringVar(&q.Outcome, "outcome", "", "ok, tool_error, protocol_error, needs_consent, needs_key, denied or failed")
	fs.StringVar(&q.Kind, "kind", "", "tool_call, credential, login or admin")
	fs.StringVar(&q.Since, "since", "", "from this time: RFC 3339, or back from now (24h, 7d)")
	fs.StringVar(&q.Until, "until", "", "before this time: RFC 3339, or back from now")
	fs.StringVar(&q.Cursor, "cursor", "", "continue from a previous page's next cursor")
	fs.IntVar(&q.Limit, "limit", 50, "records per page, 1-200")
	if err := a.parse(fs, args, &q.Tenant); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		res, err := c.Audit(ctx, q)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(res)
		}
		if len(res.Records) == 0 {
			fmt.Fprintln(a.env.Stdout, "No audit records match.")
			return nil
		}
		rows := make([][]string, 0, len(res.Records))
		for _, r := range res.Records {
			what := r.Tool
			if what == "" {
				what = r.Action
			}
			who := r.UserName
			switch {
			case r.Local:
				who = "local owner"
			case who == "" && r.UserID != "":
				who = r.UserID
			case who == "" && r.Session != "":
				who = "guest " + r.Session
			case who == "" && r.Actor != "":
				who = r.Actor
			}
			detail := r.Target
			if len(r.Args) > 0 {
				detail = strings.TrimSpace(detail + " " + string(r.Args))
			}
			if len(detail) > 80 {
				detail = detail[:77] + "..."
			}
			rows = append(rows, []string{fmtTime(r.Time), r.Kind, dash(r.Tenant), dash(who), dash(what), r.Outcome,
				strconv.FormatFloat(r.DurationMS, 'f', 1, 64), dash(detail)})
		}
		if err := a.table("TIME\tKIND\tTENANT\tWHO\tTOOL/ACTION\tOUTCOME\tMS\tDETAIL", rows); err != nil {
			return err
		}
		if res.Next != "" {
			fmt.Fprintf(a.env.Stdout, "More: --cursor %s\n", res.Next)
		}
		return nil
	})
}
