package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets/*
var assetFS embed.FS

// assetTypes are the Content-Types of the assets, by extension. They are
// fixed here rather than taken from the system's MIME table, which differs
// between hosts; with nosniff a wrong type would break the page.
var assetTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
}

// AssetPrefix is where the assets are served.
const AssetPrefix = "/assets/"

type asset struct {
	body    []byte
	ctype   string
	etag    string // strong validator: the content's hash
	version string // short hash, appended to links so a new release is fetched at once
}

func loadAssets() (map[string]asset, error) {
	out := map[string]asset{}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := assetTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("ui: asset %s has no known content type", p)
		}
		body, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:])
		out[strings.TrimPrefix(p, "assets/")] = asset{body: body, ctype: ctype, etag: `"` + h[:32] + `"`, version: h[:12]}
		return nil
	})
	return out, err
}

// AssetURL is the link to an asset, versioned by its content.
func (u *UI) AssetURL(name string) string {
	a, ok := u.assets[name]
	if !ok {
		return AssetPrefix + name
	}
	return AssetPrefix + name + "?v=" + a.version
}

// ServeAsset answers a GET or HEAD of /assets/<name> with the embedded
// asset, honouring If-None-Match. It reports false, writing nothing, when
// there is no such asset; method checks are the caller's.
func (u *UI) ServeAsset(w http.ResponseWriter, r *http.Request) bool {
	name, ok := strings.CutPrefix(r.URL.Path, AssetPrefix)
	a, found := u.assets[name]
	if !ok || !found {
		return false
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	return true
}
