package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrExpired means a session or login state was found but is past its
// time; it has been deleted. For sessions the error is an *ExpiredError.
var ErrExpired = errors.New("store: expired")

// Kinds of session expiry, in ExpiredError.Kind.
const (
	ExpiredIdle     = "idle"     // no request for longer than the idle timeout
	ExpiredAbsolute = "absolute" // past AbsoluteExpiry, however active
)

// TouchInterval is the least time between two LastSeen updates of a
// session. Writing on every request would fsync on every page view; the
// cost is that the idle timeout may strike up to this much early.
const TouchInterval = time.Minute

// ExpiredError reports a session that GetSession found expired and deleted.
// It carries the session so the caller can write an audit record of who was
// logged out. errors.Is(err, ErrExpired) holds.
type ExpiredError struct {
	Kind    string // ExpiredIdle or ExpiredAbsolute
	Session *Session
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("store: session expired (%s timeout)", e.Kind)
}

// Is makes errors.Is(err, ErrExpired) true.
func (e *ExpiredError) Is(target error) bool { return target == ErrExpired }

// Session is a logged-in user, kept on the server; the browser holds only ID.
type Session struct {
	ID             string // opaque, 256-bit random, base64url; only sha256(ID) is stored
	UserKey        string // e.g. "851:sub" or "tid:oid"
	Issuer         string
	Subject        string
	SID            string // OIDC sid, if the IdP sent one (for back-channel logout)
	Kommune        int
	Roles          []string
	Name           string
	Email          string
	NSIS           string
	CSRF           string
	IDToken        string // sent as id_token_hint at end_session
	CreatedAt      time.Time
	LastSeen       time.Time
	AbsoluteExpiry time.Time
}

// NewSessionID returns a new session id: 32 bytes from crypto/rand,
// base64url without padding (43 characters). Use it also for other
// unguessable tokens such as OAuth state and nonce.
func NewSessionID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("store: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashID returns the key a session id is stored under. ok is false for
// anything NewSessionID cannot have made, which then cannot be a session;
// so cookie junk never reaches the database.
func hashID(id string) (key []byte, ok bool) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(id)
	if err != nil || len(raw) != 32 {
		return nil, false
	}
	return hashToken(id), true
}

// hashToken is how secrets handed to browsers are stored: a session id or
// OAuth state is 256 bits of randomness, so a plain SHA-256 is enough to
// make a copy of the database useless for logging in.
func hashToken(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// CreateSession stores s. If s.ID is empty a new id is made and set on s;
// a zero LastSeen becomes CreatedAt.
func (st *Store) CreateSession(ctx context.Context, s *Session) error {
	if s.ID == "" {
		id, err := NewSessionID()
		if err != nil {
			return err
		}
		s.ID = id
	}
	key, ok := hashID(s.ID)
	switch {
	case !ok:
		return errors.New("store: create session: id is not from NewSessionID")
	case s.UserKey == "" || s.Issuer == "" || s.Subject == "":
		return errors.New("store: create session: user key, issuer and subject are required")
	case s.CSRF == "":
		return errors.New("store: create session: no CSRF token")
	case s.CreatedAt.IsZero() || !s.AbsoluteExpiry.After(s.CreatedAt):
		return errors.New("store: create session: CreatedAt must be set and AbsoluteExpiry after it")
	}
	if s.LastSeen.IsZero() {
		s.LastSeen = s.CreatedAt
	}
	roles := s.Roles
	if roles == nil {
		roles = []string{}
	}
	rolesJSON, err := json.Marshal(roles)
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	_, err = st.db.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_key, issuer, subject, sid, kommune,
		roles, name, email, nsis, csrf, id_token, created_at, last_seen, absolute_expiry)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		key, s.UserKey, s.Issuer, s.Subject, s.SID, s.Kommune,
		string(rolesJSON), s.Name, s.Email, s.NSIS, s.CSRF, s.IDToken,
		nanos(s.CreatedAt), nanos(s.LastSeen), nanos(s.AbsoluteExpiry))
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// GetSession returns the session with the given id as of now. A session
// idle for longer than idle, or past its absolute expiry, is deleted and
// reported as an *ExpiredError (errors.Is ErrExpired); an unknown or
// malformed id gives ErrNotFound. idle must be positive: a missing idle
// timeout is a configuration error, not "no timeout".
func (st *Store) GetSession(ctx context.Context, id string, now time.Time, idle time.Duration) (*Session, error) {
	if idle <= 0 {
		return nil, fmt.Errorf("store: get session: idle timeout %v is not positive", idle)
	}
	key, ok := hashID(id)
	if !ok {
		return nil, ErrNotFound
	}
	s := &Session{ID: id}
	var roles string
	var created, lastSeen, absolute int64
	err := st.db.QueryRowContext(ctx, `SELECT user_key, issuer, subject, sid, kommune, roles, name, email,
		nsis, csrf, id_token, created_at, last_seen, absolute_expiry FROM sessions WHERE id_hash = ?`, key).
		Scan(&s.UserKey, &s.Issuer, &s.Subject, &s.SID, &s.Kommune, &roles, &s.Name, &s.Email,
			&s.NSIS, &s.CSRF, &s.IDToken, &created, &lastSeen, &absolute)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: get session: %w", err)
	}
	if err := json.Unmarshal([]byte(roles), &s.Roles); err != nil {
		return nil, fmt.Errorf("store: get session: roles: %w", err)
	}
	s.CreatedAt, s.LastSeen, s.AbsoluteExpiry = fromNanos(created), fromNanos(lastSeen), fromNanos(absolute)

	kind := ""
	switch {
	case now.After(s.AbsoluteExpiry):
		kind = ExpiredAbsolute
	case now.Sub(s.LastSeen) > idle:
		kind = ExpiredIdle
	}
	if kind == "" {
		return s, nil
	}
	if _, err := st.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, key); err != nil {
		return nil, fmt.Errorf("store: delete expired session: %w", err)
	}
	return nil, &ExpiredError{Kind: kind, Session: s}
}

// TouchSession records activity at now, at most once per TouchInterval (so
// most requests cost no write). Call it after GetSession accepted the
// session; it does not check expiry. An unknown id gives ErrNotFound.
func (st *Store) TouchSession(ctx context.Context, id string, now time.Time) error {
	key, ok := hashID(id)
	if !ok {
		return ErrNotFound
	}
	res, err := st.db.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE id_hash = ? AND last_seen <= ?`,
		nanos(now), key, nanos(now.Add(-TouchInterval)))
	if err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	var one int
	err = st.db.QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE id_hash = ?`, key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil // seen recently: throttled
}

// DeleteSession removes a session (logout). Deleting one that is already
// gone is not an error, so a repeated logout succeeds.
func (st *Store) DeleteSession(ctx context.Context, id string) error {
	key, ok := hashID(id)
	if !ok {
		return nil
	}
	if _, err := st.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, key); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteSessionsBySID removes the sessions of one IdP session (OIDC
// back-channel logout with a sid) and returns how many there were.
func (st *Store) DeleteSessionsBySID(ctx context.Context, issuer, sid string) (int, error) {
	if issuer == "" || sid == "" {
		// An empty sid would match every session whose IdP sent none.
		return 0, errors.New("store: delete sessions by sid: issuer and sid are required")
	}
	return st.deleteWhere(ctx, "by sid", `issuer = ? AND sid = ?`, issuer, sid)
}

// DeleteSessionsBySubject removes all sessions of one user at one IdP
// (back-channel logout with only sub, or an administrator's revocation)
// and returns how many there were.
func (st *Store) DeleteSessionsBySubject(ctx context.Context, issuer, sub string) (int, error) {
	if issuer == "" || sub == "" {
		return 0, errors.New("store: delete sessions by subject: issuer and subject are required")
	}
	return st.deleteWhere(ctx, "by subject", `issuer = ? AND subject = ?`, issuer, sub)
}

// PurgeExpired removes every session that GetSession would report expired
// at now with this idle timeout, and returns how many it removed. Run it
// periodically so abandoned sessions do not keep personal data around.
func (st *Store) PurgeExpired(ctx context.Context, now time.Time, idle time.Duration) (int, error) {
	if idle <= 0 {
		return 0, fmt.Errorf("store: purge sessions: idle timeout %v is not positive", idle)
	}
	return st.deleteWhere(ctx, "expired", `absolute_expiry < ? OR last_seen < ?`,
		nanos(now), nanos(now.Add(-idle)))
}

// ActiveSessions counts the sessions GetSession would accept at now with
// this idle timeout: the logged-in users, for the hub's metrics.
func (st *Store) ActiveSessions(ctx context.Context, now time.Time, idle time.Duration) (int64, error) {
	var n int64
	err := st.db.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE absolute_expiry >= ? AND last_seen >= ?`,
		nanos(now), nanos(now.Add(-idle))).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count sessions: %w", err)
	}
	return n, nil
}

func (st *Store) deleteWhere(ctx context.Context, what, where string, args ...any) (int, error) {
	res, err := st.db.ExecContext(ctx, `DELETE FROM sessions WHERE `+where, args...)
	if err != nil {
		return 0, fmt.Errorf("store: delete sessions %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete sessions %s: %w", what, err)
	}
	return int(n), nil
}
