package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/site"
	"github.com/hubkit/hubkit/internal/store"
)

var ctx = context.Background()

var (
	anna  = filedrop.Actor{UserKey: "851:anna", Kommune: 851, Name: "Anna Aalborg", Roles: []string{"consultant"}}
	odile = filedrop.Actor{UserKey: "461:odile", Kommune: 461, Name: "Odile Odense", Roles: []string{"professional"}}
)

func testSite(self string) *site.Site {
	return &site.Site{Region: region.Region{ID: self}, Regions: []site.RegionInfo{
		{ID: "nordjylland", Kommuner: []int{851, 860}, EmailDomains: []string{"aalborg.dk"}, Tenants: []string{}},
		{ID: "syddanmark", Kommuner: []int{461, 561}, EmailDomains: []string{"odense.dk"}, Tenants: []string{"3d6c8a0e-9f3b-4f21-8d55-0c2a1b7e4f90"}},
	}}
}

// hub is an engine served over TLS with its federation node.
type hub struct {
	node  *Node
	drops *filedrop.Drops
	srv   *httptest.Server
}

func intp(n int) *int { return &n }

// newHubs starts Nordjylland and Syddanmark, each knowing the other.
func newHubs(t testing.TB) (north, south *hub) {
	north, south = &hub{}, &hub{}
	mk := func(h *hub, id string) {
		dir := t.TempDir()
		st, err := store.Open(filepath.Join(dir, "hub.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		log, err := audit.Open(filepath.Join(dir, audit.FileName))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { log.Close() })
		age, err := filedrop.LoadOrCreateIdentity(dir)
		if err != nil {
			t.Fatal(err)
		}
		key, err := LoadOrCreateSigningKey(dir)
		if err != nil {
			t.Fatal(err)
		}
		h.srv = httptest.NewUnstartedServer(nil)
		h.srv.StartTLS()
		t.Cleanup(h.srv.Close)
		h.node = &Node{Region: id, Key: key, Logger: slog.New(slog.DiscardHandler)}
		pol := region.FileDropPolicy{MaxFileBytes: 256 << 20, MaxFilesPerDrop: intp(3), DefaultRetentionDays: intp(30), MaxRetentionDays: intp(90)}
		h.drops, err = filedrop.Open(ctx, st, log, dir, age, filedrop.Options{Policy: pol, Region: id, Route: Router(testSite(id)),
			Courier: h.node, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.drops.Close() })
		h.node.Attach(h.drops)
		h.srv.Config.Handler = h.node
	}
	mk(north, "nordjylland")
	mk(south, "syddanmark")
	north.node.Peers = map[string]string{"syddanmark": south.srv.URL}
	south.node.Peers = map[string]string{"nordjylland": north.srv.URL}
	north.node.HTTP, south.node.HTTP = south.srv.Client(), north.srv.Client() // both trust httptest's one certificate
	return north, south
}

func (h *hub) send(t testing.TB, body []byte, recipients ...string) *filedrop.Drop {
	t.Helper()
	dr, err := h.drops.CreateDrop(ctx, anna, filedrop.DropSpec{CaseRef: "2026-77", Purpose: filedrop.PurposeConsent, Recipients: recipients})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.drops.AddFile(ctx, anna, dr.ID, "plan.pdf", int64(len(body)), bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	if dr, err = h.drops.Seal(ctx, anna, dr.ID); err != nil {
		t.Fatal(err)
	}
	return dr
}

func TestDeliverOverHTTPS(t *testing.T) {
	north, south := newHubs(t)
	body := bytes.Repeat([]byte("sagsakt "), 40000)
	dr := north.send(t, body, "461:odile")
	if n, err := north.drops.DeliverDue(ctx); err != nil || n != 1 {
		fw, _ := north.drops.Forwards(ctx, anna, dr.ID)
		t.Fatalf("DeliverDue = %d, %v; forwards %+v", n, err, fw)
	}
	in, err := south.drops.Inbox(ctx, odile)
	if err != nil || len(in) != 1 {
		t.Fatalf("inbox on the receiving hub: %d, %v", len(in), err)
	}
	rc, f, err := south.drops.Open(ctx, odile, in[0].ID, in[0].Files[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	sum := sha256.Sum256(body)
	if err != nil || !bytes.Equal(got, body) || f.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("downloaded %d bytes (%v), sha %s", len(got), err, f.SHA256)
	}
	// Withdrawal over the wire.
	if err := north.drops.Withdraw(ctx, anna, dr.ID); err != nil {
		t.Fatal(err)
	}
	north.drops.DeliverDue(ctx)
	if in, _ := south.drops.Inbox(ctx, odile); len(in) != 0 {
		t.Fatal("withdrawn drop still delivered")
	}
}

// post sends a hand-made request to the south hub as if from north.
func post(t *testing.T, h *hub, path string, body []byte, headers map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+path, bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRefusesUnauthenticated(t *testing.T) {
	north, south := newHubs(t)
	var docFetches atomic.Int32
	north.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == DocPath {
			docFetches.Add(1)
		}
		north.node.ServeHTTP(w, r)
	})
	t.Cleanup(func() {
		// Bad signatures may refetch the sender's document, but not every time.
		if n := docFetches.Load(); n < 1 || n > 2 {
			t.Errorf("the receiving hub fetched the sender's peer document %d times", n)
		}
	})
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	withdrawal := func(mod func(*Envelope)) *Envelope {
		e := &Envelope{Kind: KindWithdrawal, From: "nordjylland", To: "syddanmark", IssuedAt: time.Now().UTC(), DropID: strings.Repeat("a", 32)}
		if mod != nil {
			mod(e)
		}
		return e
	}
	cases := []struct {
		name   string
		key    ed25519.PrivateKey
		env    *Envelope
		from   string
		status int
	}{
		{"good", north.node.Key, withdrawal(nil), "nordjylland", 200},
		{"stranger's key", stranger, withdrawal(nil), "nordjylland", 401},
		{"unknown region", north.node.Key, withdrawal(func(e *Envelope) { e.From = "atlantis" }), "atlantis", 403},
		{"header and envelope disagree", north.node.Key, withdrawal(nil), "syddanmark", 403},
		{"addressed elsewhere", north.node.Key, withdrawal(func(e *Envelope) { e.To = "hovedstaden" }), "nordjylland", 403},
		{"stale", north.node.Key, withdrawal(func(e *Envelope) { e.IssuedAt = time.Now().Add(-time.Hour) }), "nordjylland", 401},
		{"from the future", north.node.Key, withdrawal(func(e *Envelope) { e.IssuedAt = time.Now().Add(time.Hour) }), "nordjylland", 401},
		{"wrong kind", north.node.Key, withdrawal(func(e *Envelope) { e.Kind = KindParcel }), "nordjylland", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, sig, err := sign(tc.key, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			status, msg := post(t, south, WithdrawalPath, body, map[string]string{HeaderFrom: tc.from, HeaderSignature: sig})
			if status != tc.status {
				t.Errorf("status %d (%s), want %d", status, msg, tc.status)
			}
		})
	}
	t.Run("signature of other bytes", func(t *testing.T) {
		body, sig, _ := sign(north.node.Key, withdrawal(nil))
		body = bytes.Replace(body, []byte("aaaa"), []byte("bbbb"), 1)
		if status, msg := post(t, south, WithdrawalPath, body, map[string]string{HeaderFrom: "nordjylland", HeaderSignature: sig}); status != 401 {
			t.Errorf("altered envelope: %d %s", status, msg)
		}
	})
	t.Run("parcel signed by an impostor reads no file", func(t *testing.T) {
		impostor := &Node{Region: "nordjylland", Key: stranger, Peers: north.node.Peers, HTTP: north.node.HTTP}
		p := &filedrop.Parcel{ID: strings.Repeat("c", 32), CaseRef: "2026-1", Purpose: filedrop.PurposeConsent,
			RetainUntil: time.Now().Add(time.Hour), Recipients: []string{"461:odile"},
			Files: []filedrop.ParcelFile{{ID: strings.Repeat("d", 32), Name: "a.txt", Size: 1, SHA256: strings.Repeat("0", 64)}}}
		err := impostor.Deliver(ctx, "syddanmark", p, func(context.Context, filedrop.ParcelFile) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("x")), nil
		})
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("impostor's delivery: %v", err)
		}
		if in, _ := south.drops.Inbox(ctx, odile); len(in) != 0 {
			t.Fatal("a parcel signed with an unknown key was stored")
		}
	})
}

func TestRouter(t *testing.T) {
	route := Router(testSite("nordjylland"))
	for _, tc := range []struct{ key, email, want string }{
		{"461:x", "", "syddanmark"},
		{"851:x", "", "nordjylland"},
		{"101:x", "", ""},
		{"3D6C8A0E-9F3B-4F21-8D55-0C2A1B7E4F90:oid", "", "syddanmark"},
		{"", "Someone@Odense.DK", "syddanmark"},
		{"", "someone@odense.dk.evil.example", ""},
		{"", "a@aalborg.dk", "nordjylland"},
		{"garbage", "", ""},
	} {
		if got := route(tc.key, tc.email); got != tc.want {
			t.Errorf("route(%q, %q) = %q, want %q", tc.key, tc.email, got, tc.want)
		}
	}
}

func TestSigningKeyFile(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateSigningKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateSigningKey(dir)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("second start: %v, same key %v", err, k1.Equal(k2))
	}
	if _, err := parseSigningKey([]byte("# nothing\n")); err == nil {
		t.Error("an empty key file parsed")
	}
	if _, err := parseSigningKey([]byte(seedPrefix + "AAAA\n")); err == nil {
		t.Error("a short seed parsed")
	}
}

func FuzzParseEnvelope(f *testing.F) {
	body, _, _ := sign(ed25519.NewKeyFromSeed(make([]byte, 32)), &Envelope{Kind: KindParcel, From: "a", To: "b", IssuedAt: time.Unix(1, 0),
		Parcel: &filedrop.Parcel{ID: "x", Files: []filedrop.ParcelFile{{Name: "n", Size: 1}}}})
	f.Add(body)
	f.Add([]byte(`{"kind":"withdrawal","from":"a","to":"b","issued_at":"2026-01-01T00:00:00Z","drop_id":"x"}`))
	f.Add([]byte(`{}{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := ParseEnvelope(b)
		if err != nil {
			return
		}
		if env.From == "" || env.From == env.To || (env.Kind == KindParcel) == (env.Parcel == nil) {
			t.Fatalf("accepted a malformed envelope: %+v", env)
		}
	})
}
