package ui_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/ui"
	"github.com/hubkit/hubkit/internal/ui/uitest"
)

// sampleFileDrop is a filled-in Content for every file-drop page.
func sampleFileDrop() map[string]any {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	drop := &filedrop.Drop{
		ID: "0123456789abcdef0123456789abcdef", State: filedrop.StateSealed, CaseRef: "SAG-2026/42",
		Sender:  filedrop.Sender{UserKey: "851:anna", Name: "Anna Konsulent", Email: "anna@aalborg.example", Kommune: 851},
		Purpose: filedrop.PurposeOther, PurposeText: "Servicelovens § 11", Message: "Se vedlagte.\\nMvh Anna",
		CreatedAt: now, SealedAt: now, RetainUntil: now.Add(30 * 24 * time.Hour),
		Recipients: []filedrop.Recipient{{Named: "carl@hjoerring.example", Email: "carl@hjoerring.example"}, {Named: "860:carl", UserKey: "860:carl"}},
		Files: []filedrop.File{{ID: "fedcba9876543210fedcba9876543210", Name: "Notat æøå.pdf", Size: 1572864,
			SHA256: strings.Repeat("ab", 32), MediaType: "application/pdf", CreatedAt: now}},
	}
	draft := *drop
	draft.State, draft.SealedAt = filedrop.StateDraft, time.Time{}
	policy := ui.DropPolicy{MaxFileBytes: 2 << 30, MaxFiles: 20, DefaultDays: 30, MaxDays: 90}
	link := filedrop.Link{ID: "00112233445566778899aabbccddeeff", CaseRef: "SAG-1", Purpose: filedrop.PurposeConsent,
		MaxFiles: 5, MaxBytes: 1 << 30, RetentionDays: 30, HasPassphrase: true, CreatedAt: now, ExpiresAt: now.Add(7 * 24 * time.Hour)}
	used := link
	used.ID, used.SpentAt, used.DropID = "ffeeddccbbaa99887766554433221100", now, drop.ID
	errs := []ui.FieldError{{Field: "case_ref", Message: "Angiv et sagsnummer"}, {Message: "Vælg filerne igen"}}
	return map[string]any{
		"drops_inbox": ui.DropsListContent{Drops: []*filedrop.Drop{drop}, Notice: "drops.notice.withdrawn"},
		"drops_sent":  ui.DropsListContent{Drops: []*filedrop.Drop{drop, &draft}},
		"drops_new": ui.DropNewContent{Form: ui.DropForm{CaseRef: "SAG-1", Purpose: "other", RetentionDays: "30"},
			Policy: policy, Errors: errs, Action: "/drops"},
		"drop": ui.DropContent{Drop: drop, IsSender: true, CanWithdraw: true, Notice: "drops.notice.sent"},
		"links": ui.LinksContent{Links: []filedrop.Link{link, used}, CanCreate: true, Policy: policy, Errors: errs,
			MaxExpiryDays: 30, DefaultExpiryDays: 7, MinPassphrase: 8, Now: now},
		"link_created":  ui.LinkCreatedContent{Link: &link, URL: "https://nordjylland.hub.example/u/token"},
		"upload_public": ui.UploadPublicContent{Info: &filedrop.LinkInfo{MaxFiles: 5, MaxBytes: 1 << 30, MaxFileBytes: 1 << 30, ExpiresAt: now, NeedsPassphrase: true}, Action: "/u/token", Errors: errs},
		"upload_done": ui.UploadDoneContent{Receipt: &filedrop.Receipt{ReceivedAt: now,
			Files: []filedrop.ReceiptFile{{Name: "brev.pdf", Size: 12, SHA256: strings.Repeat("cd", 32)}}}},
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		lang string
		n    int64
		want string
	}{
		{"da", 0, "0 byte"}, {"en", 1023, "1023 bytes"}, {"da", 1024, "1 KB"}, {"da", 1536, "1,5 KB"},
		{"en", 1536, "1.5 KB"}, {"da", 2 << 30, "2 GB"}, {"en", 1572864, "1.5 MB"},
	}
	for _, tt := range tests {
		if got := ui.FormatBytes(tt.lang, tt.n); got != tt.want {
			t.Errorf("FormatBytes(%s, %d) = %q, want %q", tt.lang, tt.n, got, tt.want)
		}
	}
}

func TestFileDropPages(t *testing.T) {
	u := newUI(t)
	st := uitest.Site(t, "nordjylland", false)
	content := sampleFileDrop()
	get := func(page, target string, sess bool) string {
		t.Helper()
		data := ui.PageData{Site: st, Content: content[page]}
		if sess {
			data.Session = uitest.Session(851, "consultant")
		}
		w := render(t, u, httptest.NewRequest("GET", target, nil), 200, page, data)
		uitest.CheckHTML(t, page, w.Body.Bytes())
		return w.Body.String()
	}

	// The main menu marks the file drop; its own menu marks the page.
	body := get("drops_inbox", "/drops", true)
	for _, want := range []string{`<a href="/drops" aria-current="page">Filer</a>`, `<a href="/drops" aria-current="page">Modtaget</a>`,
		`href="/drops/0123456789abcdef0123456789abcdef"`, "Anna Konsulent (anna@aalborg.example)", "Andet grundlag", "Forsendelsen er trukket tilbage"} {
		if !strings.Contains(body, want) {
			t.Errorf("drops_inbox lacks %s", want)
		}
	}
	if body := get("drops_sent", "/drops/sent", true); !strings.Contains(body, `<a href="/drops" aria-current="true">Filer</a>`) || !strings.Contains(body, "Kladde (ikke sendt)") {
		t.Error("drops_sent: menu or draft state wrong")
	}

	// The form: multipart to /drops with the CSRF token as its first field
	// (never in the URL), the JS only here,
	// errors summarised and tied to their fields.
	body = get("drops_new", "/drops/new", true)
	for _, want := range []string{`enctype="multipart/form-data"`, `action="/drops"`, `data-csrf="csrf-token-for-tests"`,
		`data-max-files="20">
  <input type="hidden" name="csrf" value="csrf-token-for-tests">`,
		`<script src="/assets/filedrop.js?v=`, `<a href="#case_ref">Angiv et sagsnummer</a>`, `id="case_ref-error"`,
		`aria-describedby="case_ref-hint case_ref-error" aria-invalid="true"`, `<option value="other" selected>`,
		`Højst 20 filer, hver på højst 2 GB`, `Standard 30 dage, højst 90 dage.`, `type="file" multiple`} {
		if !strings.Contains(body, want) {
			t.Errorf("drops_new lacks %s", want)
		}
	}
	if strings.Contains(get("drops_inbox", "/drops", true), "filedrop.js") {
		t.Error("filedrop.js loaded outside the form page")
	}
	// The file input comes last, so the fields arrive before the files in
	// the multipart body (the handler streams it in one pass).
	if strings.Index(body, `name="files"`) < strings.LastIndex(body, `name="message"`) {
		t.Error("the file input is not after the text fields")
	}

	body = get("drop", "/drops/x", true)
	for _, want := range []string{"Sag SAG-2026/42", "Notat æøå.pdf", strings.Repeat("ab", 32), "1,5 MB", "1.572.864 byte",
		"får filerne ved sit første login", `action="/drops/0123456789abcdef0123456789abcdef/withdraw"`, "Se vedlagte."} {
		if !strings.Contains(body, want) {
			t.Errorf("drop lacks %s", want)
		}
	}
	// A recipient does not see who else received it, nor a withdraw button.
	c := content["drop"].(ui.DropContent)
	c.IsSender, c.CanWithdraw = false, false
	w := render(t, u, httptest.NewRequest("GET", "/drops/x", nil), 200, "drop", ui.PageData{Site: st, Session: uitest.Session(860), Content: c})
	if strings.Contains(w.Body.String(), "860:carl") || strings.Contains(w.Body.String(), "/withdraw") {
		t.Error("a recipient sees the other recipients or the withdraw button")
	}

	body = get("links", "/drops/links", true)
	for _, want := range []string{"Aktivt", "Brugt", `action="/drops/links/00112233445566778899aabbccddeeff/revoke"`, `name="passphrase"`} {
		if !strings.Contains(body, want) {
			t.Errorf("links lacks %s", want)
		}
	}
	if strings.Contains(body, `/drops/links/ffeeddccbbaa99887766554433221100/revoke`) {
		t.Error("a used link is offered for revocation")
	}
	if body := get("link_created", "/drops/links", true); !strings.Contains(body, `value="https://nordjylland.hub.example/u/token"`) {
		t.Error("link_created does not show the link")
	}

	// The public pages: no menu into the hub, no logout form.
	for _, page := range []string{"upload_public", "upload_done"} {
		body := get(page, "/u/token", false)
		if strings.Contains(body, `href="/drops"`) || strings.Contains(body, "/auth/logout") {
			t.Errorf("%s shows the hub's menu to an anonymous visitor", page)
		}
	}
	body = get("upload_public", "/u/token", false)
	for _, want := range []string{`action="/u/token"`, `type="password"`, "Højst 5 filer"} {
		if !strings.Contains(body, want) {
			t.Errorf("upload_public lacks %s", want)
		}
	}
	// Without usable link info the page says the link cannot be used.
	w = render(t, u, httptest.NewRequest("GET", "/u/x", nil), 404, "upload_public", ui.PageData{Site: st, Content: ui.UploadPublicContent{Unavailable: true}})
	if w.Code != 404 || !strings.Contains(w.Body.String(), "Linket kan ikke bruges") || strings.Contains(w.Body.String(), "<form class=\"drop-form\"") {
		t.Errorf("unavailable link page: %d", w.Code)
	}
}

func TestFileDropScriptIsSelfContained(t *testing.T) {
	u := newUI(t)
	w := httptest.NewRecorder()
	if !u.ServeAsset(w, httptest.NewRequest("GET", "/assets/filedrop.js", nil)) || w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("filedrop.js not served as JavaScript: %q", w.Header().Get("Content-Type"))
	}
	js := w.Body.String()
	for _, bad := range []string{"eval(", "innerHTML", "new Function", "document.write", "http://", "https://"} {
		if strings.Contains(js, bad) {
			t.Errorf("filedrop.js uses %s", bad)
		}
	}
	// It speaks the handler's protocol.
	for _, want := range []string{`"X-CSRF-Token"`, `"Upload-Offset"`, `"application/offset+octet-stream"`, `"mode", "draft"`, `"/finish"`, `"/seal"`, `"/withdraw"`} {
		if !strings.Contains(js, want) {
			t.Errorf("filedrop.js lacks %s", want)
		}
	}
}
