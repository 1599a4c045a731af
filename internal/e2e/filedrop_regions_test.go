package e2e

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/chromedp/chromedp"

	"github.com/hubkit/hubkit/internal/caddymod/hubapp"
	"github.com/hubkit/hubkit/internal/federation"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/testenv"
)

// siteOf is a running hub's site by region.
func siteOf(t testing.TB, region string) *hubapp.Site {
	t.Helper()
	app, err := caddy.ActiveContext().App("hubkit")
	if err != nil {
		t.Fatal(err)
	}
	s, err := app.(*hubapp.App).Site(region)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFiledropAcrossRegions runs two regions' hubs, each with its own
// data, keys and identity providers: consultant anna in Aalborg
// (Nordjylland) sends case material to olga, a professional in Odense
// (Syddanmark), named by her e-mail address. Nordjylland's hub delivers
// it, signed and encrypted, to Syddanmark's, where olga logs in through
// Odense's provider and downloads the same bytes. Withdrawal follows the
// drop; expiry ends it on both hubs.
func TestFiledropAcrossRegions(t *testing.T) {
	h := startHub(t, hubOptions{south: true})
	s := h.south
	anna, annaCSRF := h.loggedIn(t, 851, "anna")
	body := randomBytes(700_000)
	id := h.sendDrop(t, anna, annaCSRF, "SAG-ODENSE-1", "10", []mpart{mfile("risikovurdering.pdf", body)}, "olga@odense.example")

	// The sender sees where the drop went, and when it arrived.
	_, page := get(t, anna, h.base+"/drops/"+id)
	if !strings.Contains(page, "Region Syddanmark") {
		t.Errorf("the drop page does not say the recipient is in Region Syddanmark")
	}
	waitFor(t, 30*time.Second, "the delivery to Syddanmark", func() bool {
		_, page := get(t, anna, h.base+"/drops/"+id)
		return strings.Contains(page, "leveret")
	})

	// Olga cannot log in at Nordjylland's hub: Odense is not a member.
	if resp, _ := get(t, h.client(), h.base+"/login?kommune=461"); resp.StatusCode == http.StatusSeeOther &&
		strings.HasPrefix(resp.Header.Get("Location"), h.odense.Issuer) {
		t.Fatal("Nordjylland's hub sends an Odense user to Odense's provider")
	}
	olga, _ := s.loggedIn(t, 461, "olga")
	_, inbox := get(t, olga, s.base+"/drops")
	m := regexp.MustCompile(`href="/drops/([0-9a-f]{32})"`).FindStringSubmatch(inbox)
	if m == nil || !strings.Contains(inbox, "SAG-ODENSE-1") {
		t.Fatalf("olga's inbox on Syddanmark's hub lacks the drop\n%s", inbox)
	}
	southID := m[1]
	_, dp := get(t, olga, s.base+"/drops/"+southID)
	for _, want := range []string{"Anna Konsulent", "Region Nordjylland", sum(body), "risikovurdering.pdf"} {
		if !strings.Contains(dp, want) {
			t.Errorf("olga's drop page lacks %q", want)
		}
	}
	f := fileLinkRe.FindStringSubmatch(dp)
	if f == nil {
		t.Fatalf("no file link on olga's drop page")
	}
	resp, got := get(t, olga, s.base+f[1])
	if resp.StatusCode != 200 || got != string(body) {
		t.Fatalf("olga's download: %s, %d bytes, same %v", resp.Status, len(got), got == string(body))
	}
	// Nobody else on Syddanmark's hub, and nothing on disk in the clear.
	if resp, _ := get(t, s.client(), s.base+"/drops/"+southID); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous request for the drop: %s", resp.Status)
	}
	if hits := grepTree(t, s.data, body[:64]); len(hits) > 0 {
		t.Errorf("plaintext on Syddanmark's disk: %v", hits)
	}
	if r := findAudit(h.auditRecords(t), filedrop.EventForward); r == nil || r.Detail["region"] != "syddanmark" || r.Case != "SAG-ODENSE-1" {
		t.Errorf("the forward is not audited on Nordjylland's hub: %+v", r)
	}
	if r := findAudit(s.auditRecords(t), filedrop.EventReceive); r == nil || r.Actor != "peer:nordjylland" || r.Case != "SAG-ODENSE-1" {
		t.Errorf("the receipt is not audited on Syddanmark's hub: %+v", r)
	}

	// Withdrawal reaches the other hub.
	if resp, _ := postForm(t, anna, h.base+"/drops/"+id+"/withdraw", url.Values{"csrf": {annaCSRF}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("withdraw: %s", resp.Status)
	}
	waitFor(t, 30*time.Second, "the withdrawal on Syddanmark's hub", func() bool {
		resp, _ := get(t, olga, s.base+"/drops/"+southID)
		return resp.StatusCode == http.StatusNotFound
	})

	// Expiry: a one-day drop is gone on both hubs after its date.
	short := h.sendDrop(t, anna, annaCSRF, "SAG-ODENSE-KORT", "1", []mpart{mfile("kort.txt", []byte("en dag"))}, "461:olga")
	waitFor(t, 30*time.Second, "the one-day drop on Syddanmark's hub", func() bool {
		_, inbox := get(t, olga, s.base+"/drops")
		return strings.Contains(inbox, "SAG-ODENSE-KORT")
	})
	later := time.Now().Add(49 * time.Hour)
	for _, region := range []string{"nordjylland", "syddanmark"} {
		if res, err := siteOf(t, region).Drops.Sweep(context.Background(), later); err != nil || res.Expired != 1 {
			t.Fatalf("%s sweep: %+v %v, want the one-day drop expired", region, res, err)
		}
	}
	if _, inbox := get(t, olga, s.base+"/drops"); strings.Contains(inbox, "SAG-ODENSE-KORT") {
		t.Error("the expired drop is still in olga's inbox")
	}
	if resp, _ := get(t, anna, h.base+"/drops/"+short); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the expired drop on the sender's hub: %s", resp.Status)
	}

	// The federation endpoints take only signed requests from known hubs.
	req, _ := http.NewRequest(http.MethodPost, s.base+federation.WithdrawalPath, strings.NewReader(`{}`))
	req.Header.Set(federation.HeaderFrom, "nordjylland")
	resp, err := s.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned withdrawal: %s", resp.Status)
	}
}

// grepTree lists the files under dir that contain needle.
func grepTree(t testing.TB, dir string, needle []byte) []string {
	t.Helper()
	var hits []string
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), string(needle)) {
			hits = append(hits, path)
		}
		return nil
	})
	return hits
}

// TestFiledropBrowserAcrossRegions is the same journey in headless
// Chromium: anna sends from Nordjylland's hub with the page's form; olga
// logs in at Syddanmark's hub through Odense's provider, opens the drop
// and downloads the file, whose SHA-256 the browser computes itself.
func TestFiledropBrowserAcrossRegions(t *testing.T) {
	testenv.RequireChromium(t)
	h := startHub(t, hubOptions{south: true})
	s := h.south
	ctx := testenv.NewBrowser(t, testenv.WithBrowserTimeout(3*time.Minute))
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, testenv.DescribePage(ctx))
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	body := randomBytes(3<<20 + 777)
	path := filepath.Join(t.TempDir(), "Handleplan æøå.pdf")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}

	step("log in at Nordjylland as anna", chromedp.Navigate(h.base+"/drops/new"), chromedp.WaitVisible(chromedp.ID("kommune-q")),
		chromedp.Click(chromedp.CSS(`a[href^="/auth/start?kommune=851"]`)), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "anna"), chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("recipients")))
	step("send to olga in Odense",
		chromedp.SendKeys(chromedp.ID("recipients"), "olga@odense.example"),
		chromedp.SendKeys(chromedp.ID("case_ref"), "SAG-BROWSER-ODENSE"),
		chromedp.SetUploadFiles(chromedp.ID("files"), []string{path}),
		chromedp.Click(chromedp.ID("drop-submit")))
	var id string
	waitFor(t, 30*time.Second, "the sent drop's page", func() bool {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if m := regexp.MustCompile(`/drops/([0-9a-f]{32})\?notice=sent$`).FindStringSubmatch(loc); err == nil && m != nil {
			id = m[1]
			return true
		}
		return false
	})
	step("the drop page", chromedp.WaitVisible(chromedp.CSS("code.sha256")))
	if main := text("main"); !strings.Contains(main, "Region Syddanmark") || !strings.Contains(main, sum(body)) {
		t.Errorf("anna's drop page\n%s", main)
	}
	waitFor(t, 30*time.Second, "the delivery", func() bool {
		step("reload", chromedp.Navigate(h.base+"/drops/"+id), chromedp.WaitVisible(chromedp.CSS("code.sha256")))
		return strings.Contains(text("main"), "leveret")
	})
	testenv.RequireNoAxeViolations(ctx, t)

	step("olga opens Syddanmark's hub", chromedp.Navigate(s.base+"/drops"), chromedp.WaitVisible(chromedp.ID("kommune-q")),
		chromedp.Click(chromedp.CSS(`a[href^="/auth/start?kommune=461"]`)), chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "olga"), chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS("table.drops-table")))
	if inbox := text("main"); !strings.Contains(inbox, "SAG-BROWSER-ODENSE") {
		t.Fatalf("olga's inbox\n%s", inbox)
	}
	step("open the drop", chromedp.Click(chromedp.CSS(`table.drops-table a[href^="/drops/"]`)), chromedp.WaitVisible(chromedp.CSS("code.sha256")))
	testenv.RequireNoAxeViolations(ctx, t)
	shown := text("code.sha256")
	if shown != sum(body) {
		t.Errorf("olga's page shows SHA-256 %s, anna sent %s", shown, sum(body))
	}
	// The browser downloads the file and hashes what it got.
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		const a = document.querySelector("a[download]");
		const r = await fetch(a.href);
		if (!r.ok) return "status " + r.status;
		const d = await crypto.subtle.digest("SHA-256", await r.arrayBuffer());
		return Array.from(new Uint8Array(d)).map(b => b.toString(16).padStart(2, "0")).join("") + " " + r.headers.get("Content-Disposition");
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, sum(body)+" attachment;") || !strings.Contains(got, "filename*=UTF-8''Handleplan%20%C3%A6%C3%B8%C3%A5.pdf") {
		t.Errorf("the browser's download: %q, want SHA-256 %s as an attachment with the UTF-8 name", got, sum(body))
	}

	// Past its retention date the drop is gone, on both hubs.
	dropURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().AddDate(0, 0, 91) // beyond any retention the policy allows
	for _, region := range []string{"nordjylland", "syddanmark"} {
		if res, err := siteOf(t, region).Drops.Sweep(context.Background(), later); err != nil || res.Expired != 1 {
			t.Fatalf("%s sweep: %+v %v", region, res, err)
		}
	}
	step("the expired drop", chromedp.Navigate(dropURL), chromedp.WaitVisible(chromedp.CSS("main")))
	if main := text("main"); strings.Contains(main, sum(body)) || strings.Contains(main, "SAG-BROWSER-ODENSE") {
		t.Errorf("the expired drop is still shown\n%s", main)
	}
	step("olga's inbox", chromedp.Navigate(s.base+"/drops"), chromedp.WaitVisible(chromedp.CSS("main")))
	if main := text("main"); strings.Contains(main, "SAG-BROWSER-ODENSE") {
		t.Errorf("the expired drop is still in the inbox\n%s", main)
	}
}
