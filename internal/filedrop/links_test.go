package filedrop

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"testing"
	"time"
)

func linkSpec() LinkSpec {
	return LinkSpec{CaseRef: "2026-0099", Purpose: PurposeConsent, Expiry: 72 * time.Hour, MaxFiles: 2, MaxBytes: 300_000}
}

func (e *env) mustLink(s LinkSpec) *Link {
	e.t.Helper()
	l, err := e.d.CreateLink(ctx, alice, s)
	if err != nil {
		e.t.Fatalf("CreateLink: %v", err)
	}
	return l
}

// TestLinkUpload: a visitor without a login uploads through a link; the
// files land as a sealed drop in the consultant's inbox; the link is spent.
func TestLinkUpload(t *testing.T) {
	e := newEnv(t)
	l := e.mustLink(linkSpec())
	raw, err := base64.RawURLEncoding.DecodeString(l.Token)
	if err != nil || len(raw) < 16 {
		t.Fatalf("token %q: %d random bytes, want at least 16 (128 bits)", l.Token, len(raw))
	}
	if hits := grepDir(t, e.dir, []byte(l.Token)); len(hits) > 0 {
		t.Fatalf("the token is stored in %v; only its hash may be", hits)
	}
	info, err := e.d.CheckLink(ctx, l.Token, "198.51.100.7")
	if err != nil || info.MaxFiles != 2 || info.MaxBytes != 300_000 || info.NeedsPassphrase {
		t.Fatalf("CheckLink = %+v, %v", info, err)
	}
	one, two := data(1, 120_000), []byte("Kopi af opholdstilladelse")
	rec, err := e.d.LinkUpload(ctx, LinkSubmission{Token: l.Token, Message: "Her er papirerne", IP: "198.51.100.7"},
		Files(Upload{"pas.jpg", int64(len(one)), bytes.NewReader(one)}, Upload{"../tilladelse.txt", -1, bytes.NewReader(two)}))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Files) != 2 || rec.Files[0].SHA256 != sha(one) || rec.Files[1].Name != "tilladelse.txt" || rec.Files[1].SHA256 != sha(two) {
		t.Fatalf("receipt = %+v", rec)
	}
	inbox, err := e.d.Inbox(ctx, alice)
	if err != nil || len(inbox) != 1 {
		t.Fatalf("alice's inbox: %d drops, %v", len(inbox), err)
	}
	dr := inbox[0]
	if dr.Sender.LinkID != l.ID || dr.Sender.UserKey != "link:"+l.ID || dr.CaseRef != "2026-0099" || dr.Purpose != PurposeConsent ||
		dr.Message != "Her er papirerne" || dr.State != StateSealed || len(dr.Files) != 2 {
		t.Fatalf("link drop = %+v", dr)
	}
	if !dr.RetainUntil.Equal(e.clock.Now().Add(30 * 24 * time.Hour)) {
		t.Errorf("RetainUntil = %v, want the policy default from now", dr.RetainUntil)
	}
	for _, f := range dr.Files {
		want := map[string][]byte{"pas.jpg": one, "tilladelse.txt": two}[f.Name]
		b, _, err := e.download(alice, dr.ID, f.ID)
		if err != nil || !bytes.Equal(b, want) {
			t.Errorf("%s: %d bytes, %v", f.Name, len(b), err)
		}
	}
	// Spent: a second submission is refused.
	_, err = e.d.LinkUpload(ctx, LinkSubmission{Token: l.Token, IP: "198.51.100.7"}, Files(Upload{"x.txt", 1, bytes.NewReader([]byte("x"))}))
	wantErr(t, "second use", err, ErrLinkUnavailable)
	if _, err := e.d.CheckLink(ctx, l.Token, "198.51.100.7"); !errors.Is(err, ErrLinkUnavailable) {
		t.Errorf("CheckLink of a spent link: %v", err)
	}
	links, _ := e.d.Links(ctx, alice)
	if len(links) != 1 || links[0].SpentAt.IsZero() || links[0].DropID != dr.ID || links[0].Token != "" {
		t.Errorf("Links = %+v", links)
	}
	// The consultant can delete what came through the link.
	if err := e.d.Withdraw(ctx, alice, dr.ID); err != nil {
		t.Fatalf("the link's creator cannot withdraw its drop: %v", err)
	}
	if b := e.blobFiles(); len(b) != 0 {
		t.Errorf("blobs after withdrawal: %v", b)
	}
	// The audit log has the link's whole story, under the case.
	var uses, uploads int
	for _, r := range e.records() {
		if r.Case != "2026-0099" && r.Outcome == "success" {
			t.Errorf("record without the case: %+v", r)
		}
		switch {
		case r.Type == EventLinkUse && r.Outcome == "success":
			uses++
			if r.Actor != "link:"+l.ID || r.IP != "198.51.100.7" || r.Detail["drop"] != dr.ID {
				t.Errorf("link use record = %+v", r)
			}
		case r.Type == EventUpload && r.Actor == "link:"+l.ID:
			uploads++
		}
	}
	if uses != 1 || uploads != 2 || len(e.records(EventLinkCreate)) != 1 {
		t.Errorf("%d link uses, %d uploads audited; want 1 and 2", uses, uploads)
	}
}

func TestLinkRefusals(t *testing.T) {
	e := newEnv(t)
	file := func() FileSource { return Files(Upload{"a.txt", 5, bytes.NewReader([]byte("hello"))}) }
	sub := func(token string) LinkSubmission { return LinkSubmission{Token: token, IP: "198.51.100.8"} }

	t.Run("creation", func(t *testing.T) {
		if _, err := e.d.CreateLink(ctx, bob, linkSpec()); !errors.Is(err, ErrForbidden) {
			t.Errorf("a professional creates a link: %v", err)
		}
		for name, edit := range map[string]func(*LinkSpec){
			"expiry over 30 days": func(s *LinkSpec) { s.Expiry = 31 * 24 * time.Hour },
			"too many files":      func(s *LinkSpec) { s.MaxFiles = 4 },
			"too many bytes":      func(s *LinkSpec) { s.MaxBytes = 2*(1<<20) + 1 },
			"short passphrase":    func(s *LinkSpec) { s.Passphrase = "1234567" },
			"no case":             func(s *LinkSpec) { s.CaseRef = "" },
			"retention too long":  func(s *LinkSpec) { s.RetentionDays = 91 },
		} {
			s := linkSpec()
			edit(&s)
			if _, err := e.d.CreateLink(ctx, alice, s); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})

	t.Run("expired", func(t *testing.T) {
		l := e.mustLink(linkSpec())
		e.clock.Advance(72 * time.Hour)
		_, err := e.d.LinkUpload(ctx, sub(l.Token), file())
		wantErr(t, "expired link", err, ErrLinkUnavailable)
	})

	t.Run("unknown and malformed tokens", func(t *testing.T) {
		for _, tok := range []string{"", "abc", base64.RawURLEncoding.EncodeToString(make([]byte, 32)), "../../etc/passwd"} {
			_, err := e.d.LinkUpload(ctx, sub(tok), file())
			wantErr(t, "token "+tok, err, ErrLinkUnavailable)
		}
	})

	t.Run("revoked", func(t *testing.T) {
		l := e.mustLink(linkSpec())
		if err := e.d.RevokeLink(ctx, bob, l.ID); err != ErrNotFound {
			t.Errorf("someone else revokes: %v", err)
		}
		if err := e.d.RevokeLink(ctx, alice, l.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.d.LinkUpload(ctx, sub(l.Token), file())
		wantErr(t, "revoked link", err, ErrLinkUnavailable)
	})

	t.Run("passphrase", func(t *testing.T) {
		s := linkSpec()
		s.Passphrase = "korrekt hest batteri"
		l := e.mustLink(s)
		if info, _ := e.d.CheckLink(ctx, l.Token, "198.51.100.9"); info == nil || !info.NeedsPassphrase {
			t.Fatalf("CheckLink = %+v", info)
		}
		wrong := sub(l.Token)
		wrong.IP = "198.51.100.9"
		wrong.Passphrase = "korrekt hest"
		_, err := e.d.LinkUpload(ctx, wrong, file())
		wantErr(t, "wrong passphrase", err, ErrWrongPassphrase)
		right := wrong
		right.Passphrase = s.Passphrase
		if _, err := e.d.LinkUpload(ctx, right, file()); err != nil {
			t.Fatalf("right passphrase after a wrong one: %v", err)
		}
		var stored string
		e.st.DB().QueryRow(`SELECT pass_hash FROM upload_links WHERE id = ?`, l.ID).Scan(&stored)
		if len(stored) < 20 || bytes.Contains([]byte(stored), []byte("hest")) || stored[:10] != "$argon2id$" {
			t.Errorf("stored passphrase = %q, want an argon2id hash", stored)
		}
	})

	t.Run("locked after wrong passphrases", func(t *testing.T) {
		s := linkSpec()
		s.Passphrase = "korrekt hest batteri"
		l := e.mustLink(s)
		for i := range MaxPassphraseFailures {
			_, err := e.d.LinkUpload(ctx, LinkSubmission{Token: l.Token, Passphrase: "gæt nummer " + string(rune('0'+i)), IP: "198.51.100.10"}, file())
			wantErr(t, "guess", err, ErrWrongPassphrase)
		}
		_, err := e.d.LinkUpload(ctx, LinkSubmission{Token: l.Token, Passphrase: s.Passphrase, IP: "198.51.100.10"}, file())
		wantErr(t, "right passphrase on a locked link", err, ErrLinkUnavailable)
	})

	t.Run("failed submission leaves nothing and keeps the link", func(t *testing.T) {
		l := e.mustLink(linkSpec())
		sub := func(token string) LinkSubmission { return LinkSubmission{Token: token, IP: "198.51.100.11"} }
		before := len(e.blobFiles())
		// Three files where two are allowed.
		_, err := e.d.LinkUpload(ctx, sub(l.Token), Files(
			Upload{"a.txt", 1, bytes.NewReader([]byte("a"))}, Upload{"b.txt", 1, bytes.NewReader([]byte("b"))},
			Upload{"c.txt", 1, bytes.NewReader([]byte("c"))}))
		wantErr(t, "too many files", err, ErrTooManyFiles)
		// More bytes than the link takes in all (each file under the per-file limit).
		_, err = e.d.LinkUpload(ctx, sub(l.Token), Files(
			Upload{"a.bin", -1, bytes.NewReader(data(1, 200_000))}, Upload{"b.bin", -1, bytes.NewReader(data(2, 200_000))}))
		wantErr(t, "over the byte budget", err, ErrTooLarge)
		// The connection drops mid-file.
		_, err = e.d.LinkUpload(ctx, sub(l.Token), Files(Upload{"a.bin", -1, &failingReader{data: data(3, 1000), err: io.ErrUnexpectedEOF}}))
		wantErr(t, "dropped connection", err, ErrIncomplete)
		_, err = e.d.LinkUpload(ctx, sub(l.Token), Files())
		wantErr(t, "no files", err, ErrNoFiles)
		if got := len(e.blobFiles()); got != before {
			t.Fatalf("failed submissions left %d blobs", got-before)
		}
		inboxBefore, _ := e.d.Inbox(ctx, alice)
		if _, err := e.d.LinkUpload(ctx, sub(l.Token), file()); err != nil {
			t.Fatalf("the link is not usable after failed tries: %v", err)
		}
		inboxAfter, _ := e.d.Inbox(ctx, alice)
		if len(inboxAfter) != len(inboxBefore)+1 {
			t.Fatalf("inbox %d → %d drops; want exactly one more (no partial drops)", len(inboxBefore), len(inboxAfter))
		}
		e.wantNoStrayBlobs()
	})

	t.Run("rate limit", func(t *testing.T) {
		var limited bool
		for range 50 {
			if _, err := e.d.CheckLink(ctx, "nope", "203.0.113.5"); errors.Is(err, ErrRateLimited) {
				limited = true
				break
			}
		}
		if !limited {
			t.Fatal("50 attempts in a row from one address were never rate-limited")
		}
		if _, err := e.d.CheckLink(ctx, "nope", "203.0.113.6"); errors.Is(err, ErrRateLimited) {
			t.Fatal("another address is limited too")
		}
	})

	t.Run("sweep deletes expired links", func(t *testing.T) {
		e.mustLink(linkSpec())
		e.clock.Advance(31 * 24 * time.Hour)
		res, err := e.d.Sweep(ctx, e.clock.Now())
		if err != nil || res.Links == 0 {
			t.Fatalf("Sweep = %+v, %v", res, err)
		}
		var n int
		e.st.DB().QueryRow(`SELECT count(*) FROM upload_links`).Scan(&n)
		if n != 0 {
			t.Fatalf("%d links left after they all expired", n)
		}
		if len(e.records(EventLinkExpire)) == 0 {
			t.Error("link expiry not audited")
		}
	})
}

// TestLinkSingleUseUnderConcurrency: two submissions through one link at
// once; exactly one succeeds.
func TestLinkSingleUseUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	l := e.mustLink(linkSpec())
	pr, pw := io.Pipe()
	first := make(chan error, 1)
	go func() {
		_, err := e.d.LinkUpload(ctx, LinkSubmission{Token: l.Token, IP: "198.51.100.20"}, Files(Upload{"a.bin", -1, pr}))
		first <- err
	}()
	pw.Write(data(1, 1000)) // the first submission holds the link now
	_, err := e.d.LinkUpload(ctx, LinkSubmission{Token: l.Token, IP: "198.51.100.21"}, Files(Upload{"b.txt", 1, bytes.NewReader([]byte("b"))}))
	wantErr(t, "concurrent submission", err, ErrLinkUnavailable)
	pw.Close()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if in, _ := e.d.Inbox(ctx, alice); len(in) != 1 {
		t.Fatalf("inbox holds %d drops, want 1", len(in))
	}
}
