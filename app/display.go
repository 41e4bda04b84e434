package app

import (
	"context"
	"errors"
	"runtime"
)

// ErrNoDisplay is returned by CheckDisplay (and Show) when there is no
// graphical session to show the admin UI in.
var ErrNoDisplay = errors.New("no display")

// LoginURL mints a fresh single-use login link for the admin UI
// (localclient.Client.LoginURL): it works once, within a minute.
type LoginURL func(ctx context.Context) (string, error)

// CheckDisplay reports whether a window or a browser can be shown: on
// Linux and the BSDs that needs DISPLAY or WAYLAND_DISPLAY (getenv reads
// the environment). Its error says what to do instead.
func CheckDisplay(getenv func(string) string) error {
	switch runtime.GOOS {
	case "darwin", "windows", "android", "ios":
		return nil
	}
	if getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != "" {
		return nil
	}
	return noDisplayError{}
}

type noDisplayError struct{}

func (noDisplayError) Error() string {
	return "no display to show Plexus on (DISPLAY and WAYLAND_DISPLAY are unset). " +
		"Run `plexus open --print-url` and open the link it prints in a browser on this computer " +
		"(it works once, within a minute), or `plexus serve` to run Plexus in this terminal"
}

func (noDisplayError) Is(target error) bool { return target == ErrNoDisplay }
