package login

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/site"
	"github.com/hubkit/hubkit/internal/store"
)

// TestCheckCSRFOrigin: the token alone is not enough; the request must
// come from the hub's origin as far as the browser tells (issue 11).
func TestCheckCSRFOrigin(t *testing.T) {
	h := newHarness(t, nil)
	sess := &store.Session{CSRF: "tok"}
	const own = "https://nordjylland.hub.localhost:8451"
	cases := []struct {
		name    string
		headers map[string]string
		ok      bool
	}{
		{"no browser headers (a script's client)", nil, true},
		{"same origin", map[string]string{"Origin": own}, true},
		{"same origin by Sec-Fetch-Site", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": own}, true},
		{"null origin vouched by Sec-Fetch-Site (Referrer-Policy no-referrer)", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"}, true},
		{"foreign origin", map[string]string{"Origin": "https://evil.example"}, false},
		{"other port of the hub's host", map[string]string{"Origin": "https://nordjylland.hub.localhost:9999"}, false},
		{"plain http origin", map[string]string{"Origin": "http://nordjylland.hub.localhost:8451"}, false},
		{"null origin alone", map[string]string{"Origin": "null"}, false},
		{"foreign origin despite same-origin Sec-Fetch-Site", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"}, false},
		{"cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"same-site", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://other.hub.localhost:8451"}, false},
		{"referer on the hub", map[string]string{"Referer": own + "/drops/new"}, true},
		{"foreign referer", map[string]string{"Referer": "https://evil.example/page"}, false},
		{"referer lookalike host", map[string]string{"Referer": "https://nordjylland.hub.localhost:8451.evil.example/"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", own+"/auth/logout", strings.NewReader(url.Values{"csrf": {"tok"}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if got := h.svc.CheckCSRF(r, sess); got != tc.ok {
				t.Errorf("CheckCSRF = %v, want %v", got, tc.ok)
			}
		})
	}
}

// TestCheckCSRFMultipart: a multipart form's token is its first field;
// the body the handler reads afterwards is the whole form, byte for byte.
// A token in the query no longer counts, so no page needs one in a URL.
func TestCheckCSRFMultipart(t *testing.T) {
	h := newHarness(t, nil)
	sess := &store.Session{CSRF: "tok"}
	form := func(first string) ([]byte, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		if first != "" {
			mw.WriteField(first, "tok")
		}
		mw.WriteField("case_ref", "Sag 1")
		fw, _ := mw.CreateFormFile("files", "a.txt")
		fw.Write(bytes.Repeat([]byte("x"), 100<<10))
		mw.Close()
		return b.Bytes(), mw.FormDataContentType()
	}
	cases := []struct {
		name, first, query string
		ok                 bool
	}{
		{"token first", "csrf", "", true},
		{"no token", "", "", false},
		{"token in another field", "csrf2", "", false},
		{"token in the query only", "", "?csrf=tok", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := form(tc.first)
			r := httptest.NewRequest("POST", "https://nordjylland.hub.localhost/drops"+tc.query, bytes.NewReader(body))
			r.Header.Set("Content-Type", ct)
			if got := h.svc.CheckCSRF(r, sess); got != tc.ok {
				t.Fatalf("CheckCSRF = %v, want %v", got, tc.ok)
			}
			rest, err := io.ReadAll(r.Body)
			if err != nil || !bytes.Equal(rest, body) {
				t.Errorf("the handler would read %d bytes (%v), not the %d of the form", len(rest), err, len(body))
			}
		})
	}
}

// FuzzCheckCSRF: whatever the body, the content type and the browser's
// headers, the check does not panic, accepts only the session's token,
// and leaves the body for the handler exactly as it came.
func FuzzCheckCSRF(f *testing.F) {
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n--b--\r\n"), "multipart/form-data; boundary=b", "https://nordjylland.hub.localhost", "")
	f.Add([]byte("csrf=tok"), "application/x-www-form-urlencoded", "null", "https://evil.example/")
	f.Add([]byte{}, "multipart/form-data", "", "%zz")
	svc := &Service{Site: newSiteForFuzz()}
	f.Fuzz(func(t *testing.T, body []byte, ct, origin, referer string) {
		r := httptest.NewRequest("POST", "https://nordjylland.hub.localhost/drops", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if referer != "" {
			r.Header.Set("Referer", referer)
		}
		ok := svc.CheckCSRF(r, &store.Session{CSRF: "tok"})
		if ok && !bytes.Contains(body, []byte("tok")) {
			t.Fatal("accepted without the token")
		}
		if strings.HasPrefix(ct, "multipart/form-data") {
			rest, _ := io.ReadAll(r.Body)
			if !bytes.Equal(rest, body) {
				t.Fatal("the body was not put back")
			}
		}
	})
}

func newSiteForFuzz() *site.Site {
	return &site.Site{Region: region.Region{ID: "nordjylland", Domain: "nordjylland.hub.localhost"}}
}
