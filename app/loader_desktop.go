//go:build desktop

package app

import (
	"io/fs"
	"testing/fstest"
)

// loaderFS serves the one page the window shows before it navigates to the
// daemon.
type loaderFS struct{}

func (loaderFS) Open(name string) (fs.File, error) {
	return fstest.MapFS{
		"index.html": {Data: []byte(`<!doctype html><meta charset="utf-8"><title>Plexus</title><p style="font-family:sans-serif">Starting Plexus…</p>`)},
	}.Open(name)
}
