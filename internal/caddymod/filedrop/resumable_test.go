package caddyfiledrop

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/hubkit/hubkit/internal/store"
	"github.com/hubkit/hubkit/internal/ui/uitest"
)

// api sends a request of the page's script: JSON wanted, body as given.
func api(t *testing.T, h *Handler, method, target string, sess *store.Session, body []byte, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := uitest.Request(method, target, sess)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Accept", "application/json")
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	return serve(t, h, r)
}

func decode(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("not JSON (%d): %s", w.Code, w.Body)
	}
	return m
}

func chunk(t *testing.T, h *Handler, url string, sess *store.Session, offset int, b []byte) *httptest.ResponseRecorder {
	t.Helper()
	return api(t, h, "PATCH", url, sess, b, map[string]string{"Content-Type": chunkType, "Upload-Offset": strconv.Itoa(offset)})
}

// TestResumableUpload is the script's path: a draft from the form's
// fields, a file sent half, interrupted, asked where it stands, and sent
// to the end; the drop page then shows the file's true SHA-256.
func TestResumableUpload(t *testing.T) {
	h := newHandler(t)
	b, ct := multipartBody(t, append(dropFields(carl.UserKey), field("mode", "draft"))...)
	r := uitest.Request("POST", "/drops", anna)
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
	r.Header.Set("Content-Type", ct)
	r.Header.Set("Accept", "application/json")
	w := serve(t, h, r)
	if w.Code != 201 {
		t.Fatalf("draft: %d %s", w.Code, w.Body)
	}
	if err := r.ParseMultipartForm(1 << 20); err == nil || !strings.Contains(err.Error(), "MultipartReader") {
		t.Errorf("the form was not streamed with MultipartReader (ParseMultipartForm afterwards: %v)", err)
	}
	draft := decode(t, w)
	id := draft["id"].(string)
	if draft["uploads"] != "/drops/"+id+"/uploads" {
		t.Fatalf("draft answer %v", draft)
	}
	// A draft is the sender's alone.
	if w := get(t, h, "/drops/"+id, carl); w.Code != 404 {
		t.Errorf("recipient sees the draft: %d", w.Code)
	}

	data := content(50_001)
	w = api(t, h, "POST", "/drops/"+id+"/uploads", anna, []byte(`{"name":"Lydfil æøå.m4a","size":50001}`), map[string]string{"Content-Type": "application/json"})
	if w.Code != 201 {
		t.Fatalf("begin: %d %s", w.Code, w.Body)
	}
	up := decode(t, w)
	url := up["url"].(string)
	if w.Header().Get("Location") != url || !strings.HasPrefix(url, "/drops/uploads/") {
		t.Fatalf("begin answer %v, Location %q", up, w.Header().Get("Location"))
	}

	// Half, then a chunk for the wrong offset, then where are we.
	if w := chunk(t, h, url, anna, 0, data[:25_000]); w.Code != 204 || w.Header().Get("Upload-Offset") != "25000" {
		t.Fatalf("first half: %d offset %q %s", w.Code, w.Header().Get("Upload-Offset"), w.Body)
	}
	if w := chunk(t, h, url, anna, 0, data[:100]); w.Code != 409 || w.Header().Get("Upload-Offset") != "25000" {
		t.Errorf("chunk at a stale offset: %d offset %q, want 409 at 25000", w.Code, w.Header().Get("Upload-Offset"))
	}
	// A chunk cut off by a dropped connection keeps what arrived.
	r = uitest.Request("PATCH", url, anna)
	r.Body = io.NopCloser(&cutReader{b: data[25_000:], n: 5_000, err: io.ErrUnexpectedEOF})
	r.Header.Set("Content-Type", chunkType)
	r.Header.Set("Upload-Offset", "25000")
	if w := serve(t, h, r); w.Code != 400 || w.Header().Get("Upload-Offset") != "30000" {
		t.Errorf("cut chunk: %d offset %q, want 400 at 30000", w.Code, w.Header().Get("Upload-Offset"))
	}
	w = serve(t, h, uitest.Request("HEAD", url, anna))
	if w.Code != 200 || w.Header().Get("Upload-Offset") != "30000" || w.Body.Len() != 0 {
		t.Fatalf("HEAD: %d offset %q", w.Code, w.Header().Get("Upload-Offset"))
	}
	// Not another user's to look at or write.
	if w := serve(t, h, uitest.Request("HEAD", url, carl)); w.Code != 404 {
		t.Errorf("another user's HEAD: %d", w.Code)
	}
	if w := chunk(t, h, url, carl, 30_000, data[30_000:]); w.Code != 404 {
		t.Errorf("another user's PATCH: %d", w.Code)
	}
	// Sealing now would deliver a drop with a file missing.
	if w := api(t, h, "POST", "/drops/"+id+"/seal", anna, nil, nil); w.Code != 400 || decode(t, w)["field"] != "files" {
		t.Errorf("seal before any file is finished: %d %s", w.Code, w.Body)
	}
	if w := chunk(t, h, url, anna, 30_000, data[30_000:]); w.Code != 204 || w.Header().Get("Upload-Offset") != "50001" {
		t.Fatalf("rest: %d offset %q", w.Code, w.Header().Get("Upload-Offset"))
	}
	if w := chunk(t, h, url, anna, 50_001, []byte("x")); w.Code != 413 {
		t.Errorf("a byte past the announced size: %d, want 413", w.Code)
	}
	w = api(t, h, "POST", url+"/finish", anna, nil, nil)
	if w.Code != 200 {
		t.Fatalf("finish: %d %s", w.Code, w.Body)
	}
	f := decode(t, w)["file"].(map[string]any)
	if f["sha256"] != sha(data) || f["name"] != "Lydfil æøå.m4a" || f["size"] != float64(len(data)) {
		t.Fatalf("finished file %v, want SHA-256 %s", f, sha(data))
	}

	w = api(t, h, "POST", "/drops/"+id+"/seal", anna, nil, nil)
	if w.Code != 303 || w.Header().Get("Location") != "/drops/"+id+"?notice=sent" {
		t.Fatalf("seal: %d %q", w.Code, w.Header().Get("Location"))
	}
	page := get(t, h, "/drops/"+id, carl).Body.String()
	if !strings.Contains(page, sha(data)) {
		t.Fatal("recipient's page does not show the file's SHA-256")
	}
	if dl := get(t, h, "/drops/"+id+"/files/"+fileID(t, page, id), carl); sha(dl.Body.Bytes()) != sha(data) {
		t.Error("downloaded bytes differ from the uploaded ones")
	}
}

func TestResumableRefusals(t *testing.T) {
	h := newHandler(t)
	b, ct := multipartBody(t, append(dropFields(carl.UserKey), field("mode", "draft"))...)
	r := uitest.Request("POST", "/drops", anna)
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.Header.Set("Content-Type", ct)
	id := decode(t, serve(t, h, r))["id"].(string)
	begin := func(sess *store.Session, drop, body string) *httptest.ResponseRecorder {
		return api(t, h, "POST", "/drops/"+drop+"/uploads", sess, []byte(body), map[string]string{"Content-Type": "application/json"})
	}
	for _, tc := range []struct {
		name, drop, body string
		sess             *store.Session
		status           int
	}{
		{"too large", id, `{"name":"a.bin","size":65537}`, anna, 413},
		{"empty", id, `{"name":"a.bin","size":0}`, anna, 400},
		{"a program", id, `{"name":"setup.exe","size":10}`, anna, 422},
		{"no size", id, `{"name":"a.bin"}`, anna, 400},
		{"not JSON", id, `name=a.bin`, anna, 400},
		{"someone else's draft", id, `{"name":"a.bin","size":10}`, carl, 404},
		{"no such drop", "0123456789abcdef0123456789abcdef", `{"name":"a.bin","size":10}`, anna, 404},
	} {
		w := begin(tc.sess, tc.drop, tc.body)
		if w.Code != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.name, w.Code, tc.status, w.Body)
			continue
		}
		if m := decode(t, w); m["error"] == "" {
			t.Errorf("%s: no message in %v", tc.name, m)
		}
	}
	url := decode(t, begin(anna, id, `{"name":"a.bin","size":10}`))["url"].(string)
	if w := api(t, h, "PATCH", url, anna, []byte("0123456789"), map[string]string{"Content-Type": "text/plain", "Upload-Offset": "0"}); w.Code != http.StatusUnsupportedMediaType {
		t.Errorf("PATCH as text/plain: %d", w.Code)
	}
	if w := api(t, h, "PATCH", url, anna, []byte("0123456789"), map[string]string{"Content-Type": chunkType}); w.Code != 400 {
		t.Errorf("PATCH without Upload-Offset: %d", w.Code)
	}
	if w := api(t, h, "POST", url+"/finish", anna, nil, nil); w.Code != 400 {
		t.Errorf("finish before the bytes: %d", w.Code)
	}
	// Too many: the open upload holds a place; three places in all.
	begin(anna, id, `{"name":"b.bin","size":10}`)
	begin(anna, id, `{"name":"c.bin","size":10}`)
	if w := begin(anna, id, `{"name":"d.bin","size":10}`); w.Code != 400 || !strings.Contains(w.Body.String(), "Højst 3 filer") {
		t.Errorf("fourth upload: %d %s", w.Code, w.Body)
	}
	// One file finished, one still open: sealing would deliver a drop with
	// a file missing.
	if w := chunk(t, h, url, anna, 0, []byte("0123456789")); w.Code != 204 {
		t.Fatalf("chunk: %d %s", w.Code, w.Body)
	}
	if w := api(t, h, "POST", url+"/finish", anna, nil, nil); w.Code != 200 {
		t.Fatalf("finish: %d %s", w.Code, w.Body)
	}
	if w := api(t, h, "POST", "/drops/"+id+"/seal", anna, nil, nil); w.Code != 409 {
		t.Errorf("seal with uploads open: %d %s", w.Code, w.Body)
	}
	if w := postForm(t, h, "/drops/"+id+"/seal", anna, nil); w.Code != 409 || w.Body.Len() != 0 {
		t.Errorf("seal from the page with uploads open: %d, want the 409 error page", w.Code)
	}
	// Files with the draft form are refused: the script sends them apart.
	b, ct = multipartBody(t, append(dropFields(carl.UserKey), field("mode", "draft"), file("a.txt", content(4)))...)
	r = uitest.Request("POST", "/drops", anna)
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.Header.Set("Content-Type", ct)
	if w := serve(t, h, r); w.Code != 400 {
		t.Errorf("draft with a file: %d", w.Code)
	}
	// A draft refused for its fields answers JSON with the field.
	b, ct = multipartBody(t, field("recipients", carl.UserKey), field("case_ref", ""), field("purpose", "consent"), field("mode", "draft"))
	r = uitest.Request("POST", "/drops", anna)
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.Header.Set("Content-Type", ct)
	if w := serve(t, h, r); w.Code != 400 || decode(t, w)["field"] != "case_ref" {
		t.Errorf("draft without a case: %d %s", w.Code, w.Body)
	}
}
