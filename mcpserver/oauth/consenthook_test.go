package oauth

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/plexus-mcp/plexus/vault"
)

// consentPuts counts the consent links stored.
type consentPuts struct {
	Store
	n int
}

func (c *consentPuts) PutOAuthConsent(ctx context.Context, oc vault.OAuthConsent) error {
	err := c.Store.PutOAuthConsent(ctx, oc)
	if err == nil {
		c.n++
	}
	return err
}

// TestConsentHook: every consent link made is told to the hook, after it
// is stored, with who asked and for what, and never with the link.
func TestConsentHook(t *testing.T) {
	e := newEnv(t)
	var (
		mu   sync.Mutex
		got  []ConsentRequest
		seen []bool // was the link stored when the hook ran
	)
	st := &consentPuts{Store: e.store}
	m := NewManager(st, WithBaseURL(e.srv.URL), WithConsentHook(func(ctx context.Context, req ConsentRequest) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, req)
		seen = append(seen, st.n > 0)
	}))
	u, err := m.ConsentURL(t.Context(), ConsentRequest{Owner: e.user, Provider: "gh", Tool: "github_list_repos", Client: "Claude"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.ConsentURL(t.Context(), ConsentRequest{Owner: e.user, Provider: "nope"}); err == nil {
		t.Fatal("unknown provider")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Owner != e.user || got[0].Provider != "gh" || got[0].Tool != "github_list_repos" ||
		got[0].Client != "Claude" || len(got[0].Scopes) == 0 || !seen[0] {
		t.Fatalf("hook got %+v (stored first: %v)", got, seen)
	}
	id := u[strings.LastIndex(u, "/")+1:]
	for _, s := range []string{got[0].Tool, got[0].Client, got[0].Provider} {
		if strings.Contains(s, id) {
			t.Fatal("the link reached the hook")
		}
	}
}
