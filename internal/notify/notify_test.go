package notify

import (
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/store"
)

const hubURL = "https://sikkerfil.nordjylland.localhost/"

// clock is a settable time for the hourly limit.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestNotifyThroughRealRelay sends through a real SMTP server with STARTTLS
// and AUTH and checks the whole mail: fixed text, the link, nothing else.
func TestNotifyThroughRealRelay(t *testing.T) {
	s := startSink(t, sinkOptions{TLS: true, User: "hub", Password: "relay-secret"})
	st := openStore(t, filepath.Join(t.TempDir(), "hub.db"))
	clk := newClock()
	n, err := New(context.Background(), st, Config{
		Addr: s.Addr, From: "sikkerfil@aalborg.dk", TLSConfig: s.tlsConfig(),
		Username: "hub", Password: "relay-secret", Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := New(context.Background(), st, Config{
		Addr: s.Addr, From: "sikkerfil@aalborg.dk", TLSConfig: s.tlsConfig(),
		Username: "hub", Password: "guess", Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sent, err := wrong.Notify(context.Background(), "Anna.Hansen@Aalborg.DK", hubURL); err == nil || sent {
		t.Fatalf("Notify with a wrong relay password = %v, %v; want refused", sent, err)
	}
	untrusting, err := New(context.Background(), st, Config{
		Addr: s.Addr, From: "sikkerfil@aalborg.dk", Username: "hub", Password: "relay-secret", Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if sent, err := untrusting.Notify(context.Background(), "Anna.Hansen@Aalborg.DK", hubURL); err == nil || sent {
		t.Fatalf("Notify to a relay with an untrusted certificate = %v, %v; want refused", sent, err)
	}
	sent, err := n.Notify(context.Background(), "Anna.Hansen@Aalborg.DK", hubURL)
	if err != nil || !sent {
		t.Fatalf("Notify = %v, %v; want sent (failed attempts do not count)", sent, err)
	}
	msgs := s.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("sink holds %d mails, want 1", len(msgs))
	}
	m := msgs[0]
	for k, want := range map[string]string{
		"X-Sink-Tls":       "yes",
		"X-Sink-Auth":      "hub",
		"X-Sink-Rcpt-To":   "Anna.Hansen@aalborg.dk",
		"X-Sink-Mail-From": "sikkerfil@aalborg.dk",
		"To":               "<Anna.Hansen@aalborg.dk>",
		"From":             `"hubkit" <sikkerfil@aalborg.dk>`,
		"Auto-Submitted":   "auto-generated",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil || subj != Subject {
		t.Errorf("Subject = %q, %v; want %q", subj, err, Subject)
	}
	// Every header is one the notifier sets (plus the sink's own): nothing
	// a caller could have smuggled case content into.
	allowed := map[string]bool{"From": true, "To": true, "Subject": true, "Date": true, "Message-Id": true,
		"Mime-Version": true, "Content-Type": true, "Content-Transfer-Encoding": true, "Auto-Submitted": true}
	for k := range m.Header {
		if !allowed[k] && !strings.HasPrefix(k, "X-Sink-") {
			t.Errorf("unexpected header %s: %q", k, m.Header.Get(k))
		}
	}
	raw, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(string(raw), "\r\n", "\n")
	want := strings.ReplaceAll(strings.ReplaceAll(body, "%s", hubURL), "\r\n", "\n")
	if got != want {
		t.Errorf("body:\n%s\nwant exactly:\n%s", got, want)
	}
}

// TestHourlyLimit: one mail per recipient per hour, kept across a restart
// (a new Notifier on a reopened store), and per recipient.
func TestHourlyLimit(t *testing.T) {
	s := startSink(t, sinkOptions{})
	dbPath := filepath.Join(t.TempDir(), "hub.db")
	clk := newClock()
	cfg := Config{Addr: s.Addr, From: "hub@hub.localhost", TLS: TLSNone, Now: clk.Now}
	ctx := context.Background()

	st, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(ctx, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	step := func(n *Notifier, who string, wantSent bool) {
		t.Helper()
		sent, err := n.Notify(ctx, who, hubURL)
		if err != nil || sent != wantSent {
			t.Fatalf("at %s Notify(%s) = %v, %v; want sent=%v", clk.Now().Format("15:04"), who, sent, err, wantSent)
		}
	}
	step(n, "a@kommune.dk", true)
	step(n, "a@kommune.dk", false)
	step(n, "A@KOMMUNE.DK", false) // the same mailbox
	step(n, "b@kommune.dk", true)
	clk.Advance(30 * time.Minute)
	step(n, "a@kommune.dk", false)
	st.Close()

	st = openStore(t, dbPath)
	n, err = New(ctx, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(29 * time.Minute)
	step(n, "a@kommune.dk", false) // 59 minutes, after a restart
	clk.Advance(2 * time.Minute)
	step(n, "a@kommune.dk", true) // 61 minutes
	step(n, "a@kommune.dk", false)

	if got := len(s.messages(t)); got != 3 {
		t.Fatalf("sink holds %d mails, want 3", got)
	}
	// Rows past their hour are deleted, so the table does not keep a
	// history of who got mail when.
	var rows int
	if err := st.DB().QueryRow(`SELECT count(*) FROM notifications_sent`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("notifications_sent holds %d rows, want 1 (b's expired)", rows)
	}
}

// TestConcurrentNotify: drops sealed at the same moment still give one mail.
func TestConcurrentNotify(t *testing.T) {
	s := startSink(t, sinkOptions{})
	st := openStore(t, filepath.Join(t.TempDir(), "hub.db"))
	n, err := New(context.Background(), st, Config{Addr: s.Addr, From: "hub@hub.localhost", TLS: TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var sentCount atomic.Int32
	for range 8 {
		wg.Go(func() {
			sent, err := n.Notify(context.Background(), "c@kommune.dk", hubURL)
			if err != nil {
				t.Error(err)
			}
			if sent {
				sentCount.Add(1)
			}
		})
	}
	wg.Wait()
	if sentCount.Load() != 1 || len(s.messages(t)) != 1 {
		t.Fatalf("%d sent, sink holds %d; want exactly one", sentCount.Load(), len(s.messages(t)))
	}
}

// TestFailedDeliveryDoesNotCount: a relay that refuses (no STARTTLS while
// it is required) or cannot be reached sends nothing and does not use up
// the recipient's hour.
func TestFailedDeliveryDoesNotCount(t *testing.T) {
	s := startSink(t, sinkOptions{}) // offers no STARTTLS
	st := openStore(t, filepath.Join(t.TempDir(), "hub.db"))
	ctx := context.Background()
	strict, err := New(ctx, st, Config{Addr: s.Addr, From: "hub@hub.localhost"})
	if err != nil {
		t.Fatal(err)
	}
	sent, err := strict.Notify(ctx, "d@kommune.dk", hubURL)
	if err == nil || sent || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Notify without STARTTLS = %v, %v; want a STARTTLS error", sent, err)
	}

	ln := closedPort(t)
	down, err := New(ctx, st, Config{Addr: ln, From: "hub@hub.localhost", TLS: TLSNone, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if sent, err := down.Notify(ctx, "d@kommune.dk", hubURL); err == nil || sent {
		t.Fatalf("Notify to a closed port = %v, %v; want an error", sent, err)
	}

	plain, err := New(ctx, st, Config{Addr: s.Addr, From: "hub@hub.localhost", TLS: TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	if sent, err := plain.Notify(ctx, "d@kommune.dk", hubURL); err != nil || !sent {
		t.Fatalf("Notify after two failures = %v, %v; want sent (failures must not use up the hour)", sent, err)
	}
	if got := len(s.messages(t)); got != 1 {
		t.Fatalf("sink holds %d mails, want 1", got)
	}
}

func TestRefusesBadInput(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "hub.db"))
	ctx := context.Background()
	n, err := New(ctx, st, Config{Addr: "127.0.0.1:1", From: "hub@hub.localhost", TLS: TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ to, url string }{
		{"a@kommune.dk\r\nBcc: x@evil.example", hubURL},
		{"Anna <a@kommune.dk>", hubURL},
		{"a@kommune.dk, b@kommune.dk", hubURL},
		{"", hubURL},
		{"a@kommune.dk", "http://sikkerfil.aalborg.dk/"},
		{"a@kommune.dk", "https://sikkerfil.aalborg.dk/?case=2026-0042"},
		{"a@kommune.dk", "https://sikkerfil.aalborg.dk/#2026-0042"},
		{"a@kommune.dk", "/relative"},
		{"a@kommune.dk", "https://user:pw@sikkerfil.aalborg.dk/"},
	} {
		if sent, err := n.Notify(ctx, tc.to, tc.url); err == nil || sent {
			t.Errorf("Notify(%q, %q) = %v, %v; want refused", tc.to, tc.url, sent, err)
		}
	}
	for _, cfg := range []Config{
		{Addr: "smtp.kommune.dk", From: "hub@kommune.dk"},
		{Addr: "smtp.kommune.dk:25", From: "not an address"},
		{Addr: "smtp.kommune.dk:25", From: "hub@kommune.dk", TLS: "sometimes"},
		{Addr: "smtp.kommune.dk:25", From: "hub@kommune.dk", TLS: TLSNone, Username: "u"},
		{Addr: "smtp.kommune.dk:25", From: "hub@kommune.dk", FromName: "x\r\nBcc: y@z"},
	} {
		if _, err := New(ctx, st, cfg); err == nil {
			t.Errorf("New(%+v) accepted a bad config", cfg)
		}
	}
}

// closedPort returns an address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
