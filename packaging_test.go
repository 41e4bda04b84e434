package main

import (
	"bufio"
	"encoding/json"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/cli"
)

// TestPackagingAssets: wails.json and build/ carry the name, icon and
// metadata the packages are made from, and agree with the binary.
func TestPackagingAssets(t *testing.T) {
	raw, err := os.ReadFile("wails.json")
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		Name           string `json:"name"`
		OutputFilename string `json:"outputfilename"`
		Info           struct {
			ProductName    string `json:"productName"`
			ProductVersion string `json:"productVersion"`
			CompanyName    string `json:"companyName"`
			Copyright      string `json:"copyright"`
			Comments       string `json:"comments"`
		} `json:"info"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatalf("wails.json: %v", err)
	}
	if w.Name != "plexus" || w.OutputFilename != "plexus" || w.Info.ProductName != "Plexus" || w.Info.Copyright == "" || w.Info.Comments == "" {
		t.Errorf("wails.json: %+v", w)
	}
	if v, _, _ := strings.Cut(cli.Version, "-"); w.Info.ProductVersion != v {
		t.Errorf("wails.json productVersion %q, the binary says %s", w.Info.ProductVersion, cli.Version)
	}

	f, err := os.Open("build/appicon.png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil || cfg.Width != 512 || cfg.Height != 512 {
		t.Errorf("build/appicon.png: %dx%d %v, want 512x512", cfg.Width, cfg.Height, err)
	}
	for _, p := range []string{"build/icon.svg", "build/windows/icon.ico", "build/windows/info.json",
		"build/windows/wails.exe.manifest", "build/darwin/Info.plist", "build/linux/nfpm.yaml"} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}

	d, err := os.Open("build/linux/plexus.desktop")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	entry := map[string]string{}
	sc := bufio.NewScanner(d)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			entry[k] = v
		}
	}
	for k, want := range map[string]string{"Type": "Application", "Name": "Plexus", "Exec": "plexus", "Icon": "plexus", "Terminal": "false"} {
		if entry[k] != want {
			t.Errorf("plexus.desktop %s=%q, want %q", k, entry[k], want)
		}
	}
	nfpm, _ := os.ReadFile("build/linux/nfpm.yaml")
	for _, want := range []string{"- libgtk-3-0", "- libwebkit2gtk-4.1-0", "dst: /usr/bin/plexus", "dst: /usr/share/applications/plexus.desktop",
		"dst: /usr/share/icons/hicolor/512x512/apps/plexus.png"} {
		if !strings.Contains(string(nfpm), want) {
			t.Errorf("nfpm.yaml lacks %q", want)
		}
	}
}
