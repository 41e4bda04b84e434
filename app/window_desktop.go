//go:build desktop

package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"
	wailsrt "github.com/wailsapp/wails/v2/pkg/runtime"

	"github.com/plexus-mcp/plexus/frontend"
)

// Show opens the Plexus desktop window on the admin UI, signed in, and
// returns when the window closes. The daemon keeps running. While it is
// open, the window follows the daemon's events (waiting): when a consent
// or a key waits for the person, it comes to the front and sends a
// desktop notification.
//
// Cookies do not work under Wails' own wails:// origin, so the window
// shows a small loader page, mints a single-use login link (login) and
// moves to it: from then on the window shows the daemon's own pages on the
// daemon's origin, where the session cookie works. The link never leaves
// this process.
func Show(ctx context.Context, getenv func(string) string, login LoginURL, waiting Waiting, log *slog.Logger) error {
	if err := CheckDisplay(getenv); err != nil {
		return err
	}
	fctx, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	var once sync.Once
	icon, _ := fs.ReadFile(frontend.Static(), "icon-256.png")
	err := wails.Run(&options.App{
		Title:            "Plexus",
		Width:            1024,
		Height:           720,
		MinWidth:         400,
		MinHeight:        480,
		BackgroundColour: &options.RGBA{R: 246, G: 247, B: 249, A: 255},
		AssetServer:      &assetserver.Options{Assets: loaderFS{}},
		Linux: &linux.Options{
			Icon:        icon,
			ProgramName: "plexus", // matches build/linux/plexus.desktop
			// What Wails picks when Linux is nil; works under Xvfb too.
			WebviewGpuPolicy: linux.WebviewGpuPolicyNever,
		},
		OnDomReady: func(wctx context.Context) {
			// OnDomReady fires again on every page the window loads.
			once.Do(func() {
				go signIn(wctx, login)
				if waiting != nil {
					go Follow(fctx, waiting, newWindowAttention(wctx, getenv), log)
				}
			})
		},
		OnShutdown: func(wctx context.Context) { stopFollowing() },
	})
	if err != nil {
		return fmt.Errorf("desktop window: %w", err)
	}
	return nil
}

// signIn mints the login link and moves the window to it; on failure the
// loader page says what went wrong.
func signIn(wctx context.Context, login LoginURL) {
	ctx, cancel := context.WithTimeout(wctx, 30*time.Second)
	defer cancel()
	url, err := login(ctx)
	if err != nil {
		msg, _ := json.Marshal("Plexus could not sign this window in: " + err.Error())
		wailsrt.WindowExecJS(wctx, fmt.Sprintf("window.plexusLoaderError(%s)", msg))
		return
	}
	u, _ := json.Marshal(url)
	wailsrt.WindowExecJS(wctx, fmt.Sprintf("window.location.replace(%s)", u))
}

// windowAttention raises the Wails window and sends desktop
// notifications (when the system has a notification service).
type windowAttention struct {
	wctx   context.Context
	notify bool
}

func newWindowAttention(wctx context.Context, getenv func(string) string) *windowAttention {
	a := &windowAttention{wctx: wctx}
	// On Linux notifications go over the session bus; without one, Wails
	// would have D-Bus autolaunch a bus that outlives the window.
	if runtime.GOOS != "linux" || getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		a.notify = wailsrt.InitializeNotifications(wctx) == nil
	}
	return a
}

func (a *windowAttention) Raise() {
	wailsrt.WindowUnminimise(a.wctx)
	wailsrt.WindowShow(a.wctx)
}

func (a *windowAttention) Notify(title, body string) {
	if !a.notify {
		return
	}
	_ = wailsrt.SendNotification(a.wctx, wailsrt.NotificationOptions{
		ID: fmt.Sprintf("plexus-%d", time.Now().UnixNano()), Title: title, Body: body})
}
