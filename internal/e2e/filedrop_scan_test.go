package e2e

import (
	"encoding/json"
	"html"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/clamav/clamdtest"
	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/notify"
	"github.com/hubkit/hubkit/internal/testenv"
)

// TestFiledropScanAndNotify runs the hub with the file drop's optional
// services switched on the way an operator does it, through config
// (file_drop.clamd, file_drop.smtp_*), rendered into the bundle and wired
// by the hubkit app: a real clamd (one-signature EICAR database) scans
// every upload, and a real SMTP server (aiosmtpd) receives the "new drop"
// mails.
//
//   - EICAR is refused on every way in (the form, the resumable API, an
//     upload link), with the scanner's message, and nothing of the refused
//     submission reaches the recipient; a clean file goes through and
//     downloads with the same SHA-256.
//   - The recipient is mailed once, with a link to the hub and without the
//     case reference, file name, message or sender; a second drop within
//     the hour sends no second mail to them.
//   - With clamd stopped, uploads are refused (fail closed) with a message
//     that says scanning is unavailable.
func TestFiledropScanAndNotify(t *testing.T) {
	clamd := clamdtest.Start(t, clamdtest.Options{})
	sink := testenv.StartSMTPSink(t)
	h := startHub(t, hubOptions{configure: func(c *config.Config) {
		c.FileDrop.Clamd = "unix:" + clamd.Client.Address
		c.FileDrop.SMTPAddr = sink.Addr
		c.FileDrop.SMTPFrom = "sikkerfil@aalborg.example"
		c.FileDrop.SMTPTLS = "none" // the sink is on loopback and speaks plain SMTP
	}})
	anna, annaCSRF := h.loggedIn(t, 851, "anna")
	// carl's login binds his e-mail claim (carl@hjoerring.example) to
	// 860:carl, so a drop for 860:carl is mailed to that address too.
	carl, _ := h.loggedIn(t, 860, "carl")
	const carlMail, doraMail = "carl@hjoerring.example", "dora@hjoerring.example"

	eicar := []byte(clamdtest.EICAR)
	// notDelivered checks that a refused submission reached nobody: not the
	// recipient's inbox and, for the one-shot form (which deletes its draft
	// when anything is refused), not the sender's list either.
	notDelivered := func(t *testing.T, caseRef string, draftKept bool) {
		t.Helper()
		if _, inbox := get(t, carl, h.base+"/drops"); strings.Contains(inbox, caseRef) {
			t.Errorf("%s is in the recipient's inbox", caseRef)
		}
		if _, sent := get(t, anna, h.base+"/drops/sent"); !draftKept && strings.Contains(sent, caseRef) {
			t.Errorf("%s is in the sender's sent list", caseRef)
		}
	}
	refusedAudit := func(t *testing.T, reason string) {
		t.Helper()
		recs := h.auditRecords(t)
		for i := len(recs) - 1; i >= 0; i-- {
			if r := recs[i]; r.Type == filedrop.EventUpload && r.Outcome == "failure" && r.Reason == reason {
				return
			}
		}
		t.Errorf("no %s failure with reason %q in the audit log", filedrop.EventUpload, reason)
	}

	t.Run("EICAR is refused, a clean file passes", func(t *testing.T) {
		// The form: a clean file and then EICAR (inside other data, so the
		// whole stream must be scanned). The whole submission is refused.
		padded := append(append(randomBytes(150_000), eicar...), randomBytes(50_000)...)
		for _, c := range []struct {
			caseRef, name string
			data          []byte
		}{
			{"SAG-VIRUS-1", "eicar.txt", eicar},
			{"SAG-VIRUS-2", "rapport.pdf", padded},
		} {
			resp, body := postMultipart(t, anna, h.base+"/drops", mfield("csrf", annaCSRF),
				mfield("recipients", carlMail), mfield("case_ref", c.caseRef), mfield("purpose", "section_12c_advice"),
				mfield("message", "Se vedhæftede."), mfile("notat.txt", []byte("et rent notat")), mfile(c.name, c.data))
			body = html.UnescapeString(body)
			if resp.StatusCode != http.StatusUnprocessableEntity || resp.Header.Get("Location") != "" ||
				!strings.Contains(body, "Virusscanneren fandt skadelig kode i »"+c.name+"«. Intet blev sendt.") {
				t.Errorf("%s (%s): %s %q, want 422 with the scanner's message\n%s", c.caseRef, c.name, resp.Status, resp.Header.Get("Location"), tail(body, 60))
			}
			notDelivered(t, c.caseRef, false)
		}
		refusedAudit(t, "infected")

		// The resumable API (the page's script): scanned at finish.
		api := map[string]string{"X-CSRF-Token": annaCSRF, "Accept": "application/json"}
		with := func(kv ...string) map[string]string {
			m := map[string]string{}
			for k, v := range api {
				m[k] = v
			}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i]] = kv[i+1]
			}
			return m
		}
		b, ct := multipartOf(t, mfield("recipients", carlMail), mfield("case_ref", "SAG-VIRUS-3"), mfield("purpose", "consent"), mfield("mode", "draft"))
		resp, body := do(t, anna, "POST", h.base+"/drops", b, with("Content-Type", ct))
		var draft struct{ ID, Uploads string }
		if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &draft) != nil {
			t.Fatalf("draft: %s %s", resp.Status, body)
		}
		resp, body = do(t, anna, "POST", h.base+draft.Uploads, []byte(`{"name":"eicar.txt","size":`+strconv.Itoa(len(eicar))+`}`), with("Content-Type", "application/json"))
		var up struct{ URL string }
		if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &up) != nil {
			t.Fatalf("begin upload: %s %s", resp.Status, body)
		}
		if resp, body := do(t, anna, "PATCH", h.base+up.URL, eicar, with("Content-Type", "application/offset+octet-stream", "Upload-Offset", "0")); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH: %s %s", resp.Status, body)
		}
		resp, body = do(t, anna, "POST", h.base+up.URL+"/finish", nil, api)
		var prob struct{ Error, Field string }
		json.Unmarshal([]byte(body), &prob)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(prob.Error, "Virusscanneren fandt skadelig kode") {
			t.Errorf("finish of a resumable EICAR upload: %s %s, want 422 with the scanner's message", resp.Status, body)
		}
		if resp, _ := do(t, anna, "POST", h.base+"/drops/"+draft.ID+"/seal", nil, api); resp.StatusCode == http.StatusSeeOther {
			t.Error("the draft whose only file was refused could be sealed")
		}
		// The draft stays the sender's (the script may retry with another
		// file), without the refused file, and is not the recipient's.
		notDelivered(t, "SAG-VIRUS-3", true)
		if resp, _ := get(t, carl, h.base+"/drops/"+draft.ID); resp.StatusCode != http.StatusNotFound {
			t.Errorf("carl GET the draft: %s, want 404", resp.Status)
		}
		if _, page := get(t, anna, h.base+"/drops/"+draft.ID); fileLinkRe.MatchString(page) || strings.Contains(page, sum(eicar)) {
			t.Error("the refused file is on the draft's page")
		}
		if resp, _ := postForm(t, anna, h.base+"/drops/"+draft.ID+"/withdraw", url.Values{"csrf": {annaCSRF}}); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("withdraw the draft: %s", resp.Status)
		}

		// An upload link (no login): EICAR refused, nothing in anna's inbox.
		resp, body = postForm(t, anna, h.base+"/drops/links", url.Values{"csrf": {annaCSRF}, "case_ref": {"SAG-VIRUS-LINK"},
			"purpose": {"consent"}, "expiry_days": {"3"}, "max_files": {"2"}, "retention_days": {"30"}})
		m := regexp.MustCompile(`value="(https://[^"]+/u/[A-Za-z0-9_-]{43})"`).FindStringSubmatch(body)
		if resp.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("create link: %s", resp.Status)
		}
		resp, body = postMultipart(t, h.client(), html.UnescapeString(m[1]), mfield("message", "Fra borgeren"), mfile("billede.jpg", eicar))
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(body), "Virusscanneren fandt skadelig kode i »billede.jpg«") {
			t.Errorf("EICAR through an upload link: %s, want 422 with the scanner's message\n%s", resp.Status, tail(body, 60))
		}
		if _, inbox := get(t, anna, h.base+"/drops"); strings.Contains(inbox, "SAG-VIRUS-LINK") {
			t.Error("the refused link upload is in anna's inbox")
		}

		// A clean file passes and carl downloads the same bytes.
		data := randomBytes(250_000)
		id := sendWithMessage(t, h, anna, annaCSRF, "SAG-REN-1", "Mødet er flyttet til torsdag", mfile("handleplan.pdf", data), carlMail)
		_, page := get(t, carl, h.base+"/drops/"+id)
		fm := fileLinkRe.FindStringSubmatch(page)
		if fm == nil {
			t.Fatalf("carl's page of the clean drop has no download link\n%s", tail(page, 60))
		}
		resp, got := get(t, carl, h.base+fm[1])
		if resp.StatusCode != http.StatusOK || sum([]byte(got)) != sum(data) {
			t.Fatalf("download: %s, %d bytes, SHA-256 %s, want %s", resp.Status, len(got), sum([]byte(got)), sum(data))
		}
	})

	t.Run("the recipient is mailed once an hour, without case content", func(t *testing.T) {
		mails := waitMails(t, sink, carlMail, 1)
		m := mails[0]
		text := mailText(t, m)
		if m.Header.Get("X-Sink-Mail-From") != "sikkerfil@aalborg.example" {
			t.Errorf("envelope sender %q", m.Header.Get("X-Sink-Mail-From"))
		}
		if subj := decodeHeader(m.Header.Get("Subject")); subj != notify.Subject {
			t.Errorf("subject %q, want %q", subj, notify.Subject)
		}
		if link := h.base + "/drops"; !strings.Contains(text, link) {
			t.Errorf("the mail has no link to the hub (%s):\n%s", link, text)
		}
		all := text
		for k, v := range m.Header {
			all += "\n" + k + ": " + decodeHeader(strings.Join(v, " "))
		}
		for _, secret := range []string{"SAG-REN-1", "handleplan", "Mødet er flyttet", "torsdag", "Anna", "anna@aalborg", "SAG-VIRUS"} {
			if strings.Contains(all, secret) {
				t.Errorf("the mail contains %q:\n%s", secret, all)
			}
		}

		// A second drop within the hour: to carl by identity (his bound
		// address) and to dora by address. dora is mailed, carl is not again.
		sendWithMessage(t, h, anna, annaCSRF, "SAG-REN-2", "Endnu en", mfile("bilag.pdf", randomBytes(1000)), "860:carl", doraMail)
		waitMails(t, sink, doraMail, 1)
		// The drop's recipients are mailed one after the other by one
		// goroutine; carl's turn is a database check. Give it time.
		time.Sleep(time.Second)
		if got := mailsTo(t, sink, carlMail); len(got) != 1 {
			t.Errorf("carl got %d mails for two drops within an hour, want 1", len(got))
		}
		if n := len(sink.Messages(t)); n != 2 {
			t.Errorf("the relay got %d mails, want 2 (carl once, dora once); refused submissions must mail nobody", n)
		}
	})

	t.Run("with clamd down, uploads are refused", func(t *testing.T) {
		clamd.Stop()
		resp, body := postMultipart(t, anna, h.base+"/drops", mfield("csrf", annaCSRF),
			mfield("recipients", carlMail), mfield("case_ref", "SAG-NEDE"), mfield("purpose", "section_12c_advice"),
			mfile("rent.txt", []byte("helt rent")))
		body = html.UnescapeString(body)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Location") != "" ||
			!strings.Contains(body, "Virusscanningen er ikke tilgængelig lige nu, så intet kan modtages.") {
			t.Errorf("upload with clamd stopped: %s %q, want 503 with the scan-unavailable message\n%s", resp.Status, resp.Header.Get("Location"), tail(body, 60))
		}
		notDelivered(t, "SAG-NEDE", false)
		refusedAudit(t, "scan_failed")
	})
}

// sendWithMessage posts the new-drop form with a message of the test's
// choosing and returns the drop's id.
func sendWithMessage(t *testing.T, h *hub, c *http.Client, csrf, caseRef, message string, file mpart, recipients ...string) string {
	t.Helper()
	resp, body := postMultipart(t, c, h.base+"/drops", mfield("csrf", csrf),
		mfield("recipients", strings.Join(recipients, "\n")), mfield("case_ref", caseRef), mfield("purpose", "section_12c_advice"),
		mfield("message", message), file)
	m := sentRe.FindStringSubmatch(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("send %s: %s %q\n%s", caseRef, resp.Status, resp.Header.Get("Location"), tail(html.UnescapeString(body), 60))
	}
	return m[1]
}

// mailsTo returns the sink's mails whose envelope recipient is addr.
func mailsTo(t *testing.T, sink *testenv.SMTPSink, addr string) []testenv.SinkMail {
	t.Helper()
	var out []testenv.SinkMail
	for _, m := range sink.Messages(t) {
		for _, r := range m.Header["X-Sink-Rcpt-To"] {
			if strings.EqualFold(r, addr) {
				out = append(out, m)
			}
		}
	}
	return out
}

// waitMails waits (notifications go out in the background) until the sink
// holds at least n mails to addr.
func waitMails(t *testing.T, sink *testenv.SMTPSink, addr string, n int) []testenv.SinkMail {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := mailsTo(t, sink, addr)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails to %s after 15s, want %d (all mails: %d)", len(got), addr, n, len(sink.Messages(t)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mailText is a mail's body, quoted-printable decoded.
func mailText(t *testing.T, m testenv.SinkMail) string {
	t.Helper()
	if cte := m.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
		return m.Body
	}
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(m.Body)))
	if err != nil {
		t.Fatalf("decode the mail: %v", err)
	}
	return string(b)
}

func decodeHeader(v string) string {
	var d mime.WordDecoder
	if s, err := d.DecodeHeader(v); err == nil {
		return s
	}
	return v
}
