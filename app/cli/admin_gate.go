package cli

// plexus admin gate …: put a TOTP gate on a tool set (enroll), change,
// list and remove gates; plexus admin tools search: the tenant's tool
// search (issue 11).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/plexus-mcp/plexus/app/apiv1"
	"github.com/plexus-mcp/plexus/app/localclient"
)

// gateFlags are the flags of gate enroll and set.
type gateFlags struct {
	id, toolSet        string
	unlockFor, coolOff time.Duration
}

func (f *gateFlags) register(fs *flag.FlagSet, settings bool) {
	fs.StringVar(&f.id, "entity-id", "", "tenant id (required)")
	fs.StringVar(&f.toolSet, "tool-set", "", "the gated tool set (required)")
	if settings {
		fs.DurationVar(&f.unlockFor, "unlock-for", 0, "how long an unlock lasts, e.g. 30m (1m-24h; default 15m)")
		fs.DurationVar(&f.coolOff, "cool-off", 0, "how long the gate takes no code after 5 wrong ones, e.g. 1h (1m-24h; default 15m)")
	}
}

func (f *gateFlags) request() (apiv1.GateRequest, error) {
	req := apiv1.GateRequest{ToolSet: f.toolSet}
	for _, d := range []struct {
		name string
		v    time.Duration
		to   *int
	}{{"unlock-for", f.unlockFor, &req.UnlockForMinutes}, {"cool-off", f.coolOff, &req.CoolOffMinutes}} {
		if d.v%time.Minute != 0 || d.v < 0 {
			return req, usageError("--%s %s: whole minutes, e.g. 15m", d.name, d.v)
		}
		*d.to = int(d.v / time.Minute)
	}
	return req, nil
}

// adminGateEnroll puts a gate on a tool set and prints its otpauth URI
// (and a QR code) once; with --again it gives an existing gate a new
// secret.
func adminGateEnroll(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var f gateFlags
	f.register(fs, true)
	var again bool
	fs.BoolVar(&again, "again", false, "give an existing gate a new secret (the old one stops working)")
	if err := a.parse(fs, args, &f.id, "entity-id", "tool-set"); err != nil {
		return helpOK(err)
	}
	req, err := f.request()
	if err != nil {
		return err
	}
	return a.call(ctx, func(c *localclient.Client) error {
		var e apiv1.GateEnrollment
		var err error
		if again {
			e, err = c.EnrollGate(ctx, f.id, f.toolSet)
		} else {
			e, err = c.CreateGate(ctx, f.id, req)
			var ae *localclient.APIError
			if errors.As(err, &ae) && ae.Status == http.StatusConflict {
				return fmt.Errorf("%w (to replace its secret: plexus admin gate enroll --entity-id %s --tool-set %s --again)", err, f.id, strconv.Quote(f.toolSet))
			}
		}
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(e)
		}
		w := a.env.Stdout
		fmt.Fprintf(w, "Tool set %q of %s is behind a one-time code now. Scan this with an authenticator app\n(or add the key by hand); it is shown only this once:\n\n", e.Gate.ToolSet, e.Gate.TenantID)
		if qr, err := qrcode.New(e.OTPAuthURI, qrcode.Medium); err == nil {
			fmt.Fprintln(w, qr.ToSmallString(false))
		}
		fmt.Fprintf(w, "otpauth URI: %s\nKey:         %s\n\n", e.OTPAuthURI, e.Secret)
		fmt.Fprintf(w, "An unlock (plexus_gate_unlock) lasts %d minutes per MCP session; 5 wrong codes lock the gate for %d minutes.\n",
			e.Gate.UnlockForMinutes, e.Gate.CoolOffMinutes)
		return nil
	})
}

func adminGateSet(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var f gateFlags
	f.register(fs, true)
	if err := a.parse(fs, args, &f.id, "entity-id", "tool-set"); err != nil {
		return helpOK(err)
	}
	req, err := f.request()
	if err != nil {
		return err
	}
	return a.call(ctx, func(c *localclient.Client) error {
		g, err := c.UpdateGate(ctx, f.id, f.toolSet, req)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(apiv1.GateBody{Gate: g})
		}
		fmt.Fprintf(a.env.Stdout, "Gate on %q of %s: unlock lasts %d minutes, cooling-off %d minutes. Open unlocks ended.\n",
			g.ToolSet, g.TenantID, g.UnlockForMinutes, g.CoolOffMinutes)
		return nil
	})
}

func adminGateList(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id string
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	if err := a.parse(fs, args, &id, "entity-id"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		l, err := c.ListGates(ctx, id)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(l)
		}
		fmt.Fprintf(a.env.Stdout, "Tool search (plexus_search_tools, plexus_call_tool): %s\n", onOff(l.SearchTools))
		if len(l.Gates) == 0 {
			fmt.Fprintf(a.env.Stdout, "Tenant %s has no gates. Add one with: plexus admin gate enroll --entity-id %s --tool-set SET\n", id, id)
			return nil
		}
		rows := make([][]string, 0, len(l.Gates))
		for _, g := range l.Gates {
			state := "ready"
			if g.CoolingUntil != nil {
				state = "cooling off until " + fmtTime(*g.CoolingUntil)
			} else if g.Failures > 0 {
				state = fmt.Sprintf("%d wrong codes", g.Failures)
			}
			rows = append(rows, []string{g.ToolSet, fmt.Sprintf("%dm", g.UnlockForMinutes), fmt.Sprintf("%dm", g.CoolOffMinutes), state, fmtTime(g.EnrolledAt)})
		}
		return a.table("TOOL SET\tUNLOCK\tCOOL-OFF\tSTATE\tENROLLED", rows)
	})
}

func adminGateRemove(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var f gateFlags
	f.register(fs, false)
	if err := a.parse(fs, args, &f.id, "entity-id", "tool-set"); err != nil {
		return helpOK(err)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		if err := c.DeleteGate(ctx, f.id, f.toolSet); err != nil {
			return err
		}
		fmt.Fprintf(a.env.Stdout, "Removed the gate on %q of %s; its tools work without a code now.\n", f.toolSet, f.id)
		return nil
	})
}

func adminToolSearch(ctx context.Context, a *adminRun, args []string) error {
	fs := a.flags()
	var id string
	var on, off bool
	fs.StringVar(&id, "entity-id", "", "tenant id (required)")
	fs.BoolVar(&on, "on", false, "list plexus_search_tools and plexus_call_tool in the tenant")
	fs.BoolVar(&off, "off", false, "stop listing them")
	if err := a.parse(fs, args, &id, "entity-id"); err != nil {
		return helpOK(err)
	}
	if on == off {
		return usageError("admin %s: give --on or --off", a.name)
	}
	return a.call(ctx, func(c *localclient.Client) error {
		l, err := c.SetToolSearch(ctx, id, on)
		if err != nil {
			return err
		}
		if a.g.json {
			return a.printJSON(l)
		}
		fmt.Fprintf(a.env.Stdout, "Tool search of %s is %s; connected clients were told their tool list changed.\n", id, onOff(l.SearchTools))
		return nil
	})
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
