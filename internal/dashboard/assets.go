package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// dist holds the page built from web/ by `npm run build` (scripts/build).
// On a clean clone it holds only .keep, and the server answers with a page
// saying how to build the assets.
//
//go:embed all:dist
var dist embed.FS

// Assets returns the built page's files, or nil when they were not built
// into this binary.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil
	}
	if _, err := fs.Stat(sub, "index.html"); err != nil {
		return nil
	}
	return sub
}

const notBuilt = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tradestream dashboard</title></head>
<body><h1>tradestream dashboard</h1>
<p>The dashboard's page was not built into this binary. Run <code>make build</code>
(it runs <code>npm ci</code> and <code>npm run build</code> in <code>web/</code>, then
<code>go build</code>) and start <code>bin/tradestream dash</code> again.</p>
<p>The API under <code>/api/</code> works without it.</p></body></html>
`

// assetHandler serves the page: index.html for "/" (never cached, so a new
// build shows at once), hashed bundles under /assets/ cached for a year.
func assetHandler(files fs.FS) http.Handler {
	if files == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write([]byte(notBuilt))
		})
	}
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		fileServer.ServeHTTP(w, r)
	})
}
