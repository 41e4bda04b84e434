//go:build desktop

package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	wailsrt "github.com/wailsapp/wails/v2/pkg/runtime"
)

// Show opens the Plexus desktop window on url (the daemon's admin UI) and
// returns when the window closes. The daemon keeps running.
func Show(ctx context.Context, url string) error {
	if runtime.GOOS == "linux" && os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return errors.New("no display to open a window on (DISPLAY and WAYLAND_DISPLAY are unset); use `plexus serve` and open " + url + " in a browser")
	}
	var once sync.Once
	err := wails.Run(&options.App{
		Title:  "Plexus",
		Width:  1024,
		Height: 720,
		// The window loads the daemon's own pages so cookies work (they do
		// not through the wails:// scheme): a tiny page that navigates away.
		AssetServer: &assetserver.Options{Assets: loaderFS{}},
		OnDomReady: func(wctx context.Context) {
			once.Do(func() { wailsrt.WindowExecJS(wctx, fmt.Sprintf("window.location.replace(%q)", url)) })
		},
	})
	if err != nil {
		return fmt.Errorf("desktop window: %w", err)
	}
	return nil
}
