// Package frontend is the look of Plexus's admin UI: the templ layout,
// pages and components, and the static assets (one stylesheet, a few
// icons, one small script) embedded into the binary. It renders view
// models (views.go) that app/ui fills; it reads no data, holds no state,
// and imports nothing else of Plexus.
//
// Every page works without JavaScript, and none uses inline scripts or
// styles: the UI is served with a Content-Security-Policy of script-src
// 'self' and style-src 'self'. The generated *_templ.go files are
// committed; regenerate them with `go tool templ generate` after editing
// a .templ file (CI checks they are current).
package frontend

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"sort"
)

//go:embed static
var static embed.FS

// Static returns the static assets (app.css, app.js, icon.svg), to be
// served under StaticPrefix.
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil { // cannot happen: the directory is embedded
		panic(err)
	}
	return sub
}

// StaticPrefix is the URL path the static assets are served under.
const StaticPrefix = "/ui/static/"

// AssetVersion is a short hash of the static assets, added to their URLs
// so a browser never keeps a stale stylesheet after an upgrade.
func AssetVersion() string {
	h := sha256.New()
	var names []string
	_ = fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		b, _ := static.ReadFile(n)
		h.Write([]byte(n))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
