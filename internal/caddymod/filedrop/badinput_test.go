package caddyfiledrop

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hubkit/hubkit/internal/ui/uitest"
)

// TestRefusedSubmissions: every way a submission can be wrong gets the
// form back with the right status and a clear message, and leaves nothing
// visible (no drop, no blob).
func TestRefusedSubmissions(t *testing.T) {
	ok := dropFields(carl.UserKey)
	tests := []struct {
		name   string
		parts  []part
		status int
		want   []string // in the page
	}{
		{"file over the limit", append(ok, file("a.txt", content(100)), file("big.bin", content(testMaxFile+1))),
			413, []string{"En fil er for stor. Hver fil må højst fylde 64 KB.", `<a href="#files">`}},
		{"too many files", append(ok, file("1.txt", content(1)), file("2.txt", content(2)), file("3.txt", content(3)), file("4.txt", content(4))),
			400, []string{"For mange filer. Højst 3 filer pr. forsendelse."}},
		{"empty file", append(ok, file("a.txt", content(5)), file("tom.txt", nil)), 400, []string{"Filen »tom.txt« er tom."}},
		{"a program", append(ok, file("faktura.pdf.exe", content(5))), 422, []string{"Filen »faktura.pdf.exe« modtages ikke"}},
		{"a program by content", append(ok, file("billede.jpg", append([]byte("MZ\x90\x00"), content(200)...))), 422, []string{"Filen »billede.jpg« modtages ikke"}},
		{"no file chosen", append(ok, part{name: "files"}), 400, []string{"Vælg mindst én fil."}},
		{"no file part at all", ok, 400, []string{"Vælg mindst én fil."}},
		{"fields only after the files", append([]part{file("a.txt", content(5))}, ok...), 400, []string{"Angiv mindst én modtager."}},
		{"a field after a file", append(append(ok[:len(ok):len(ok)], file("a.txt", content(5))), field("message", "sent late")),
			400, []string{"Formularen kunne ikke læses"}},
		{"every field wrong", []part{field("recipients", " \n "), field("case_ref", "../etc"), field("purpose", "gossip"),
			field("retention_days", "365"), file("a.txt", content(5))},
			400, []string{"Angiv mindst én modtager.", "Angiv et sagsnummer", "Vælg et formål.", "Angiv et antal dage mellem 1 og 90.",
				"Vælg filerne igen", `aria-invalid="true"`, `value="../etc"`}},
		{"other purpose without text", append(dropFields(carl.UserKey)[:2], field("purpose", "other"), file("a.txt", content(5))),
			400, []string{"Ved »Andet grundlag« skal du skrive hvilket"}},
		{"recipient that is neither", append([]part{field("recipients", "carl@hjoerring.example\nCarl fra Hjørring")}, append(ok[1:], file("a.txt", content(5)))...),
			400, []string{"»Carl fra Hjørring« er hverken en e-mailadresse eller et login-id"}},
		{"unknown municipality code", append([]part{field("recipients", "999:x")}, append(ok[1:], file("a.txt", content(5)))...),
			400, []string{"»999:x« er hverken"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t)
			w := postParts(t, h, "/drops", anna, tt.parts...)
			body := w.Body.String()
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d\n%s", w.Code, tt.status, body)
			}
			uitest.CheckHTML(t, tt.name, w.Body.Bytes())
			// The refused form posts to /drops again, with the CSRF token
			// as its first field: never in the URL (issue 11, item 4).
			for _, want := range append(tt.want, `role="alert"`, `action="/drops" enctype="multipart/form-data"`) {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if strings.Contains(body, "?csrf=") || strings.Contains(body, "&amp;csrf=") {
				t.Error("the page puts a CSRF token in a URL")
			}
			nothingVisible(t, h, anna)
		})
	}
}

// cutReader yields n bytes of b and then fails like a connection that
// dropped (net/http's body reader says io.ErrUnexpectedEOF when fewer
// bytes arrive than Content-Length announced).
type cutReader struct {
	b   []byte
	n   int
	err error
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, c.err
	}
	k := copy(p, c.b[:min(len(p), c.n)])
	c.b, c.n = c.b[k:], c.n-k
	return k, nil
}

func TestBrokenBodies(t *testing.T) {
	b, ct := multipartBody(t, append(dropFields(carl.UserKey), file("a.bin", content(40_000)), file("b.bin", content(20_000)))...)
	tests := []struct {
		name   string
		body   func(w http.ResponseWriter) io.Reader
		status int
		want   string
	}{
		{"multipart cut in the middle of a file", func(http.ResponseWriter) io.Reader { return bytes.NewReader(b[:len(b)/2]) },
			400, "Overførslen blev afbrudt"},
		{"multipart cut before the closing boundary", func(http.ResponseWriter) io.Reader { return bytes.NewReader(b[:len(b)-10]) },
			400, "Overførslen blev afbrudt"},
		{"fewer bytes than Content-Length", func(http.ResponseWriter) io.Reader {
			return &cutReader{b: b, n: len(b) - 3000, err: io.ErrUnexpectedEOF}
		},
			400, "Overførslen blev afbrudt"},
		{"connection reset in the first file", func(http.ResponseWriter) io.Reader { return &cutReader{b: b, n: 2000, err: io.ErrUnexpectedEOF} },
			400, "Overførslen blev afbrudt"},
		{"body over the route's limit", func(w http.ResponseWriter) io.Reader {
			return http.MaxBytesReader(w, io.NopCloser(bytes.NewReader(b)), int64(len(b)/2))
		}, 413, "En fil er for stor"},
		{"not multipart at all", func(http.ResponseWriter) io.Reader { return strings.NewReader("recipients=x") }, 400, "Formularen kunne ikke læses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t)
			r := uitest.Request("POST", "/drops", anna)
			rec := httptest.NewRecorder()
			r.Body = io.NopCloser(tt.body(rec))
			r.ContentLength = int64(len(b))
			r.Header.Set("Content-Type", ct)
			if tt.name == "not multipart at all" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if err := h.ServeHTTP(rec, r, &nextRecorder{}); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("status %d, want %d with %q\n%s", rec.Code, tt.status, tt.want, rec.Body)
			}
			nothingVisible(t, h, anna)
		})
	}
}

// TestFormRefillsAndEnglish: a refused form comes back in the user's
// language with what they typed, escaped.
func TestFormRefillsAndEnglish(t *testing.T) {
	h := newHandler(t)
	r := uitest.Request("POST", "/drops?lang=en&csrf=x", anna)
	b, ct := multipartBody(t, field("recipients", ""), field("case_ref", "Sag 1"), field("purpose", "other"),
		field("purpose_text", "Lov om social service § 11"), field("message", "Hej <b>Carl</b>"), file("a.txt", content(3)))
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.Header.Set("Content-Type", ct)
	w := serve(t, h, r)
	body := w.Body.String()
	for _, want := range []string{"Name at least one recipient.", `value="Sag 1"`, `value="Lov om social service § 11"`,
		"Hej &lt;b&gt;Carl&lt;/b&gt;", `<option value="other" selected>`, "Choose the files again"} {
		if !strings.Contains(body, want) {
			t.Errorf("refused English form lacks %q", want)
		}
	}
	if w.Code != 400 {
		t.Errorf("status %d", w.Code)
	}
}
