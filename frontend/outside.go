package frontend

import "sync"

// outsideAssets is AssetVersion, computed once: the embedded assets never
// change while the program runs.
var outsideAssets = sync.OnceValue(AssetVersion)

// OutsideCSP is the Content-Security-Policy of an OutsidePage: the
// daemon's own stylesheet and icon, no script, no inline style, never
// framed; formAction is the page's form-action sources ("'none'" for a
// page without a form, "'self'" or more for one with).
func OutsideCSP(formAction string) string {
	return "default-src 'none'; style-src 'self'; img-src 'self'; form-action " + formAction +
		"; base-uri 'none'; frame-ancestors 'none'"
}
