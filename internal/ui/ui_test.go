package ui_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hubkit/hubkit/internal/directory"
	"github.com/hubkit/hubkit/internal/site"
	"github.com/hubkit/hubkit/internal/store"
	"github.com/hubkit/hubkit/internal/ui"
	"github.com/hubkit/hubkit/internal/ui/uitest"
)

func newUI(t *testing.T) *ui.UI {
	t.Helper()
	u, err := ui.New(uitest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// sampleContent is a filled-in Content for every page.
func sampleContent(t *testing.T, st *site.Site) map[string]any {
	d := directory.New(st)
	q := directory.Query{Text: "politi"}
	res := d.Search(q)
	dc := ui.DirectoryContent{
		Query: q, Groups: directory.GroupByKind(res), Total: len(res), Facets: d.Facets(""),
		ExportURL: "/directory/export.vcf?q=politi", PrintURL: "/directory/print?q=politi", BackURL: "/directory?q=politi",
	}
	all := d.Search(directory.Query{})
	out := map[string]any{
		"home":            ui.HomeContent{Kommune: "Aalborg"},
		"directory":       dc,
		"directory_print": ui.DirectoryContent{Groups: directory.GroupByKind(all), Total: len(all), BackURL: "/directory"},
		"error":           ui.ErrorContent{Status: 404, ID: "abc123"},
		"chooser":         ui.NewChooser(st, "", 851, "/directory?q=x"),
		"noaccess":        ui.NoAccessContent{Kommune: "Aalborg"},
		"loginerror":      ui.LoginErrorContent{Message: "login.error.state"},
		"signedout":       ui.SignedOutContent{ProviderName: "Aalborg Kommune", ProviderLogoutURL: "https://idp.example/logout?x=1"},
	}
	for page, c := range sampleFileDrop() {
		out[page] = c
	}
	return out
}

func render(t *testing.T, u *ui.UI, r *http.Request, status int, page string, data ui.PageData) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	u.Render(w, r, status, page, data)
	return w
}

func TestEveryPageRenders(t *testing.T) {
	u := newUI(t)
	for _, dev := range []bool{false, true} {
		st := uitest.Site(t, "nordjylland", dev)
		content := sampleContent(t, st)
		if len(content) != len(ui.Pages()) {
			t.Fatalf("sample content for %d pages, there are %d", len(content), len(ui.Pages()))
		}
		for page := range ui.Pages() {
			for _, lang := range ui.Langs {
				for _, sess := range []*store.Session{nil, uitest.Session(851, "consultant", "admin")} {
					if page == "home" && sess == nil {
						continue // home is behind the authenticator
					}
					r := httptest.NewRequest("GET", "/x?lang="+lang, nil)
					w := render(t, u, r, 200, page, ui.PageData{Site: st, Session: sess, Content: content[page]})
					name := page + "/" + lang
					if w.Code != 200 {
						t.Fatalf("%s: status %d: %s", name, w.Code, w.Body)
					}
					body := w.Body.String()
					uitest.CheckHTML(t, name, w.Body.Bytes())
					if !strings.Contains(body, `<html lang="`+lang+`">`) {
						t.Errorf("%s: no <html lang=%q>", name, lang)
					}
					if got := w.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
						t.Errorf("%s: Content-Type %q", name, got)
					}
					if got := w.Header().Get("Cache-Control"); got != "no-store" {
						t.Errorf("%s: Cache-Control %q", name, got)
					}
					if hasBanner := strings.Contains(body, "UDVIKLINGSTILSTAND / DEVELOPMENT MODE"); hasBanner != dev {
						t.Errorf("%s: development banner shown = %v on a dev=%v site", name, hasBanner, dev)
					}
					if !strings.Contains(body, "Region Nordjylland") {
						t.Errorf("%s: region name missing", name)
					}
					if strings.Contains(body, "%!") {
						t.Errorf("%s: a catalogue text was formatted with the wrong arguments:\n%s", name, body)
					}
				}
			}
		}
	}
}

func TestLayout(t *testing.T) {
	u := newUI(t)
	st := uitest.Site(t, "nordjylland", false)
	sess := uitest.Session(851, "consultant")
	r := httptest.NewRequest("GET", "/directory?q=a", nil)
	body := render(t, u, r, 200, "home", ui.PageData{Site: st, Session: sess}).Body.String()
	for _, want := range []string{
		`<a class="skip-link" href="#main">Gå til indhold</a>`,
		`<main id="main"`,
		`<form class="logout" method="post" action="/auth/logout">`,
		`<input type="hidden" name="csrf" value="csrf-token-for-tests">`,
		`<a href="/" aria-current="page">Forside</a>`, `<a href="/directory">Kontakter</a>`,
		`href="/directory?q=a&amp;lang=en" lang="en"`,
		`<a href="https://nordjylland.hub.example/tilgaengelighed">Tilgængelighedserklæring</a>`,
		`<a href="tel:&#43;4599310000">&#43;45 99 31 00 00</a>`,
		`<a href="mailto:sikkerhed@nordjylland.hub.example">`,
		`<script src="/assets/hub.js?v=`, `<link rel="stylesheet" href="/assets/hub.css?v=`,
		`<title>Forside · Region Nordjylland</title>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("layout lacks %s", want)
		}
	}
	// Logged out: no navigation into the hub, no logout form.
	out := render(t, u, r, 200, "signedout", ui.PageData{Site: st}).Body.String()
	if strings.Contains(out, "/auth/logout") || strings.Contains(out, `href="/directory"`) {
		t.Error("logged-out page shows the logout form or the hub's navigation")
	}
	// English.
	en := render(t, u, httptest.NewRequest("GET", "/?lang=en", nil), 200, "home", ui.PageData{Site: st, Session: sess}).Body.String()
	for _, want := range []string{`<html lang="en">`, "Accessibility statement", ">Log out<", ">Directory<", `lang="da"`, ">Dansk<"} {
		if !strings.Contains(en, want) {
			t.Errorf("English layout lacks %s", want)
		}
	}
}

func TestLanguageCookie(t *testing.T) {
	u := newUI(t)
	st := uitest.Site(t, "nordjylland", false)
	w := render(t, u, httptest.NewRequest("GET", "/login?lang=en", nil), 200, "chooser", ui.PageData{Site: st})
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v, want hub_lang", cookies)
	}
	c := cookies[0]
	if c.Name != ui.LangCookie || c.Value != "en" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("cookie %+v, want hub_lang=en Secure HttpOnly SameSite=Lax Path=/", c)
	}
	// The cookie then keeps the language.
	r := httptest.NewRequest("GET", "/login", nil)
	r.AddCookie(&http.Cookie{Name: ui.LangCookie, Value: "en"})
	w = render(t, u, r, 200, "chooser", ui.PageData{Site: st})
	if !strings.Contains(w.Body.String(), `<html lang="en">`) || len(w.Result().Cookies()) != 0 {
		t.Error("cookie language not used, or cookie set again without ?lang=")
	}
	// Junk is ignored: Danish, no cookie.
	r = httptest.NewRequest("GET", "/login?lang=xx", nil)
	r.AddCookie(&http.Cookie{Name: ui.LangCookie, Value: "<script>"})
	w = render(t, u, r, 200, "chooser", ui.PageData{Site: st})
	if !strings.Contains(w.Body.String(), `<html lang="da">`) || len(w.Result().Cookies()) != 0 {
		t.Error("invalid language not ignored")
	}
}

func TestLangSwitchURL(t *testing.T) {
	u := newUI(t)
	st := uitest.Site(t, "nordjylland", false)
	tests := []struct{ target, langPath, want string }{
		{"/", "", `href="/?lang=en"`},
		{"/directory?q=s%C3%B8ren&lang=da", "", `href="/directory?q=s%C3%B8ren&amp;lang=en"`},
		{"/auth/callback?code=secret&state=s", "", `href="/auth/callback?lang=en"`},
		{"/auth/callback?code=secret", "/login", `href="/login?lang=en"`},
		{"/x", "//evil.example", `href="/x?lang=en"`},
	}
	for _, tt := range tests {
		body := render(t, u, httptest.NewRequest("GET", tt.target, nil), 200, "loginerror",
			ui.PageData{Site: st, LangPath: tt.langPath}).Body.String()
		if !strings.Contains(body, tt.want) {
			t.Errorf("%s (LangPath %q): switch link lacks %s", tt.target, tt.langPath, tt.want)
		}
		if strings.Contains(body, "secret") {
			t.Errorf("%s: callback code copied into the page", tt.target)
		}
	}
}

func TestEscaping(t *testing.T) {
	u := newUI(t)
	st := uitest.Site(t, "nordjylland", false)
	sess := uitest.Session(851)
	sess.Name = `<script>alert(1)</script>`
	body := render(t, u, httptest.NewRequest("GET", "/", nil), 200, "home", ui.PageData{Site: st, Session: sess}).Body.Bytes()
	if strings.Contains(string(body), "<script>alert") {
		t.Error("user name not escaped")
	}
	uitest.CheckHTML(t, "home with hostile name", body)
}

func TestWrongContentFailsClosed(t *testing.T) {
	u := newUI(t)
	st := uitest.Site(t, "nordjylland", false)
	for name, data := range map[string]ui.PageData{
		"wrong type":   {Site: st, Content: ui.HomeContent{}},
		"no site":      {Content: ui.ErrorContent{Status: 404}},
		"pointer type": {Site: st, Content: &ui.ChooserContent{}},
	} {
		page := "error"
		if name == "pointer type" {
			page = "chooser"
		}
		w := render(t, u, httptest.NewRequest("GET", "/", nil), 200, page, data)
		if name == "pointer type" {
			if w.Code != 200 {
				t.Errorf("%s: a pointer to the right type is refused: %d", name, w.Code)
			}
			continue
		}
		if w.Code != 500 || strings.Contains(w.Body.String(), "HomeContent") || strings.Contains(w.Body.String(), "ui:") {
			t.Errorf("%s: %d %q, want a bare 500", name, w.Code, w.Body)
		}
	}
	if w := render(t, u, httptest.NewRequest("GET", "/", nil), 200, "nonesuch", ui.PageData{Site: st}); w.Code != 500 {
		t.Errorf("unknown page: %d", w.Code)
	}
}

func TestErrorPages(t *testing.T) {
	u := newUI(t)
	st := uitest.Site(t, "nordjylland", false)
	seen := map[string]int{}
	for _, status := range []int{400, 401, 403, 404, 405, 413, 429, 500, 502} {
		for _, lang := range ui.Langs {
			r := httptest.NewRequest("GET", "/x?lang="+lang, nil)
			w := render(t, u, r, status, "error", ui.PageData{Site: st, Content: ui.ErrorContent{Status: status, ID: "ref42"}})
			if w.Code != status {
				t.Errorf("%d: status %d", status, w.Code)
			}
			body := w.Body.String()
			uitest.CheckHTML(t, "error", w.Body.Bytes())
			h1 := regexp.MustCompile(`<h1>(.*?)</h1>`).FindStringSubmatch(body)
			if h1 == nil {
				t.Fatalf("%d/%s: no h1", status, lang)
			}
			if prev, dup := seen[h1[1]]; dup && prev != status && status != 502 && prev != 500 {
				t.Errorf("%d and %d share the heading %q", prev, status, h1[1])
			}
			seen[h1[1]] = status
			if !strings.Contains(body, "ref42") {
				t.Errorf("%d/%s: error reference not shown", status, lang)
			}
		}
	}
	// Danish and English differ.
	da := render(t, u, httptest.NewRequest("GET", "/", nil), 404, "error", ui.PageData{Site: st, Content: ui.ErrorContent{Status: 404}}).Body.String()
	if !strings.Contains(da, "Siden findes ikke") {
		t.Error("Danish 404 text missing")
	}
	en := render(t, u, httptest.NewRequest("GET", "/?lang=en", nil), 404, "error", ui.PageData{Site: st, Content: ui.ErrorContent{Status: 404}}).Body.String()
	if !strings.Contains(en, "Page not found") {
		t.Error("English 404 text missing")
	}
}

func TestHeadWritesNoBody(t *testing.T) {
	u := newUI(t)
	st := uitest.Site(t, "nordjylland", false)
	w := render(t, u, httptest.NewRequest("HEAD", "/", nil), 404, "error", ui.PageData{Site: st, Content: ui.ErrorContent{Status: 404}})
	if w.Code != 404 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d bytes", w.Code, w.Body.Len())
	}
}

func TestLoginPages(t *testing.T) {
	u := newUI(t)
	st := uitest.Site(t, "nordjylland", false)
	get := func(page string, status int, c any) string {
		t.Helper()
		w := render(t, u, httptest.NewRequest("GET", "/login", nil), status, page, ui.PageData{Site: st, Content: c})
		if w.Code != status {
			t.Fatalf("%s: status %d", page, w.Code)
		}
		uitest.CheckHTML(t, page, w.Body.Bytes())
		return w.Body.String()
	}
	// noaccess: friendly, with the region's contact.
	body := get("noaccess", 403, nil)
	for _, want := range []string{"Du har ikke adgang til hubben", "sikkerhed@nordjylland.hub.example", "45 99 31 00 00"} {
		if !strings.Contains(body, want) {
			t.Errorf("noaccess lacks %q", want)
		}
	}
	// loginerror: a catalogue key, plain text, and an unsafe retry link.
	body = get("loginerror", 400, ui.LoginErrorContent{Message: "login.error.assurance", Retry: "//evil.example/"})
	if !strings.Contains(body, "sikringsniveau") || !strings.Contains(body, `href="/login"`) || strings.Contains(body, "evil.example") {
		t.Errorf("loginerror: message or safe retry link wrong:\n%s", body)
	}
	body = get("loginerror", 502, ui.LoginErrorContent{Message: "IdP nede", Retry: "/login?return=%2Fdirectory"})
	if !strings.Contains(body, "IdP nede") || !strings.Contains(body, `href="/login?return=%2Fdirectory"`) {
		t.Errorf("loginerror: plain message or retry link lost:\n%s", body)
	}
	// signedout: the provider's logout link only when it is http(s).
	body = get("signedout", 200, ui.SignedOutContent{ProviderName: "Aalborg", ProviderLogoutURL: "https://idp.example/end?id_token_hint=x"})
	if !strings.Contains(body, `href="https://idp.example/end?id_token_hint=x"`) || !strings.Contains(body, `href="/login"`) {
		t.Errorf("signedout: links missing:\n%s", body)
	}
	body = get("signedout", 200, ui.SignedOutContent{ProviderLogoutURL: "javascript:alert(1)"})
	if strings.Contains(body, "javascript") || strings.Contains(body, "Log også ud der") {
		t.Error("signedout: unsafe provider link shown")
	}
}

func TestChooser(t *testing.T) {
	st := uitest.Site(t, "nordjylland", false)
	c := ui.NewChooser(st, "", 860, "/directory?q=søren")
	if len(c.Kommuner) != 11 || c.Total != 11 {
		t.Fatalf("%d kommuner of %d, want all 11", len(c.Kommuner), c.Total)
	}
	var withLogin, without int
	for _, k := range c.Kommuner {
		if (k.Provider == "") != (k.StartURL == "") {
			t.Errorf("%s: provider %q but start URL %q", k.Name, k.Provider, k.StartURL)
		}
		if k.StartURL != "" {
			withLogin++
			want := "/auth/start?kommune=" + strconv.Itoa(k.Code) + "&return=%2Fdirectory%3Fq%3Ds%C3%B8ren"
			if k.StartURL != want {
				t.Errorf("%s: start URL %q, want %q", k.Name, k.StartURL, want)
			}
		} else {
			without++
		}
	}
	if withLogin == 0 || without == 0 {
		t.Errorf("%d with and %d without login; the fixture has both", withLogin, without)
	}
	if c.Last == nil || c.Last.Code != 860 {
		t.Errorf("last chosen = %+v, want Hjørring (860)", c.Last)
	}
	// Danish order: Aalborg (as Å) last.
	if c.Kommuner[len(c.Kommuner)-1].Name != "Aalborg" || c.Kommuner[0].Name != "Brønderslev" {
		t.Errorf("order %s … %s, want Brønderslev … Aalborg", c.Kommuner[0].Name, c.Kommuner[len(c.Kommuner)-1].Name)
	}
	// Search folds and matches codes.
	for q, want := range map[string]string{"bronderslev": "Brønderslev", "HJOERRING": "Hjørring", "851": "Aalborg", "laesoe": "Læsø"} {
		got := ui.NewChooser(st, q, 0, "").Kommuner
		if len(got) != 1 || got[0].Name != want {
			t.Errorf("chooser search %q: %v, want only %s", q, got, want)
		}
	}
	// A kommune without login is never offered as the last choice; an
	// unsafe return never reaches a link.
	c = ui.NewChooser(st, "", 825, "//evil.example")
	if c.Last != nil || c.Return != "" {
		t.Errorf("last %+v, return %q", c.Last, c.Return)
	}
	for _, k := range c.Kommuner {
		if strings.Contains(k.StartURL, "return") {
			t.Errorf("unsafe return kept in %s", k.StartURL)
		}
	}

	// Rendered: buttons for logins, the rest marked, the error slot, the last choice first.
	u := newUI(t)
	c = ui.NewChooser(st, "", 860, "")
	c.Error = "login.error.state"
	body := render(t, u, httptest.NewRequest("GET", "/login", nil), 200, "chooser", ui.PageData{Site: st, Content: c}).Body.String()
	last := strings.Index(body, `class="last-choice"`)
	list := strings.Index(body, `id="kommune-list"`)
	if last < 0 || list < 0 || last > list {
		t.Error("last choice not shown before the list")
	}
	for _, want := range []string{`role="alert"`, "Login tog for lang tid", "login er ikke sat op endnu", `href="/auth/start?kommune=851"`, `data-key="aalborg 851"`, `action="/login"`, `name="q"`} {
		if !strings.Contains(body, want) {
			t.Errorf("chooser page lacks %s", want)
		}
	}
}

func TestCatalogue(t *testing.T) {
	// Every key a template names literally is in the catalogue.
	key := regexp.MustCompile(`\{\{-?\s*(?:t|tn)\s+"([^"]+)"`)
	err := fs.WalkDir(os.DirFS("templates"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile("templates/" + p)
		if err != nil {
			return err
		}
		for _, m := range key.FindAllStringSubmatch(string(b), -1) {
			k := m[1]
			if strings.HasPrefix(m[0], "{{tn") || strings.Contains(m[0], "tn ") {
				if !ui.HasKey(k+".one") || !ui.HasKey(k+".other") {
					t.Errorf("%s: plural key %s lacks .one/.other", p, k)
				}
				continue
			}
			if !ui.HasKey(k) {
				t.Errorf("%s: key %q not in the catalogue", p, k)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Keys built at run time.
	for _, k := range ui.LoginMessages {
		if !ui.HasKey(k) {
			t.Errorf("login message %s not in the catalogue", k)
		}
	}
	for _, k := range directory.Kinds {
		if !ui.HasKey("dir.group." + string(k)) {
			t.Errorf("no group heading for kind %s", k)
		}
	}
	for _, r := range []string{"consultant", "resource_person", "professional", "admin"} {
		if ui.T("da", "role."+r) == "role."+r || ui.T("en", "role."+r) == "role."+r {
			t.Errorf("role %s has no label", r)
		}
	}
	for _, l := range []string{"low", "substantial", "high"} {
		if !ui.HasKey("nsis." + l) {
			t.Errorf("NSIS level %s has no label", l)
		}
	}
	for page := range ui.Pages() {
		if page != "error" && !ui.HasKey("title."+page) {
			t.Errorf("page %s has no title", page)
		}
	}
}

func TestPagesTypes(t *testing.T) {
	want := map[string]reflect.Type{
		"chooser":    reflect.TypeFor[ui.ChooserContent](),
		"noaccess":   reflect.TypeFor[ui.NoAccessContent](),
		"loginerror": reflect.TypeFor[ui.LoginErrorContent](),
		"signedout":  reflect.TypeFor[ui.SignedOutContent](),
	}
	for page, typ := range want {
		if ui.Pages()[page] != typ {
			t.Errorf("page %s takes %v, the login handler's contract says %v", page, ui.Pages()[page], typ)
		}
	}
}
