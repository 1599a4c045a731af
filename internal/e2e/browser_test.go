package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-vcard"

	"github.com/hubkit/hubkit/internal/testenv"
)

// TestBrowserJourney is a consultant's visit in headless Chromium: a deep
// link to the directory sends her to the chooser, she picks her
// municipality, logs in at its (Entra-like) provider, searches the
// directory without Danish letters, downloads a vCard and logs out. Every
// page she sees passes axe-core without violations.
func TestBrowserJourney(t *testing.T) {
	testenv.RequireChromium(t)
	h := startHub(t, hubOptions{})
	ctx := testenv.NewBrowser(t, testenv.WithBrowserTimeout(60*time.Second))
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, testenv.DescribePage(ctx))
		}
	}
	location := func() string {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}

	do("open a deep link while logged out", chromedp.Navigate(h.base+"/directory?q=politi"),
		chromedp.WaitVisible(chromedp.ID("kommune-q")))
	if loc := location(); !strings.HasPrefix(loc, h.base+"/login?return=") {
		t.Fatalf("not sent to the chooser: %s", loc)
	}
	testenv.RequireNoAxeViolations(ctx, t)

	do("filter the chooser", chromedp.SendKeys(chromedp.ID("kommune-q"), "aalb"), chromedp.Submit(chromedp.ID("kommune-q")))
	// The unfiltered chooser has Aalborg's link too: wait for the filtered
	// page itself, or the click can land on the page being left.
	waitFor(t, 30*time.Second, "the filtered chooser", func() bool { return strings.Contains(location(), "q=aalb") })
	do("the filtered chooser", chromedp.WaitVisible(chromedp.CSS(`a[href^="/auth/start?kommune=851"]`)))
	do("choose Aalborg", chromedp.Click(chromedp.CSS(`a[href^="/auth/start?kommune=851"]`)),
		chromedp.WaitVisible(chromedp.ID("username")))
	if loc := location(); !strings.HasPrefix(loc, h.entra.BaseURL) {
		t.Fatalf("not at the provider: %s", loc)
	}
	do("log in at the provider", chromedp.SendKeys(chromedp.ID("username"), "anna"), chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS(`form.search-form`)))
	if loc := location(); loc != h.base+"/directory?q=politi" {
		t.Fatalf("after login at %s, want the deep link", loc)
	}
	testenv.RequireNoAxeViolations(ctx, t)

	do("search without Danish letters", chromedp.Navigate(h.base+"/directory"), chromedp.WaitVisible(chromedp.ID("q")),
		chromedp.SendKeys(chromedp.ID("q"), "soeren"),
		chromedp.Submit(chromedp.ID("q")))
	// The unfiltered page has vCard links too: wait for the search's own page.
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(location(), "q=soeren"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("search did not load: %s", location())
		}
	}
	do("search results", chromedp.WaitVisible(chromedp.CSS(`a[href$=".vcf"]`)))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil || !strings.Contains(text, "Søren Kjær") {
		t.Fatalf("search for soeren: %v\n%s", err, text)
	}
	testenv.RequireNoAxeViolations(ctx, t)

	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`a[href*="/directory/person/"]`), "href"))
	if err != nil || !href.Exists {
		t.Fatalf("no vCard link: %v", err)
	}
	card, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(`+jsString(href.Value)+`).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	vc, err := vcard.NewDecoder(strings.NewReader(card)).Decode()
	if err != nil || vc.PreferredValue(vcard.FieldFormattedName) != "Søren Kjær" {
		t.Fatalf("vCard %q: %v", card, err)
	}
	if rec := findAudit(h.auditRecords(t), "directory_export"); rec == nil || rec.Actor != tenant+":oid-anna" {
		t.Errorf("vCard export not audited: %+v", rec)
	}

	do("log out", chromedp.Click(chromedp.CSS(`form.logout button`)), chromedp.WaitVisible(chromedp.ID("logout-yes")))
	do("confirm at the provider", chromedp.Click(chromedp.ID("logout-yes")))
	for deadline := time.Now().Add(15 * time.Second); location() != h.base+"/auth/signed-out"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after logout at %s", location())
		}
	}
	do("signed-out page", chromedp.WaitVisible(chromedp.CSS("main h1")))
	testenv.RequireNoAxeViolations(ctx, t)
	do("the directory needs a login again", chromedp.Navigate(h.base+"/directory"), chromedp.WaitVisible(chromedp.ID("kommune-q")))
	if loc := location(); !strings.HasPrefix(loc, h.base+"/login") {
		t.Fatalf("session survived logout: %s", loc)
	}
}

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
