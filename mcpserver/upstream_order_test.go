//go:build unix

package mcpserver

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plexus-mcp/plexus/mcpserver/upstream/upstreamtest"
	"github.com/plexus-mcp/plexus/vault"
)

// TestUpstreamProgressBeforeResult (issue 11, line 1: "progress intact"):
// an upstream that writes a call's progress notifications and then its
// result (upstreamtest.ServeRaw, all in one write) has every one of them
// reach the calling client, in order, before the result: when CallTool
// returns, all are there. Calls run concurrently in both eras, so each
// call's notifications must also reach only their own call.
func TestUpstreamProgressBeforeResult(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e := newUpstreamEnv(t)
	e.addUpstream(vault.Upstream{TenantID: "acme", Name: "raw", Transport: vault.UpstreamStdio, Command: exe, Args: []string{upstreamtest.RawCmd}})
	const steps, calls, workers = 5, 15, 4
	for _, era := range []string{legacy, modern} {
		t.Run(era, func(t *testing.T) {
			c := e.client("acme", localToken, era)
			var wg sync.WaitGroup
			errs := make(chan error, workers*calls)
			for w := range workers {
				wg.Go(func() {
					for i := range calls {
						tok := fmt.Sprintf("%s-%d-%d", era, w, i)
						req := mcp.CallToolRequest{}
						req.Params.Name = "raw__burst"
						req.Params.Arguments = map[string]any{"steps": steps}
						req.Params.Meta = &mcp.Meta{ProgressToken: tok}
						res, err := c.CallTool(t.Context(), req)
						if err != nil {
							errs <- err
							return
						}
						if tc, _ := res.Content[0].(mcp.TextContent); tc.Text != fmt.Sprintf("burst %d", steps) {
							errs <- fmt.Errorf("result %+v", res)
							return
						}
						var got []float64
						for _, n := range c.notesOf("notifications/progress") {
							if n.Params.AdditionalFields["progressToken"] == tok {
								p, _ := n.Params.AdditionalFields["progress"].(float64)
								got = append(got, p)
							}
						}
						if len(got) != steps {
							errs <- fmt.Errorf("call %s: %d progress notifications before its result, want %d", tok, len(got), steps)
							return
						}
						for j, p := range got {
							if p != float64(j+1) {
								errs <- fmt.Errorf("call %s: progress out of order: %v", tok, got)
								return
							}
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}
