package caddydirectory

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/emersion/go-vcard"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/directory"
	"github.com/hubkit/hubkit/internal/ui/uitest"
)

func newHandler(t *testing.T) *Handler {
	t.Helper()
	h := &Handler{Region: "nordjylland"}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := h.provision(uitest.HubSite(t, uitest.Site(t, "nordjylland", false))); err != nil {
		t.Fatal(err)
	}
	h.now = func() time.Time { return time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC) }
	return h
}

type nextRecorder struct{ called bool }

func (n *nextRecorder) ServeHTTP(http.ResponseWriter, *http.Request) error {
	n.called = true
	return nil
}

func serve(t *testing.T, h *Handler, r *http.Request) (*httptest.ResponseRecorder, error) {
	t.Helper()
	w := httptest.NewRecorder()
	next := &nextRecorder{}
	err := h.ServeHTTP(w, r, next)
	if next.called {
		t.Errorf("%s %s passed to the next handler", r.Method, r.URL)
	}
	return w, err
}

func statusOf(err error) int {
	var he caddyhttp.HandlerError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	return 0
}

func get(t *testing.T, h *Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	w, err := serve(t, h, uitest.Request("GET", target, uitest.Session(851, "consultant")))
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	return w
}

// auditRecords returns the hub's audit records, after checking the chain.
func auditRecords(t *testing.T, h *Handler) ([]audit.Record, []byte) {
	t.Helper()
	if _, err := audit.Verify(h.site.Audit.Path()); err != nil {
		t.Fatalf("audit log does not verify: %v", err)
	}
	raw, err := os.ReadFile(h.site.Audit.Path())
	if err != nil {
		t.Fatal(err)
	}
	var recs []audit.Record
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r audit.Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs, raw
}

func TestValidate(t *testing.T) {
	if err := (&Handler{}).Validate(); err == nil || !strings.Contains(err.Error(), "region is required") {
		t.Errorf("Validate without region = %v", err)
	}
}

func TestNeedsSession(t *testing.T) {
	h := newHandler(t)
	for _, path := range []string{"/directory", "/directory/print", "/directory/export.vcf", "/directory/person/p-1.vcf", "/directory/nope"} {
		w, err := serve(t, h, uitest.Request("GET", path, nil))
		if statusOf(err) != 401 || w.Body.Len() != 0 {
			t.Errorf("GET %s without session: %v, %d bytes; want a 401 error", path, err, w.Body.Len())
		}
	}
	if recs, _ := auditRecords(t, h); len(recs) != 0 {
		t.Errorf("refused requests were audited: %v", recs)
	}
}

func TestOtherPathsPassOn(t *testing.T) {
	h := newHandler(t)
	for _, path := range []string{"/", "/directoryx", "/assets/hub.css"} {
		next := &nextRecorder{}
		if err := h.ServeHTTP(httptest.NewRecorder(), uitest.Request("GET", path, nil), next); err != nil || !next.called {
			t.Errorf("%s: not passed on (%v)", path, err)
		}
	}
}

func TestMethodsAndNotFound(t *testing.T) {
	h := newHandler(t)
	sess := uitest.Session(851)
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		w, err := serve(t, h, uitest.Request(m, "/directory", sess))
		if statusOf(err) != 405 || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %v Allow %q, want 405 with Allow", m, err, w.Header().Get("Allow"))
		}
	}
	for _, path := range []string{"/directory/nope", "/directory/person/p-000000000000.vcf", "/directory/person/P-ABC.vcf", "/directory/person/../x.vcf", "/directory/person/x"} {
		if _, err := serve(t, h, uitest.Request("GET", path, sess)); statusOf(err) != 404 {
			t.Errorf("GET %s: %v, want 404", path, err)
		}
	}
	w, err := serve(t, h, uitest.Request("HEAD", "/directory", sess))
	if err != nil || w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes, %v", w.Code, w.Body.Len(), err)
	}
}

func TestSearchPage(t *testing.T) {
	h := newHandler(t)
	w := get(t, h, "/directory?q=soeren")
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "Søren Kjær") {
		t.Fatalf("search soeren: %d, Søren Kjær not found", w.Code)
	}
	if strings.Contains(body, "Maja Nørgaard") {
		t.Error("search soeren also lists Maja Nørgaard")
	}
	uitest.CheckHTML(t, "directory", w.Body.Bytes())
	id := directory.PersonID("nordjylland", "soeren.kjaer@politi.example", "")
	for _, want := range []string{
		`value="soeren"`, `href="/directory/person/` + id + `.vcf"`, `href="/directory/export.vcf?q=soeren"`,
		`href="/directory/print?q=soeren"`, "1 kontakt fundet",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("search page lacks %s", want)
		}
	}

	// Filters are kept in the form and the links.
	body = get(t, h, "/directory?kind=person&tag=police&kommune=851&scope=region").Body.String()
	for _, want := range []string{
		`<option value="person" selected>`, `<option value="police" selected>`, `<option value="851" selected>`,
		`id="scope-region" name="scope" value="region" checked`,
		`href="/directory/export.vcf?kind=person&amp;kommune=851&amp;scope=region&amp;tag=police"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("filtered page lacks %s", want)
		}
	}

	// English.
	body = get(t, h, "/directory?q=politi&lang=en").Body.String()
	if !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "Resource persons") {
		t.Error("English directory page not in English")
	}
}

func TestNationalScope(t *testing.T) {
	h := newHandler(t)
	national := get(t, h, "/directory?scope=national&kind=person").Body.String()
	region := get(t, h, "/directory?scope=region&kind=person").Body.String()
	// Jonas Ebbesen (Midtjylland) and Sara Lindberg (Hovedstaden) are national.
	for _, name := range []string{"Jonas Ebbesen", "Sara Lindberg", "Søren Kjær"} {
		if !strings.Contains(national, name) {
			t.Errorf("national view lacks %s", name)
		}
	}
	if !strings.Contains(national, "Landsdækkende kontakter</h1>") || !strings.Contains(national, "fra Region Midtjylland") {
		t.Error("national view: heading or region marker missing")
	}
	if strings.Contains(region, "Jonas Ebbesen") || strings.Contains(region, "Sara Lindberg") {
		t.Error("region view shows other regions' persons")
	}
	if !strings.Contains(region, "Maja Nørgaard") {
		t.Error("region view lacks the region's own region-only person")
	}
	if strings.Contains(national, "Maja Nørgaard") {
		t.Error("national view shows a region-only person")
	}
}

func TestBadFilter(t *testing.T) {
	h := newHandler(t)
	w := get(t, h, "/directory?q=politi&kind=spy")
	body := w.Body.String()
	if w.Code != 400 || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "ugyldigt filter (kind)") {
		t.Errorf("bad filter: %d, no message", w.Code)
	}
	if !strings.Contains(body, "Søren Kjær") {
		t.Error("bad filter: free text results dropped")
	}
	uitest.CheckHTML(t, "directory with bad filter", w.Body.Bytes())
	if _, err := serve(t, h, uitest.Request("GET", "/directory/export.vcf?kind=spy", uitest.Session(851))); statusOf(err) != 400 {
		t.Errorf("export with bad filter: %v, want 400", err)
	}
}

func TestPrintView(t *testing.T) {
	h := newHandler(t)
	w := get(t, h, "/directory/print?tag=police")
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("print: %d", w.Code)
	}
	uitest.CheckHTML(t, "directory_print", w.Body.Bytes())
	for _, want := range []string{`<table class="print-table">`, `<th scope="row">Søren Kjær</th>`, "Udskrevet 2026-03-02 10:30", `href="/directory?tag=police"`, `class="button button-primary js-print" hidden`} {
		if !strings.Contains(body, want) {
			t.Errorf("print view lacks %s", want)
		}
	}
	if strings.Contains(body, `action="/auth/logout"`) {
		t.Error("print view has the navigation's logout form")
	}
}

func decodeCards(t *testing.T, b []byte) []vcard.Card {
	t.Helper()
	var out []vcard.Card
	dec := vcard.NewDecoder(bytes.NewReader(b))
	for {
		c, err := dec.Decode()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("vCard does not parse: %v\n%s", err, b)
		}
		out = append(out, c)
	}
}

func TestPersonVCard(t *testing.T) {
	h := newHandler(t)
	id := directory.PersonID("nordjylland", "soeren.kjaer@politi.example", "")
	sess := uitest.Session(860, "professional")
	w, err := serve(t, h, uitest.Request("GET", "/directory/person/"+id+".vcf", sess))
	if err != nil || w.Code != 200 {
		t.Fatalf("person vCard: %d, %v", w.Code, err)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/vcard; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	cd := w.Header().Get("Content-Disposition")
	if cd != `attachment; filename="Soeren-Kjaer.vcf"; filename*=UTF-8''S%C3%B8ren%20Kj%C3%A6r.vcf` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if disp, params, err := mime.ParseMediaType(cd); err != nil || disp != "attachment" || params["filename"] != "Søren Kjær.vcf" {
		t.Errorf("Content-Disposition parses as %q %v %v, want attachment with filename Søren Kjær.vcf", disp, params, err)
	}
	cards := decodeCards(t, w.Body.Bytes())
	if len(cards) != 1 {
		t.Fatalf("%d cards", len(cards))
	}
	c := cards[0]
	for k, v := range map[string]string{
		vcard.FieldVersion: "4.0", vcard.FieldFormattedName: "Søren Kjær", vcard.FieldEmail: "soeren.kjaer@politi.example",
		vcard.FieldTelephone: "tel:+4596301448", vcard.FieldOrganization: "Nordjyllands Politi", vcard.FieldTitle: "Forebyggelseskonsulent",
		vcard.FieldNote: "Region Nordjylland",
	} {
		if got := c.Value(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}

	recs, raw := auditRecords(t, h)
	if len(recs) != 1 {
		t.Fatalf("%d audit records, want 1", len(recs))
	}
	r := recs[0]
	if r.Type != "directory_export" || r.Outcome != audit.Success || r.Actor != sess.UserKey || r.Kommune != 860 ||
		r.Subject != id || r.Detail["count"] != "1" {
		t.Errorf("audit record %+v", r)
	}
	for _, personal := range []string{"Søren", "soeren.kjaer", "96301448"} {
		if bytes.Contains(raw, []byte(personal)) {
			t.Errorf("audit log holds the exported person's %q", personal)
		}
	}
}

func TestExportVCards(t *testing.T) {
	h := newHandler(t)
	sess := uitest.Session(851, "consultant")
	w, err := serve(t, h, uitest.Request("GET", "/directory/export.vcf?tag=police&scope=national&lang=en", sess))
	if err != nil || w.Code != 200 {
		t.Fatalf("export: %d, %v", w.Code, err)
	}
	if cd := w.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="contacts-nordjylland.vcf"; filename*=UTF-8''contacts-nordjylland.vcf`) {
		t.Errorf("Content-Disposition %q", cd)
	}
	cards := decodeCards(t, w.Body.Bytes())
	want := h.dir.Search(directory.Query{Tag: "police", Scope: directory.ScopeNational})
	if len(cards) != len(want) || len(cards) < 3 {
		t.Fatalf("%d cards, want the %d police entries of the national view", len(cards), len(want))
	}
	names := map[string]bool{}
	for _, c := range cards {
		names[c.Value(vcard.FieldFormattedName)] = true
		cats := strings.Join(c.Values(vcard.FieldCategories), ",")
		if !strings.Contains(cats, "Police") {
			t.Errorf("%s: categories %q, want the English label Police", c.Value(vcard.FieldFormattedName), cats)
		}
	}
	if !names["Jonas Ebbesen"] || !names["Søren Kjær"] {
		t.Errorf("export lacks national police persons: %v", names)
	}

	recs, raw := auditRecords(t, h)
	if len(recs) != 1 {
		t.Fatalf("%d audit records, want 1", len(recs))
	}
	r := recs[0]
	if r.Type != "directory_export" || r.Actor != sess.UserKey || r.Kommune != 851 ||
		r.Detail["filter"] != "scope=national&tag=police" || r.Detail["count"] != strconv.Itoa(len(cards)) {
		t.Errorf("audit record %+v", r)
	}
	for _, personal := range []string{"Jonas", "ebbesen", "politi.example"} {
		if bytes.Contains(raw, []byte(personal)) {
			t.Errorf("audit log holds exported persons' data (%q)", personal)
		}
	}

	// Nothing reachable to export: 404, and no record.
	if _, err := serve(t, h, uitest.Request("GET", "/directory/export.vcf?kind=kommune", sess)); statusOf(err) != 404 {
		t.Errorf("export of kommuner only: %v, want 404", err)
	}
	if recs, _ := auditRecords(t, h); len(recs) != 1 {
		t.Errorf("%d audit records after an empty export, want still 1", len(recs))
	}
}

func TestExportRefusedWhenAuditFails(t *testing.T) {
	h := newHandler(t)
	h.site.Audit.Close()
	w, err := serve(t, h, uitest.Request("GET", "/directory/export.vcf", uitest.Session(851)))
	if statusOf(err) != 500 || w.Body.Len() != 0 {
		t.Errorf("export with a closed audit log: %v, %d bytes; want 500 and nothing sent", err, w.Body.Len())
	}
}

func TestAttachment(t *testing.T) {
	tests := map[string]string{
		"Søren Kjær.vcf":     `attachment; filename="Soeren-Kjaer.vcf"; filename*=UTF-8''S%C3%B8ren%20Kj%C3%A6r.vcf`,
		"ÆRØ Åse.vcf":        `attachment; filename="AeROe-Aase.vcf"; filename*=UTF-8''%C3%86R%C3%98%20%C3%85se.vcf`,
		"José.vcf":           `attachment; filename="Jose.vcf"; filename*=UTF-8''Jos%C3%A9.vcf`,
		"a\"b\r\nc/../d.vcf": `attachment; filename="abc..d.vcf"; filename*=UTF-8''abc..d.vcf`,
	}
	for in, want := range tests {
		if got := Attachment(in); got != want {
			t.Errorf("Attachment(%q) =\n %s\nwant\n %s", in, got, want)
		}
	}
}
