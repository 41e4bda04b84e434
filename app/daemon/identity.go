package daemon

import (
	"net/http"

	"github.com/plexus-mcp/plexus/app/localclient"
)

// healthz answers GET /healthz. With ?challenge=NONCE (a client about to
// send the local token) it also proves that this process is the daemon the
// runtime file names: it returns its instance id, pid and
// localclient.Proof, a MAC keyed by the local token over those, its
// address and the nonce. The token itself never leaves the process, and a
// client that gets no valid proof sends nothing else (see
// app/localclient/identity.go).
func healthz(rt localclient.Runtime) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		q := r.URL.Query()
		if !q.Has(localclient.ChallengeParam) {
			writeJSON(w, http.StatusOK, localclient.IdentityAnswer{Status: "ok"})
			return
		}
		nonce := q.Get(localclient.ChallengeParam)
		if err := localclient.ParseChallenge(nonce); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, localclient.IdentityAnswer{
			Status:   "ok",
			Instance: rt.Instance,
			PID:      rt.PID,
			Proof:    localclient.Proof(rt.Token, rt.Instance, rt.PID, rt.Addr, nonce),
		})
	}
}
