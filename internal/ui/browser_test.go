package ui_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/store"
	"github.com/hubkit/hubkit/internal/testenv"
	"github.com/hubkit/hubkit/internal/ui"
	"github.com/hubkit/hubkit/internal/ui/uitest"
)

// pageServer serves every page with sample content at /page/<name> (logged
// in with ?session=1) and the assets, under the hub's real security headers,
// so the browser enforces the same CSP as production.
func pageServer(t *testing.T, dev bool) *httptest.Server {
	u := newUI(t)
	st := uitest.Site(t, "nordjylland", dev)
	content := sampleContent(t, st)
	headers := bundle.SecurityHeaders(st)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range headers {
			w.Header()[k] = v
		}
		if u.ServeAsset(w, r) {
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/page/")
		var sess *store.Session
		if r.URL.Query().Get("session") == "1" || name == "home" {
			sess = uitest.Session(851, "consultant", "admin")
		}
		status := 200
		if name == "error" {
			status = 404
		}
		u.Render(w, r, status, name, ui.PageData{Site: st, Session: sess, Content: content[name]})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, browser context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(browser, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, testenv.DescribePage(browser))
	}
}

func eval[T any](t *testing.T, browser context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(browser, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// TestPagesInBrowser loads every page in headless Chromium under the hub's
// CSP and checks WCAG 2.1 A and AA with axe-core, that the stylesheet and
// script load under the CSP, and that nothing scrolls sideways on a phone.
func TestPagesInBrowser(t *testing.T) {
	srv := pageServer(t, true)
	browser := testenv.NewBrowser(t, testenv.WithBrowserTimeout(4*time.Minute))
	for page := range ui.Pages() {
		for _, lang := range ui.Langs {
			for _, width := range []int64{1280, 360} {
				url := srv.URL + "/page/" + page + "?session=1&lang=" + lang
				do(t, browser, "open "+url, chromedp.EmulateViewport(width, 800), chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("main")))
				if width == 1280 {
					if v := testenv.RunAxe(browser, t, "wcag2a", "wcag2aa", "wcag21a", "wcag21aa"); len(v) > 0 {
						t.Errorf("%s/%s: %d accessibility violation(s):\n%s", page, lang, len(v), testenv.FormatAxeViolations(v))
					}
					// hub.css applied: the skip link is moved off screen by it.
					if top := eval[string](t, browser, `getComputedStyle(document.querySelector(".skip-link")).top`); top == "auto" || top == "0px" {
						t.Errorf("%s: hub.css not applied under the CSP (skip link top %s)", page, top)
					}
				}
				if eval[bool](t, browser, `document.documentElement.scrollWidth > document.documentElement.clientWidth`) {
					t.Errorf("%s/%s at %dpx: the page scrolls sideways", page, lang, width)
				}
			}
		}
	}
}

// TestScriptEnhancements: hub.js runs under the CSP and filters the kommune
// list as the user types (folding ø like the server does), and shows the
// print button.
func TestScriptEnhancements(t *testing.T) {
	srv := pageServer(t, false)
	browser := testenv.NewBrowser(t)
	do(t, browser, "open the chooser",
		chromedp.Navigate(srv.URL+"/page/chooser"),
		chromedp.WaitVisible(chromedp.ID("kommune-q")),
		chromedp.SendKeys(chromedp.ID("kommune-q"), "broenderslev"),
	)
	visible := eval[[]string](t, browser, `Array.from(document.querySelectorAll("#kommune-list li")).filter(li => !li.hidden).map(li => li.textContent.trim().split(/\s+/)[0])`)
	if len(visible) != 1 || visible[0] != "Brønderslev" {
		t.Errorf("after typing broenderslev the list shows %q, want only Brønderslev", visible)
	}
	if got := eval[string](t, browser, `document.getElementById("kommune-count").textContent`); got != "1 kommune" {
		t.Errorf("count reads %q, want 1 kommune", got)
	}
	do(t, browser, "type something that matches nothing", chromedp.SendKeys(chromedp.ID("kommune-q"), "zzz"))
	if eval[bool](t, browser, `document.getElementById("kommune-none").hidden`) {
		t.Error("no-match message stays hidden")
	}

	do(t, browser, "open the print view", chromedp.Navigate(srv.URL+"/page/directory_print?session=1"), chromedp.WaitReady(chromedp.CSS("main")))
	if eval[bool](t, browser, `document.querySelector(".js-print").hidden`) {
		t.Error("print button still hidden: hub.js did not run")
	}
}
