package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 123456789, time.UTC)

const (
	idle     = 30 * time.Minute
	absolute = 8 * time.Hour
)

func testSession(t *testing.T, now time.Time) *Session {
	t.Helper()
	id, err := NewSessionID()
	if err != nil {
		t.Fatal(err)
	}
	csrf, _ := NewSessionID()
	return &Session{
		ID:             id,
		UserKey:        "851:sub-1",
		Issuer:         "https://idp.aalborg.example",
		Subject:        "sub-1",
		SID:            "sid-1",
		Kommune:        851,
		Roles:          []string{"consultant", "admin"},
		Name:           "Ærø Østergård",
		Email:          "aeo@aalborg.example",
		NSIS:           "Substantial",
		CSRF:           csrf,
		IDToken:        "eyJ.id.token",
		CreatedAt:      now,
		LastSeen:       now,
		AbsoluteExpiry: now.Add(absolute),
	}
}

func TestNewSessionID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := NewSessionID()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(raw) != 32 || len(id) != 43 {
			t.Fatalf("id %q: %d bytes, %v", id, len(raw), err)
		}
		if seen[id] {
			t.Fatal("duplicate id")
		}
		seen[id] = true
	}
}

func TestSessionRoundTrip(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	want := testSession(t, t0)
	if err := st.CreateSession(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetSession(ctx, want.ID, t0.Add(time.Minute), idle)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetSession =\n%+v\nwant\n%+v", got, want)
	}

	// No roles comes back as no roles; an empty ID is filled in.
	s := testSession(t, t0)
	s.ID, s.Roles = "", nil
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got, err := st.GetSession(ctx, s.ID, t0, idle); err != nil || len(got.Roles) != 0 {
		t.Errorf("session without roles: %+v, %v", got, err)
	}
}

func TestCreateSessionValidates(t *testing.T) {
	st := openTest(t)
	for name, edit := range map[string]func(*Session){
		"bad id":          func(s *Session) { s.ID = "not-a-session-id" },
		"no user key":     func(s *Session) { s.UserKey = "" },
		"no issuer":       func(s *Session) { s.Issuer = "" },
		"no csrf":         func(s *Session) { s.CSRF = "" },
		"no created":      func(s *Session) { s.CreatedAt = time.Time{} },
		"expiry too soon": func(s *Session) { s.AbsoluteExpiry = s.CreatedAt },
	} {
		s := testSession(t, t0)
		edit(s)
		if err := st.CreateSession(context.Background(), s); err == nil {
			t.Errorf("%s: CreateSession succeeded", name)
		}
	}
	s := testSession(t, t0)
	if err := st.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(context.Background(), s); err == nil {
		t.Error("second session with the same id was stored")
	}
}

// The id is a bearer secret: only its hash may reach the disk.
func TestSessionIDNotStored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	st := openAt(t, path)
	s := testSession(t, t0)
	if err := st.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	var key []byte
	if err := st.DB().QueryRow(`SELECT id_hash FROM sessions`).Scan(&key); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, hashToken(s.ID)) {
		t.Errorf("stored key is not sha256 of the id")
	}
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(s.ID)) {
			t.Errorf("%s contains the session id in clear", p)
		}
	}
}

func TestGetSession(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		id   func(s *Session) string
		now  time.Time
		kind string // "" ok, "notfound", or an expiry kind
	}{
		{"fresh", nil, t0, ""},
		{"just inside idle", nil, t0.Add(idle), ""},
		{"idle", nil, t0.Add(idle + time.Nanosecond), ExpiredIdle},
		{"absolute wins over idle", nil, t0.Add(absolute + time.Second), ExpiredAbsolute},
		{"unknown id", func(*Session) string { id, _ := NewSessionID(); return id }, t0, "notfound"},
		{"malformed id", func(*Session) string { return "'; DROP TABLE sessions; --" }, t0, "notfound"},
		{"id with padding", func(s *Session) string { return s.ID + "=" }, t0, "notfound"},
		{"empty id", func(*Session) string { return "" }, t0, "notfound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openTest(t)
			s := testSession(t, t0)
			if err := st.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
			id := s.ID
			if tt.id != nil {
				id = tt.id(s)
			}
			got, err := st.GetSession(ctx, id, tt.now, idle)
			switch tt.kind {
			case "":
				if err != nil || got.UserKey != s.UserKey {
					t.Fatalf("GetSession = %+v, %v", got, err)
				}
			case "notfound":
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("GetSession error %v, want ErrNotFound", err)
				}
			default:
				var ee *ExpiredError
				if !errors.As(err, &ee) || !errors.Is(err, ErrExpired) || ee.Kind != tt.kind {
					t.Fatalf("GetSession error %v, want %s expiry", err, tt.kind)
				}
				if ee.Session == nil || ee.Session.UserKey != s.UserKey {
					t.Errorf("expiry does not say whose session: %+v", ee.Session)
				}
				// Expired sessions are gone.
				if _, err := st.GetSession(ctx, s.ID, t0, idle); !errors.Is(err, ErrNotFound) {
					t.Errorf("after expiry: %v, want ErrNotFound", err)
				}
			}
		})
	}
	st := openTest(t)
	if _, err := st.GetSession(ctx, "x", t0, 0); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("zero idle timeout: %v, want a configuration error", err)
	}
}

func TestTouchSession(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	s := testSession(t, t0)
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	lastSeen := func() time.Time {
		got, err := st.GetSession(ctx, s.ID, t0, absolute)
		if err != nil {
			t.Fatal(err)
		}
		return got.LastSeen
	}
	// Within TouchInterval: no write.
	if err := st.TouchSession(ctx, s.ID, t0.Add(TouchInterval/2)); err != nil {
		t.Fatal(err)
	}
	if got := lastSeen(); !got.Equal(t0) {
		t.Errorf("LastSeen moved to %v within TouchInterval", got)
	}
	later := t0.Add(TouchInterval)
	if err := st.TouchSession(ctx, s.ID, later); err != nil {
		t.Fatal(err)
	}
	if got := lastSeen(); !got.Equal(later) {
		t.Errorf("LastSeen = %v, want %v", got, later)
	}
	// Touching keeps a session alive past the idle timeout counted from its start.
	if _, err := st.GetSession(ctx, s.ID, t0.Add(idle+time.Second), idle); err != nil {
		t.Errorf("touched session: %v", err)
	}
	// Never backwards.
	if err := st.TouchSession(ctx, s.ID, t0); err != nil {
		t.Fatal(err)
	}
	if got := lastSeen(); !got.Equal(later) {
		t.Errorf("LastSeen went back to %v", got)
	}
	unknown, _ := NewSessionID()
	for _, id := range []string{unknown, "junk"} {
		if err := st.TouchSession(ctx, id, later); !errors.Is(err, ErrNotFound) {
			t.Errorf("TouchSession(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestDeleteSessions(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	mk := func(issuer, sub, sid string) *Session {
		s := testSession(t, t0)
		s.Issuer, s.Subject, s.SID = issuer, sub, sid
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	const a, b = "https://a.example", "https://b.example"
	s1 := mk(a, "alice", "sid-1")
	s2 := mk(a, "alice", "sid-2")
	s3 := mk(a, "bob", "sid-1") // same sid value, other user: IdPs scope sid per issuer only
	s4 := mk(b, "alice", "sid-1")
	s5 := mk(a, "carol", "")
	s6 := mk(a, "dave", "")

	exists := func(s *Session) bool {
		_, err := st.GetSession(ctx, s.ID, t0, idle)
		return err == nil
	}

	if err := st.DeleteSession(ctx, s5.ID); err != nil || exists(s5) {
		t.Errorf("DeleteSession: %v, still there: %v", err, exists(s5))
	}
	if err := st.DeleteSession(ctx, s5.ID); err != nil {
		t.Errorf("second DeleteSession: %v", err)
	}
	if err := st.DeleteSession(ctx, "junk"); err != nil {
		t.Errorf("DeleteSession(junk): %v", err)
	}

	if n, err := st.DeleteSessionsBySID(ctx, a, "sid-1"); err != nil || n != 2 {
		t.Errorf("DeleteSessionsBySID = %d, %v; want 2", n, err)
	}
	if exists(s1) || exists(s3) || !exists(s2) || !exists(s4) {
		t.Error("DeleteSessionsBySID removed the wrong sessions")
	}
	if n, err := st.DeleteSessionsBySubject(ctx, a, "alice"); err != nil || n != 1 {
		t.Errorf("DeleteSessionsBySubject = %d, %v; want 1", n, err)
	}
	if exists(s2) || !exists(s4) || !exists(s6) {
		t.Error("DeleteSessionsBySubject removed the wrong sessions")
	}
	// Empty arguments would match too much.
	if _, err := st.DeleteSessionsBySID(ctx, a, ""); err == nil || !exists(s6) {
		t.Error("DeleteSessionsBySID with an empty sid was accepted")
	}
	if _, err := st.DeleteSessionsBySubject(ctx, "", "alice"); err == nil || !exists(s4) {
		t.Error("DeleteSessionsBySubject with an empty issuer was accepted")
	}
}

func TestPurgeExpired(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	now := t0.Add(absolute)
	fresh := testSession(t, now.Add(-time.Minute))
	idleOut := testSession(t, now.Add(-idle-time.Second))
	old := testSession(t, t0.Add(-time.Second)) // past absolute expiry, but active
	old.LastSeen = now.Add(-time.Minute)
	for _, s := range []*Session{fresh, idleOut, old} {
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.PurgeExpired(ctx, now, idle); err != nil || n != 2 {
		t.Fatalf("PurgeExpired = %d, %v; want 2", n, err)
	}
	if _, err := st.GetSession(ctx, fresh.ID, now, idle); err != nil {
		t.Errorf("fresh session purged: %v", err)
	}
	if n, err := st.PurgeExpired(ctx, now, idle); err != nil || n != 0 {
		t.Errorf("second PurgeExpired = %d, %v; want 0", n, err)
	}
	if _, err := st.PurgeExpired(ctx, now, 0); err == nil {
		t.Error("PurgeExpired with zero idle timeout was accepted")
	}
}
