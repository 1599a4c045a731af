package caddyui

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/hubkit/hubkit/internal/ui/uitest"
)

func newHandler(t *testing.T, errorsMode, dev bool) *Handler {
	t.Helper()
	h := &Handler{Region: "nordjylland", Errors: errorsMode}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := h.provision(uitest.HubSite(t, uitest.Site(t, "nordjylland", dev))); err != nil {
		t.Fatal(err)
	}
	return h
}

// noNext fails the test if the handler passes a request on.
func noNext(t *testing.T) caddyhttp.Handler {
	return caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		t.Error("next handler called")
		return nil
	})
}

func serve(t *testing.T, h *Handler, r *http.Request) (*httptest.ResponseRecorder, error) {
	t.Helper()
	w := httptest.NewRecorder()
	err := h.ServeHTTP(w, r, noNext(t))
	return w, err
}

func statusOf(err error) int {
	var he caddyhttp.HandlerError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	return 0
}

func TestValidate(t *testing.T) {
	if err := (&Handler{}).Validate(); err == nil || !strings.Contains(err.Error(), "region is required") {
		t.Errorf("Validate without region = %v", err)
	}
}

func TestHome(t *testing.T) {
	h := newHandler(t, false, false)
	sess := uitest.Session(860, "professional")
	w, err := serve(t, h, uitest.Request("GET", "/", sess))
	if err != nil || w.Code != 200 {
		t.Fatalf("home: %d, %v", w.Code, err)
	}
	body := w.Body.String()
	for _, want := range []string{"Velkommen, Demo Bruger", "Fagperson", "Hjørring", "Betydelig", `href="/directory?kind=person&amp;kommune=860"`} {
		if !strings.Contains(body, want) {
			t.Errorf("home lacks %q", want)
		}
	}
	uitest.CheckHTML(t, "home", w.Body.Bytes())

	// English.
	w, _ = serve(t, h, uitest.Request("GET", "/?lang=en", sess))
	if !strings.Contains(w.Body.String(), `<html lang="en">`) || !strings.Contains(w.Body.String(), "Professional") {
		t.Error("home in English: lang or role label wrong")
	}
}

func TestHomeNeedsSession(t *testing.T) {
	h := newHandler(t, false, false)
	w, err := serve(t, h, uitest.Request("GET", "/", nil))
	if statusOf(err) != 401 || w.Body.Len() != 0 {
		t.Errorf("home without session: %v, body %q; want a 401 error for the error routes", err, w.Body)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := newHandler(t, false, false)
	sess := uitest.Session(851)
	for _, path := range []string{"/nope", "/index.html", "/assets/nope.css", "/assets/", "/directoryx"} {
		if _, err := serve(t, h, uitest.Request("GET", path, sess)); statusOf(err) != 404 {
			t.Errorf("GET %s: %v, want 404", path, err)
		}
	}
	for _, path := range []string{"/", "/assets/hub.css"} {
		w, err := serve(t, h, uitest.Request("POST", path, sess))
		if statusOf(err) != 405 || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %v, Allow %q; want 405 with Allow", path, err, w.Header().Get("Allow"))
		}
	}
}

func TestAssets(t *testing.T) {
	h := newHandler(t, false, false)
	for path, ctype := range map[string]string{
		"/assets/hub.css": "text/css; charset=utf-8", "/assets/hub.js": "text/javascript; charset=utf-8", "/assets/favicon.svg": "image/svg+xml",
	} {
		// No session: assets are served before the authenticator.
		w, err := serve(t, h, uitest.Request("GET", path, nil))
		if err != nil || w.Code != 200 || w.Header().Get("Content-Type") != ctype || w.Header().Get("ETag") == "" {
			t.Errorf("%s: %d %q ETag %q, %v", path, w.Code, w.Header().Get("Content-Type"), w.Header().Get("ETag"), err)
		}
	}
}

func TestErrorsModeLoginRedirect(t *testing.T) {
	h := newHandler(t, true, false)
	tests := []struct {
		method, target, want string
	}{
		{"GET", "/directory?q=s%C3%B8ren&scope=national", "/login?return=%2Fdirectory%3Fq%3Ds%25C3%25B8ren%26scope%3Dnational"},
		{"GET", "/directory/person/p-1.vcf", "/login?return=%2Fdirectory%2Fperson%2Fp-1.vcf"},
		{"GET", "/", "/login"},
		{"GET", "//evil.example", "/login"},
		{"GET", "//evil.example/x?y=1", "/login"},
		{"GET", "/%2F%2Fevil.example", "/login"},
		{"GET", "/\\evil.example", "/login"},
		{"POST", "/directory", "/login"},
	}
	for _, tt := range tests {
		r := uitest.Request(tt.method, "http://hub.example"+tt.target, nil, uitest.WithError(401, "e1"))
		w, err := serve(t, h, r)
		if err != nil || w.Code != http.StatusSeeOther {
			t.Errorf("%s %s: %d, %v; want 303", tt.method, tt.target, w.Code, err)
			continue
		}
		if loc := w.Header().Get("Location"); loc != tt.want {
			t.Errorf("%s %s: Location %q, want %q", tt.method, tt.target, loc, tt.want)
		}
	}
}

func TestErrorsModePages(t *testing.T) {
	h := newHandler(t, true, true)
	for _, status := range []int{400, 403, 404, 405, 413, 429, 500} {
		for _, lang := range []string{"da", "en"} {
			r := uitest.Request("GET", "/somewhere?lang="+lang, nil, uitest.WithError(status, "ref-"+lang))
			w, err := serve(t, h, r)
			if err != nil || w.Code != status {
				t.Errorf("%d/%s: %d, %v", status, lang, w.Code, err)
				continue
			}
			body := w.Body.String()
			uitest.CheckHTML(t, "error page", w.Body.Bytes())
			if strings.Contains(body, "internal detail") {
				t.Errorf("%d: internal error message leaked", status)
			}
			if !strings.Contains(body, `<html lang="`+lang+`">`) || !strings.Contains(body, "ref-"+lang) {
				t.Errorf("%d/%s: language or error reference missing", status, lang)
			}
			if !strings.Contains(body, "UDVIKLINGSTILSTAND") {
				t.Errorf("%d: dev banner missing on a dev site", status)
			}
		}
	}
	// A logged-in user keeps the navigation and logout on error pages.
	r := uitest.Request("GET", "/nope", uitest.Session(851), uitest.WithError(404, ""))
	w, _ := serve(t, h, r)
	if !strings.Contains(w.Body.String(), `action="/auth/logout"`) {
		t.Error("error page for a logged-in user lacks the logout form")
	}
	// No status (a handler failed without one), or nonsense: 500.
	if w, _ := serve(t, h, uitest.Request("GET", "/x", nil)); w.Code != 500 {
		t.Errorf("no error status: %d, want 500", w.Code)
	}
	r = uitest.Request("GET", "/x", nil, uitest.WithError(302, ""))
	if w, _ := serve(t, h, r); w.Code != 500 {
		t.Errorf("status 302 in an error route: %d, want 500", w.Code)
	}
	// A HEAD gets the status without a body.
	r = uitest.Request("HEAD", "/x", nil, uitest.WithError(404, ""))
	if w, _ := serve(t, h, r); w.Code != 404 || w.Body.Len() != 0 {
		t.Errorf("HEAD error: %d with %d bytes", w.Code, w.Body.Len())
	}
}
