package filedrop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// odile is a professional in Odense (461), Region Syddanmark.
var odile = Actor{UserKey: "461:odile", Kommune: 461, Name: "Odile Odense", Email: "odile@odense.dk", Roles: []string{"professional"}, IP: "192.0.2.9"}

// testRoute places 4xx municipalities and odense.dk in Syddanmark, 8xx
// and aalborg.dk in Nordjylland, and nobody else.
func testRoute(userKey, email string) string {
	switch {
	case strings.HasPrefix(userKey, "4") || strings.HasSuffix(email, "@odense.dk"):
		return "syddanmark"
	case strings.HasPrefix(userKey, "8") || strings.HasSuffix(email, "@aalborg.dk"):
		return "nordjylland"
	}
	return ""
}

// pipeCourier delivers straight into another engine, the way the
// federation package does over HTTPS, and can be told to fail.
type pipeCourier struct {
	from string
	to   map[string]*env

	mu        sync.Mutex
	fail      error // returned instead of delivering
	tamper    bool  // flip a byte of every file on the way
	delivered int
	withdrawn int
}

func (c *pipeCourier) Deliver(ctx context.Context, region string, p *Parcel, open ParcelOpener) error {
	c.mu.Lock()
	fail, tamper := c.fail, c.tamper
	c.mu.Unlock()
	if fail != nil {
		return fail
	}
	to := c.to[region]
	files := p.Files
	next := func() (Upload, error) {
		if len(files) == 0 {
			return Upload{}, io.EOF
		}
		f := files[0]
		files = files[1:]
		rc, err := open(ctx, f)
		if err != nil {
			return Upload{}, err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return Upload{}, err
		}
		if tamper {
			b[0] ^= 1
		}
		return Upload{Name: f.Name, Size: f.Size, Body: strings.NewReader(string(b))}, nil
	}
	if _, err := to.d.Receive(ctx, c.from, p, next); err != nil {
		return err
	}
	c.mu.Lock()
	c.delivered++
	c.mu.Unlock()
	return nil
}

func (c *pipeCourier) Withdraw(ctx context.Context, region, dropID string) error {
	c.mu.Lock()
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		return fail
	}
	c.mu.Lock()
	c.withdrawn++
	c.mu.Unlock()
	return c.to[region].d.ReceiveWithdrawal(ctx, c.from, dropID)
}

// twoHubs is Nordjylland (north, with the courier) and Syddanmark (south).
func twoHubs(t *testing.T) (north, south *env, c *pipeCourier) {
	c = &pipeCourier{from: "nordjylland", to: map[string]*env{}}
	north = newEnv(t, func(o *Options) { o.Region, o.Route, o.Courier = "nordjylland", testRoute, c })
	south = newEnv(t, func(o *Options) { o.Region, o.Route = "syddanmark", testRoute })
	c.to["nordjylland"], c.to["syddanmark"] = north, south
	return north, south, c
}

func TestForwardAcrossRegions(t *testing.T) {
	north, south, c := twoHubs(t)
	body := data(7, 3000)
	s := spec()
	s.Recipients = []string{bob.UserKey, odile.UserKey, "ny.kollega@odense.dk"}
	dr := north.mustCreate(s)
	north.mustAdd(alice, dr.ID, "risikovurdering.pdf", body)
	north.mustSeal(alice, dr.ID)

	// Odile is not a user of the north hub: nothing there for her.
	if in, _ := north.d.Inbox(ctx, odile); len(in) != 0 {
		t.Fatalf("odile's inbox on the sending hub holds %d drops", len(in))
	}
	if n, err := north.d.DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("DeliverDue = %d, %v; want 1 delivery", n, err)
	}
	fw, err := north.d.Forwards(ctx, alice, dr.ID)
	if err != nil || len(fw) != 1 || fw[0].Region != "syddanmark" || fw[0].State != "delivered" {
		t.Fatalf("forwards = %+v, %v", fw, err)
	}
	in, err := south.d.Inbox(ctx, odile)
	if err != nil || len(in) != 1 {
		t.Fatalf("odile's inbox on her hub: %d drops, %v", len(in), err)
	}
	got := in[0]
	if got.CaseRef != s.CaseRef || got.Sender.Name != alice.Name || got.Sender.Region != "nordjylland" || got.Message != s.Message {
		t.Errorf("received drop %+v", got)
	}
	if !got.RetainUntil.Equal(dr.RetainUntil) {
		t.Errorf("retention %v, sender's %v", got.RetainUntil, dr.RetainUntil)
	}
	b, f, err := south.download(odile, got.ID, got.Files[0].ID)
	if err != nil || string(b) != string(body) || f.SHA256 != sha(body) {
		t.Fatalf("download on the receiving hub: %v (sha %s)", err, f.SHA256)
	}
	// Bob (Nordjylland) got it on the north hub, and only there.
	if in, _ := north.d.Inbox(ctx, bob); len(in) != 1 {
		t.Errorf("bob's inbox: %d drops", len(in))
	}
	if in, _ := south.d.Inbox(ctx, bob); len(in) != 0 {
		t.Errorf("bob sees %d drops on the south hub", len(in))
	}
	// The e-mail recipient is bound when she first logs in at her hub.
	newcomer := Actor{UserKey: "461:ny", Kommune: 461, Email: "ny.kollega@odense.dk"}
	if n, err := south.d.ResolveRecipient(ctx, newcomer.UserKey, newcomer.Email); err != nil || n != 1 {
		t.Errorf("ResolveRecipient on the south hub = %d, %v", n, err)
	}
	if n, _ := north.d.ResolveRecipient(ctx, "851:imposter", "ny.kollega@odense.dk"); n != 0 {
		t.Errorf("a north login with the Odense address bound %d drops", n)
	}
	// A second delivery of the same parcel (a lost answer) stores nothing new.
	p, err := north.d.parcel(ctx, dr.ID, "syddanmark")
	if err != nil {
		t.Fatal(err)
	}
	again, err := south.d.Receive(ctx, "nordjylland", p, func() (Upload, error) { t.Fatal("files read again"); return Upload{}, io.EOF })
	if err != nil || again != got.ID {
		t.Errorf("redelivery = %q, %v; want the existing %s", again, err, got.ID)
	}
	if len(north.records(EventForward)) != 1 || len(south.records(EventReceive)) != 1 {
		t.Errorf("audit: %d forward, %d receive records", len(north.records(EventForward)), len(south.records(EventReceive)))
	}

	// Withdrawal follows the drop.
	if err := north.d.Withdraw(ctx, alice, dr.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := north.d.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if in, _ := south.d.Inbox(ctx, odile); len(in) != 0 {
		t.Errorf("withdrawn drop still in odile's inbox")
	}
	if _, _, err := south.download(odile, got.ID, got.Files[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("download after withdrawal: %v", err)
	}
	south.wantNoStrayBlobs()
	if len(south.blobFiles()) != 0 {
		t.Errorf("blobs left on the receiving hub: %v", south.blobFiles())
	}
	if c.withdrawn != 1 {
		t.Errorf("withdrawals sent: %d", c.withdrawn)
	}
}

func TestForwardRetriesAndRefusals(t *testing.T) {
	north, south, c := twoHubs(t)
	send := func() *Drop {
		s := spec()
		s.Recipients = []string{odile.UserKey}
		dr := north.mustCreate(s)
		north.mustAdd(alice, dr.ID, "notat.txt", []byte("case notes\n"))
		north.mustSeal(alice, dr.ID)
		return dr
	}
	t.Run("hub down, retried with backoff", func(t *testing.T) {
		dr := send()
		c.fail = errors.New("dial tcp: connection refused")
		if n, _ := north.d.DeliverDue(ctx); n != 0 {
			t.Fatalf("delivered %d while the other hub is down", n)
		}
		fw, _ := north.d.Forwards(ctx, alice, dr.ID)
		if fw[0].State != "pending" || fw[0].Attempts != 1 || !strings.Contains(fw[0].LastError, "refused") {
			t.Fatalf("after a failure: %+v", fw[0])
		}
		c.fail = nil
		if n, _ := north.d.DeliverDue(ctx); n != 0 {
			t.Fatalf("retried before the backoff (%d)", n)
		}
		north.clock.Advance(backoff(1) + time.Second)
		if n, _ := north.d.DeliverDue(ctx); n != 1 {
			t.Fatalf("not retried after the backoff (%d)", n)
		}
		if in, _ := south.d.Inbox(ctx, odile); len(in) != 1 {
			t.Fatalf("odile has %d drops", len(in))
		}
	})
	t.Run("altered in transit", func(t *testing.T) {
		dr := send()
		c.tamper = true
		defer func() { c.tamper = false }()
		before := len(south.blobFiles())
		if n, _ := north.d.DeliverDue(ctx); n != 0 {
			t.Fatal("an altered file was accepted")
		}
		fw, _ := north.d.Forwards(ctx, alice, dr.ID)
		if fw[0].State != "pending" || !strings.Contains(fw[0].LastError, "SHA-256") {
			t.Errorf("after tampering: %+v", fw[0])
		}
		if in, _ := south.d.Inbox(ctx, odile); len(in) != 1 {
			t.Errorf("odile sees %d drops; the altered one must not be among them", len(in))
		}
		if after := len(south.blobFiles()); after != before {
			t.Errorf("the refused parcel left %d blobs", after-before)
		}
	})
	t.Run("refused for good", func(t *testing.T) {
		dr := send()
		c.fail = fmt.Errorf("%w: recipient belongs elsewhere", ErrPermanent)
		defer func() { c.fail = nil }()
		north.clock.Advance(time.Hour)
		north.d.DeliverDue(ctx)
		fw, _ := north.d.Forwards(ctx, alice, dr.ID)
		if fw[0].State != "failed" {
			t.Errorf("a permanent refusal left the forward %q", fw[0].State)
		}
		north.clock.Advance(2 * time.Hour)
		c.fail = nil
		if n, _ := north.d.DeliverDue(ctx); n != 0 {
			t.Errorf("a failed forward was retried")
		}
	})
	t.Run("withdrawn before delivery", func(t *testing.T) {
		c.fail = errors.New("timeout")
		dr := send()
		north.d.DeliverDue(ctx)
		c.fail = nil
		if err := north.d.Withdraw(ctx, alice, dr.ID); err != nil {
			t.Fatal(err)
		}
		north.clock.Advance(2 * time.Hour)
		north.d.DeliverDue(ctx)
		fw, _ := north.d.Forwards(ctx, alice, dr.ID)
		if len(fw) != 0 { // the sender no longer sees the drop at all
			t.Errorf("forwards of a withdrawn drop visible: %+v", fw)
		}
		var state string
		north.st.DB().QueryRow(`SELECT state FROM forwards WHERE drop_id = ?`, dr.ID).Scan(&state)
		if state != "done" {
			t.Errorf("forward of a drop withdrawn before delivery is %q, want done", state)
		}
	})
}

func TestReceiveRefuses(t *testing.T) {
	north, south, _ := twoHubs(t)
	s := spec()
	s.Recipients = []string{odile.UserKey}
	dr := north.mustCreate(s)
	north.mustAdd(alice, dr.ID, "a.txt", []byte("abc"))
	north.mustSeal(alice, dr.ID)
	good, err := north.d.parcel(ctx, dr.ID, "syddanmark")
	if err != nil {
		t.Fatal(err)
	}
	file := func(b string) FileSource {
		return Files(Upload{Name: "a.txt", Size: int64(len(b)), Body: strings.NewReader(b)})
	}
	cases := []struct {
		name   string
		from   string
		edit   func(p *Parcel)
		files  FileSource
		target error
	}{
		{"from itself", "syddanmark", nil, file("abc"), ErrPermanent},
		{"recipient of a third region", "nordjylland", func(p *Parcel) { p.Recipients = []string{bob.UserKey, "461:x"} }, file("abc"), ErrPermanent},
		{"retention over", "nordjylland", func(p *Parcel) { p.RetainUntil = south.clock.Now().Add(-time.Minute) }, file("abc"), ErrPermanent},
		{"bad purpose", "nordjylland", func(p *Parcel) { p.Purpose = "because" }, file("abc"), ErrPermanent},
		{"traversal name", "nordjylland", func(p *Parcel) { p.Files[0].Name = "../../etc/passwd.exe" }, file("abc"), ErrPermanent},
		{"short file", "nordjylland", nil, file("ab"), ErrIncomplete},
		{"wrong content", "nordjylland", nil, file("abd"), ErrCorrupt},
		{"missing file", "nordjylland", nil, Files(), ErrIncomplete},
		{"extra file", "nordjylland", nil, Files(Upload{Name: "a.txt", Size: 3, Body: strings.NewReader("abc")}, Upload{Name: "b", Size: 1, Body: strings.NewReader("b")}), ErrPermanent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := *good
			p.Files = append([]ParcelFile(nil), good.Files...)
			p.ID = newID()
			if tc.edit != nil {
				tc.edit(&p)
			}
			id, err := south.d.Receive(ctx, tc.from, &p, tc.files)
			if err == nil {
				t.Fatalf("accepted as %s", id)
			}
			if tc.target != nil && !errors.Is(err, tc.target) {
				t.Errorf("error %v, want %v", err, tc.target)
			}
			if in, _ := south.d.Inbox(ctx, odile); len(in) != 0 {
				t.Errorf("a refused parcel is visible")
			}
		})
	}
	south.wantNoStrayBlobs()
	if n := len(south.blobFiles()); n != 0 {
		t.Errorf("refused parcels left %d blobs", n)
	}
}
