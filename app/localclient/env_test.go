package localclient

import (
	"runtime"
	"slices"
	"testing"
)

func TestDaemonEnv(t *testing.T) {
	in := []string{
		"PLEXUS_MASTER_KEY=k", "PLEXUS_PASSPHRASE=p", "PLEXUS_DATA_DIR=/d", "PLEXUS_LISTEN=127.0.0.1:0",
		"PLEXUS_LOG_LEVEL=debug", "PLEXUS_FUTURE_KNOB=x",
		"ADMIN_API_KEY=a", "HOST_APP_REGISTRATION_SECRET=h",
		"HOME=/home/u", "PATH=/bin", "LANG=C", "LC_ALL=C", "XDG_RUNTIME_DIR=/run/user/1",
		"DBUS_SESSION_BUS_ADDRESS=unix:path=/x", "HTTPS_PROXY=http://proxy:3128", "SSL_CERT_FILE=/c",
		// must not pass
		"PLEXUS_API_KEY=typed", "PLEXUS_CLIENT_SECRET=s", "AWS_SECRET_ACCESS_KEY=x", "GITHUB_TOKEN=ghp",
		"OPENAI_API_KEY=sk", "SSH_AUTH_SOCK=/tmp/agent", "=C:=C:\\", "NOEQUALS", "=",
	}
	want := in[:16]
	got := DaemonEnv(in)
	if !slices.Equal(got, want) {
		t.Fatalf("DaemonEnv =\n%q\nwant\n%q", got, want)
	}
	if runtime.GOOS == "windows" {
		if got := DaemonEnv([]string{"Plexus_Api_Key=x", "SystemRoot=C:\\Windows"}); !slices.Equal(got, []string{"SystemRoot=C:\\Windows"}) {
			t.Fatalf("windows names: %q", got)
		}
	}
}
