//go:build desktop

package app

import (
	"io/fs"
	"testing/fstest"
)

// loaderPage is what the window shows for the moment before it moves to
// the daemon's own pages (it lives on Wails' origin, not the daemon's).
const loaderPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Plexus</title>
<meta name="color-scheme" content="light dark">
<style>
:root{--bg:#f6f7f9;--text:#1b1e23;--muted:#5d6470;--accent:#2f5bd3;--bad:#c42b2b}
@media (prefers-color-scheme:dark){:root{--bg:#131518;--text:#e7e9ec;--muted:#9ea5af;--accent:#7ea3ff;--bad:#ff7b72}}
html,body{height:100%;margin:0}
body{display:flex;align-items:center;justify-content:center;background:var(--bg);color:var(--text);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.box{text-align:center;max-width:440px;padding:24px}
.dot{width:10px;height:10px;border-radius:50%;background:var(--accent);display:inline-block;margin:0 4px;animation:p 1.2s infinite ease-in-out}
.dot:nth-child(2){animation-delay:.2s}.dot:nth-child(3){animation-delay:.4s}
@keyframes p{0%,80%,100%{opacity:.25}40%{opacity:1}}
#err{color:var(--bad);font-weight:600}
</style></head>
<body><div class="box" role="status">
<p><span class="dot"></span><span class="dot"></span><span class="dot"></span></p>
<p id="msg">Opening Plexus…</p>
<p id="err" hidden></p>
</div>
<script>
window.plexusLoaderError = function (m) {
  document.getElementById("msg").textContent = "Plexus is running, but this window could not open it.";
  var e = document.getElementById("err"); e.textContent = m; e.hidden = false;
};
</script>
</body></html>`

// loaderFS serves the loader page.
type loaderFS struct{}

func (loaderFS) Open(name string) (fs.File, error) {
	return fstest.MapFS{"index.html": {Data: []byte(loaderPage)}}.Open(name)
}
