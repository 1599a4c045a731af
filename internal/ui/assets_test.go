package ui_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAssets(t *testing.T) {
	u := newUI(t)
	tests := map[string]string{
		"/assets/hub.css":     "text/css; charset=utf-8",
		"/assets/hub.js":      "text/javascript; charset=utf-8",
		"/assets/favicon.svg": "image/svg+xml",
	}
	for path, ctype := range tests {
		w := httptest.NewRecorder()
		if !u.ServeAsset(w, httptest.NewRequest("GET", path+"?v=whatever", nil)) {
			t.Fatalf("%s not served", path)
		}
		if w.Code != 200 || w.Header().Get("Content-Type") != ctype || w.Body.Len() == 0 {
			t.Errorf("%s: %d %q (%d bytes), want 200 %q", path, w.Code, w.Header().Get("Content-Type"), w.Body.Len(), ctype)
		}
		etag := w.Header().Get("ETag")
		if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
			t.Errorf("%s: ETag %q", path, etag)
		}
		// Revalidation.
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("If-None-Match", etag)
		w = httptest.NewRecorder()
		u.ServeAsset(w, r)
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("%s with If-None-Match: %d, want 304", path, w.Code)
		}
		// Links carry the content version.
		name := strings.TrimPrefix(path, "/assets/")
		if v := u.AssetURL(name); !strings.HasPrefix(v, path+"?v=") || !strings.Contains(etag, v[len(path)+3:]) {
			t.Errorf("AssetURL(%s) = %s, not versioned by content (ETag %s)", name, v, etag)
		}
	}
	for _, path := range []string{"/assets/", "/assets/nope.css", "/assets/../ui.go", "/hub.css", "/assets/assets/hub.css"} {
		w := httptest.NewRecorder()
		if u.ServeAsset(w, httptest.NewRequest("GET", path, nil)) || w.Body.Len() != 0 || len(w.Header()) != 0 {
			t.Errorf("%s served", path)
		}
	}
}

func TestCSSAndJSAreSelfContained(t *testing.T) {
	u := newUI(t)
	get := func(path string) string {
		w := httptest.NewRecorder()
		u.ServeAsset(w, httptest.NewRequest("GET", path, nil))
		return w.Body.String()
	}
	css := get("/assets/hub.css")
	// No third-party fetches (CSP allows only 'self'), and a visible focus.
	for _, bad := range []string{"@import", "url(http", "url(//"} {
		if strings.Contains(css, bad) {
			t.Errorf("hub.css contains %s", bad)
		}
	}
	for _, want := range []string{":focus-visible", "@media print", "@media (max-width", ".visually-hidden"} {
		if !strings.Contains(css, want) {
			t.Errorf("hub.css lacks %s", want)
		}
	}
	js := get("/assets/hub.js")
	for _, bad := range []string{"eval(", "innerHTML", "new Function", "document.write"} {
		if strings.Contains(js, bad) {
			t.Errorf("hub.js uses %s", bad)
		}
	}
}
