package edge

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestStatusWriter(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(w http.ResponseWriter)
		want  int
	}{
		{"nothing written", func(http.ResponseWriter) {}, http.StatusOK},
		{"body only", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, http.StatusOK},
		{"status", func(w http.ResponseWriter) { w.WriteHeader(http.StatusForbidden) }, http.StatusForbidden},
		{"first status wins", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusTeapot)
			w.WriteHeader(http.StatusOK)
		}, http.StatusTeapot},
	} {
		rec := httptest.NewRecorder()
		sw := &StatusWriter{ResponseWriter: rec}
		tc.write(sw)
		sw.Flush()
		if sw.Status() != tc.want || !rec.Flushed {
			t.Errorf("%s: status %d (flushed %v), want %d", tc.name, sw.Status(), rec.Flushed, tc.want)
		}
	}
}
