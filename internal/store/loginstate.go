package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// LoginState is what the hub remembers between sending a browser to an IdP
// and the browser coming back with a code. It lives in the database, not in
// process memory, so the callback may reach another hub process, and it is
// taken exactly once, so a state cannot be replayed. The store does not
// check Binding: the callback handler compares it with the cookie it got
// (crypto/subtle), as only it has the cookie.
type LoginState struct {
	State     string // OAuth state parameter; only its sha256 is stored
	Nonce     string
	Verifier  string // PKCE code verifier
	Kommune   int
	Issuer    string
	ReturnTo  string // relative URL to go to after login
	Binding   string // sha256 of a value in a browser-bound cookie, so a state cannot be used from another browser
	CreatedAt time.Time
	ExpiresAt time.Time
}

// PutLoginState stores a login state. Nonce and verifier are stored as
// they are: they are needed in clear later and live only minutes.
func (st *Store) PutLoginState(ctx context.Context, ls *LoginState) error {
	switch {
	case ls.State == "":
		return errors.New("store: put login state: no state")
	case ls.Issuer == "":
		return errors.New("store: put login state: no issuer")
	case ls.Binding == "":
		return errors.New("store: put login state: no browser binding")
	case ls.CreatedAt.IsZero() || !ls.ExpiresAt.After(ls.CreatedAt):
		return errors.New("store: put login state: CreatedAt must be set and ExpiresAt after it")
	}
	_, err := st.db.ExecContext(ctx, `INSERT INTO login_states (state_hash, nonce, verifier, kommune, issuer,
		return_to, binding, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		hashToken(ls.State), ls.Nonce, ls.Verifier, ls.Kommune, ls.Issuer,
		ls.ReturnTo, ls.Binding, nanos(ls.CreatedAt), nanos(ls.ExpiresAt))
	if err != nil {
		return fmt.Errorf("store: put login state: %w", err)
	}
	return nil
}

// TakeLoginState removes the login state and returns it, in one statement,
// so of several concurrent callers (or hub processes) exactly one gets it
// and the others get ErrNotFound. A state past ExpiresAt at now is removed
// all the same and gives ErrExpired.
func (st *Store) TakeLoginState(ctx context.Context, state string, now time.Time) (*LoginState, error) {
	if state == "" {
		return nil, ErrNotFound
	}
	ls := &LoginState{State: state}
	var created, expires int64
	err := st.db.QueryRowContext(ctx, `DELETE FROM login_states WHERE state_hash = ?
		RETURNING nonce, verifier, kommune, issuer, return_to, binding, created_at, expires_at`,
		hashToken(state)).
		Scan(&ls.Nonce, &ls.Verifier, &ls.Kommune, &ls.Issuer, &ls.ReturnTo, &ls.Binding, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: take login state: %w", err)
	}
	ls.CreatedAt, ls.ExpiresAt = fromNanos(created), fromNanos(expires)
	if now.After(ls.ExpiresAt) {
		return nil, ErrExpired
	}
	return ls, nil
}

// PurgeLoginStates removes login states that expired before now (logins
// that were started and abandoned) and returns how many.
func (st *Store) PurgeLoginStates(ctx context.Context, now time.Time) (int, error) {
	res, err := st.db.ExecContext(ctx, `DELETE FROM login_states WHERE expires_at < ?`, nanos(now))
	if err != nil {
		return 0, fmt.Errorf("store: purge login states: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: purge login states: %w", err)
	}
	return int(n), nil
}
