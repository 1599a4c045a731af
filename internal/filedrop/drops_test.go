package filedrop

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/audit"
)

// TestRoundTrip: create, add files, seal; the recipient finds the drop in
// the inbox and downloads every file byte for byte, with the SHA-256 the
// engine recorded; nothing of the plaintext is anywhere on disk.
func TestRoundTrip(t *testing.T) {
	e := newEnv(t)
	marker := []byte("PLAINTEXT-MARKER-7f3a9c-do-not-store")
	contents := map[string][]byte{
		"referat.txt": append(append([]byte{}, marker...), " — notat om borger"...),
		"billede.png": append([]byte("\x89PNG\r\n\x1a\n"), data(1, 200_000)...), // several 64 KiB chunks
		"tom-næsten":  bytes.Repeat(marker, 3),
	}
	dr := e.mustCreate(spec())
	if dr.State != StateDraft || dr.CaseRef != "2026-0042" || len(dr.Recipients) != 1 {
		t.Fatalf("CreateDrop = %+v", dr)
	}
	if want := e.clock.Now().Add(30 * 24 * time.Hour); !dr.RetainUntil.Equal(want) {
		t.Errorf("RetainUntil = %v, want the policy default %v", dr.RetainUntil, want)
	}

	// The draft is not the recipient's yet.
	if in, _ := e.d.Inbox(ctx, bob); len(in) != 0 {
		t.Fatalf("bob's inbox holds %d drops before sealing", len(in))
	}
	for _, name := range []string{"referat.txt", "billede.png", "tom-næsten"} {
		f := e.mustAdd(alice, dr.ID, name, contents[name])
		if f.SHA256 != sha(contents[name]) || f.Size != int64(len(contents[name])) {
			t.Errorf("%s: File = %+v, want SHA-256 %s", name, f, sha(contents[name]))
		}
	}
	if _, err := e.d.Get(ctx, bob, dr.ID); err != ErrNotFound {
		t.Fatalf("bob sees the draft: %v", err)
	}
	if _, _, err := e.download(bob, dr.ID, "00000000000000000000000000000000"); err != ErrNotFound {
		t.Fatalf("bob downloads from the draft: %v", err)
	}
	sealed := e.mustSeal(alice, dr.ID)
	if sealed.State != StateSealed || sealed.SealedAt.IsZero() {
		t.Fatalf("Seal = %+v", sealed)
	}

	inbox, err := e.d.Inbox(ctx, bob)
	if err != nil || len(inbox) != 1 {
		t.Fatalf("Inbox = %d drops, %v; want 1", len(inbox), err)
	}
	got := inbox[0]
	if got.Sender.UserKey != alice.UserKey || got.Sender.Name != alice.Name || got.CaseRef != "2026-0042" ||
		got.Purpose != PurposeSection12c || got.Message != "Referat fra mødet" || !got.RetainUntil.Equal(dr.RetainUntil) {
		t.Errorf("inbox drop = %+v", got)
	}
	if got.Recipients != nil {
		t.Errorf("a recipient is shown the recipient list: %+v", got.Recipients)
	}
	if len(got.Files) != 3 {
		t.Fatalf("inbox drop has %d files, want 3", len(got.Files))
	}
	for _, f := range got.Files {
		b, of, err := e.download(bob, dr.ID, f.ID)
		if err != nil {
			t.Fatalf("download %s: %v", f.Name, err)
		}
		if !bytes.Equal(b, contents[f.Name]) || sha(b) != f.SHA256 || of.SHA256 != f.SHA256 {
			t.Errorf("%s: downloaded %d bytes (sha %s), want %d (sha %s)", f.Name, len(b), sha(b), len(contents[f.Name]), f.SHA256)
		}
	}
	for _, f := range got.Files {
		want := map[string]string{"billede.png": "image/png", "referat.txt": "text/plain; charset=utf-8", "tom-næsten": "text/plain; charset=utf-8"}[f.Name]
		if f.MediaType != want {
			t.Errorf("%s: media type %q, want %q (sniffed from the content)", f.Name, f.MediaType, want)
		}
	}
	// The sender sees it in Sent with the recipients.
	sent, err := e.d.Sent(ctx, alice)
	if err != nil || len(sent) != 1 || len(sent[0].Recipients) != 1 || sent[0].Recipients[0].UserKey != bob.UserKey {
		t.Fatalf("Sent = %+v, %v", sent, err)
	}
	if _, _, err := e.download(alice, dr.ID, got.Files[0].ID); err != nil {
		t.Errorf("the sender cannot download their own file: %v", err)
	}

	if hits := grepDir(t, e.dir, marker); len(hits) > 0 {
		t.Errorf("plaintext found on disk in %v", hits)
	}
	e.wantNoStrayBlobs()

	// Every step is in the audit log, with the case.
	types := map[string]int{}
	for _, r := range e.records() {
		if r.Outcome != audit.Success {
			// bob's attempt on the draft: refused, recorded, and without
			// the case, which bob may not learn.
			if r.Type != EventDownload || r.Actor != bob.UserKey || r.Reason != reasonNotFound || r.Case != "" {
				t.Errorf("unexpected failure record %+v", r)
			}
			continue
		}
		types[r.Type]++
		if r.Case != "2026-0042" {
			t.Errorf("record %s has case %q", r.Type, r.Case)
		}
	}
	want := map[string]int{EventCreate: 1, EventUpload: 3, EventSeal: 1, EventDeliver: 1, EventDownload: 4}
	for k, n := range want {
		if types[k] != n {
			t.Errorf("%d %s records, want %d (all: %v)", types[k], k, n, types)
		}
	}
	dl := e.records(EventDownload)[1]
	if dl.Actor != bob.UserKey || dl.Subject != dr.ID || dl.Detail["sha256"] == "" || dl.IP != bob.IP {
		t.Errorf("download record = %+v", dl)
	}
	if _, err := e.log.Verify(); err != nil {
		t.Fatal(err)
	}
}

// TestSurvivesRestart: files stored before a restart download after it.
func TestSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	dr := e.mustCreate(spec())
	content := data(7, 150_000)
	f := e.mustAdd(alice, dr.ID, "a.bin", content)
	e.mustSeal(alice, dr.ID)
	e.reopen()
	b, _, err := e.download(bob, dr.ID, f.ID)
	if err != nil || !bytes.Equal(b, content) {
		t.Fatalf("after restart: %d bytes, %v", len(b), err)
	}
}

// TestNotifiesRecipients: sealing calls Options.Notify for each recipient
// with a known address, and for nobody before sealing.
func TestNotifiesRecipients(t *testing.T) {
	got := make(chan string, 10)
	e := newEnv(t, func(o *Options) {
		o.Notify = func(_ ctxT, email string) error { got <- email; return nil }
	})
	// bob's identity is known to have an address once he has logged in.
	if _, err := e.d.ResolveRecipient(ctx, bob.UserKey, bob.Email); err != nil {
		t.Fatal(err)
	}
	s := spec()
	s.Recipients = []string{bob.UserKey, "Pending.Person@Kommune.DK", "101:nomail"}
	dr := e.mustCreate(s)
	e.mustAdd(alice, dr.ID, "a.txt", []byte("hello"))
	select {
	case m := <-got:
		t.Fatalf("notified %s before sealing", m)
	default:
	}
	e.mustSeal(alice, dr.ID)
	e.d.Close() // waits for the background notifications
	close(got)
	var mails []string
	for m := range got {
		mails = append(mails, m)
	}
	slices.Sort(mails)
	if want := []string{"bob@aalborg.dk", "pending.person@kommune.dk"}; !slices.Equal(mails, want) {
		t.Fatalf("notified %v, want %v", mails, want)
	}
}
