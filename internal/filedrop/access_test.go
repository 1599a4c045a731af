package filedrop

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// sealedDrop makes a sealed drop from alice to bob with one file.
func (e *env) sealedDrop(content []byte) (*Drop, *File) {
	e.t.Helper()
	dr := e.mustCreate(spec())
	f := e.mustAdd(alice, dr.ID, "notat.txt", content)
	return e.mustSeal(alice, dr.ID), f
}

// TestAccessControl: only the sender and the recipients see a drop; to
// everyone else, and for every guessed or malformed id, it does not exist
// (ErrNotFound, never a "forbidden" that would confirm it exists).
func TestAccessControl(t *testing.T) {
	e := newEnv(t)
	dr, f := e.sealedDrop([]byte("fortroligt"))
	other, otherFile := e.sealedDrop([]byte("en anden sag"))

	if _, err := e.d.Get(ctx, carol, dr.ID); err != ErrNotFound {
		t.Errorf("Get by a non-recipient: %v, want ErrNotFound", err)
	}
	if _, _, err := e.d.Open(ctx, carol, dr.ID, f.ID); err != ErrNotFound {
		t.Errorf("Open by a non-recipient: %v, want ErrNotFound", err)
	}
	if in, _ := e.d.Inbox(ctx, carol); len(in) != 0 {
		t.Errorf("carol's inbox holds %d drops", len(in))
	}
	if err := e.d.Withdraw(ctx, carol, dr.ID); err != ErrNotFound {
		t.Errorf("Withdraw by a non-recipient: %v", err)
	}
	// A recipient may read, not change.
	if err := e.d.Withdraw(ctx, bob, dr.ID); err != ErrNotFound {
		t.Errorf("Withdraw by a recipient: %v, want ErrNotFound", err)
	}
	if _, err := e.d.AddFile(ctx, bob, dr.ID, "x.txt", 1, bytes.NewReader([]byte("x"))); err != ErrNotFound {
		t.Errorf("AddFile by a recipient: %v", err)
	}
	if _, err := e.d.Seal(ctx, bob, dr.ID); err != ErrNotFound {
		t.Errorf("Seal by a recipient: %v", err)
	}
	// A file id of another drop, under a drop id the actor may see.
	if _, _, err := e.d.Open(ctx, bob, dr.ID, otherFile.ID); err != ErrNotFound {
		t.Errorf("Open of another drop's file through an accessible drop: %v", err)
	}
	if _, _, err := e.d.Open(ctx, bob, other.ID, otherFile.ID); err != nil {
		t.Errorf("bob cannot open his other drop: %v", err)
	}
	guesses := []struct{ drop, file string }{
		{newID(), f.ID},
		{dr.ID, newID()},
		{"../../keys/filedrop.agekey", f.ID},
		{dr.ID, "../" + f.ID},
		{dr.ID, f.ID[:31]},
		{dr.ID, "ABCDEF0123456789ABCDEF0123456789"},
		{"", ""},
	}
	for _, g := range guesses {
		if _, _, err := e.d.Open(ctx, bob, g.drop, g.file); err != ErrNotFound {
			t.Errorf("Open(%q, %q) = %v, want ErrNotFound", g.drop, g.file, err)
		}
		if _, err := e.d.Get(ctx, bob, g.drop); g.drop != dr.ID && err != ErrNotFound {
			t.Errorf("Get(%q) = %v, want ErrNotFound", g.drop, err)
		}
	}
	if _, err := e.d.Get(ctx, Actor{}, dr.ID); err != ErrNotFound {
		t.Errorf("Get without a user: %v", err)
	}
	// The engine's own actor names can never be logged in as.
	for _, key := range []string{"link:" + newID(), SystemActor} {
		if _, err := e.d.CreateDrop(ctx, Actor{UserKey: key}, spec()); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateDrop as %s: %v", key, err)
		}
		if _, err := e.d.Inbox(ctx, Actor{UserKey: key}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Inbox as %s: %v", key, err)
		}
	}
	// Refused downloads are audited, with junk ids kept out of the log.
	var refused int
	for _, r := range e.records(EventDownload) {
		if r.Outcome == "failure" {
			refused++
			if r.Case != "" {
				t.Errorf("a refused download names the case: %+v", r)
			}
			if len(r.Subject) != 32 && r.Subject != "(malformed id)" {
				t.Errorf("refused download subject %q", r.Subject)
			}
		}
	}
	if refused < len(guesses)+2 {
		t.Errorf("%d refused downloads audited, want at least %d", refused, len(guesses)+2)
	}
}

// TestRetentionEnforcedOnRead: a drop past its retention date is gone for
// everyone at once, before the sweeper has deleted anything.
func TestRetentionEnforcedOnRead(t *testing.T) {
	e := newEnv(t)
	s := spec()
	s.RetentionDays = 1
	dr := e.mustCreate(s)
	f := e.mustAdd(alice, dr.ID, "a.txt", []byte("a"))
	e.mustSeal(alice, dr.ID)
	e.clock.Advance(24*time.Hour - time.Second)
	if _, _, err := e.download(bob, dr.ID, f.ID); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	e.clock.Advance(time.Second)
	for _, a := range []Actor{alice, bob} {
		if _, err := e.d.Get(ctx, a, dr.ID); err != ErrNotFound {
			t.Errorf("Get by %s at expiry: %v", a.UserKey, err)
		}
		if _, _, err := e.d.Open(ctx, a, dr.ID, f.ID); err != ErrNotFound {
			t.Errorf("Open by %s at expiry: %v", a.UserKey, err)
		}
	}
	if in, _ := e.d.Inbox(ctx, bob); len(in) != 0 {
		t.Errorf("inbox shows an expired drop")
	}
	if out, _ := e.d.Sent(ctx, alice); len(out) != 0 {
		t.Errorf("sent items show an expired drop")
	}
}

// TestEmailRecipient: a drop to an address reaches the identity that
// first logs in with it, and only that one.
func TestEmailRecipient(t *testing.T) {
	e := newEnv(t)
	dave := Actor{UserKey: "9b0c3f4e-1a2b-4c3d-8e9f-001122334455:oid-dave", Email: "dave@kommune.dk"}
	mallory := Actor{UserKey: "101:mallory", Email: "dave@kommune.dk"}
	s := spec()
	s.Recipients = []string{"Dave@Kommune.DK"}
	dr := e.mustCreate(s)
	f := e.mustAdd(alice, dr.ID, "a.txt", []byte("til dave"))
	e.mustSeal(alice, dr.ID)

	if in, _ := e.d.Inbox(ctx, dave); len(in) != 0 {
		t.Fatal("the drop reached dave before his identity was bound")
	}
	n, err := e.d.ResolveRecipient(ctx, dave.UserKey, "DAVE@kommune.dk")
	if err != nil || n != 1 {
		t.Fatalf("ResolveRecipient = %d, %v; want 1 drop bound", n, err)
	}
	if _, _, err := e.download(dave, dr.ID, f.ID); err != nil {
		t.Fatalf("dave cannot download after binding: %v", err)
	}
	// Another identity presenting the same address later gets nothing.
	if n, err := e.d.ResolveRecipient(ctx, mallory.UserKey, mallory.Email); err != nil || n != 0 {
		t.Fatalf("ResolveRecipient for a second identity = %d, %v", n, err)
	}
	if _, err := e.d.Get(ctx, mallory, dr.ID); err != ErrNotFound {
		t.Fatalf("a second identity with the same address sees the drop: %v", err)
	}
	// A new drop to the address goes straight to dave.
	dr2 := e.mustCreate(s)
	if dr2.Recipients[0].UserKey != dave.UserKey {
		t.Fatalf("new drop's recipient = %+v, want bound to dave", dr2.Recipients[0])
	}
	var mismatch bool
	for _, r := range e.records(EventBind) {
		if r.Outcome == "failure" && r.Actor == mallory.UserKey {
			mismatch = true
		}
	}
	if !mismatch {
		t.Error("the second identity's bind attempt is not audited")
	}
}
