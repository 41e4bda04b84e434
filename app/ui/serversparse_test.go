package ui

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/plexus-mcp/plexus/app/adminops"
)

// FuzzParseServerForm: the server form never panics, and what it accepts
// is a request the admin operations can read.
func FuzzParseServerForm(f *testing.F) {
	for _, s := range []string{
		"name=everything&kind=stdio&command=npx+-y+%40modelcontextprotocol%2Fserver-everything&key=openai&key_as=OPENAI_API_KEY",
		"name=remote&kind=http&url=https%3A%2F%2Fexample.com%2Fmcp&key=svc&key_as=Authorization%3A+Bearer&sign_in=github",
		"name=x&kind=sse&url=http%3A%2F%2F127.0.0.1%3A1%2Fsse&env=A%3D1",
		"kind=stdio&env=%0A%0A=&key_as=%00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		_, req, errs := parseServerForm(form)
		if len(errs) > 0 {
			return
		}
		switch req.Transport {
		case "stdio":
			if req.Command == "" || req.URL != "" {
				t.Fatalf("stdio request %+v", req)
			}
		case "http", "sse":
			if req.URL == "" || req.Command != "" || len(req.Env) > 0 {
				t.Fatalf("%s request %+v", req.Transport, req)
			}
		default:
			t.Fatalf("transport %q accepted", req.Transport)
		}
	})
}

// FuzzJoinCommandLine: a command line the edit form shows reads back as
// the same words.
func FuzzJoinCommandLine(f *testing.F) {
	f.Add("npx", "-y\x1f@modelcontextprotocol/server-everything")
	f.Add("/opt/my server/node", "it's\x1f$HOME\x1f*\x1f~x\x1f")
	f.Fuzz(func(t *testing.T, cmd, args string) {
		words := append([]string{cmd}, strings.Split(args, "\x1f")...)
		for _, w := range words {
			if w == "" || strings.ContainsAny(w, "\n\r\x00") {
				return
			}
		}
		line := joinCommandLine(words[0], words[1:])
		got, err := adminops.SplitCommandLine(line)
		if err != nil {
			t.Fatalf("%q (from %q) does not split: %v", line, words, err)
		}
		if !slices.Equal(got, words) {
			t.Fatalf("%q splits into %q, want %q", line, got, words)
		}
	})
}
