package login

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/store"
)

// Authenticate finds the session of a request. An expired session is
// ended and audited; ok is false then, and when there is no session.
func (s *Service) Authenticate(r *http.Request) (*store.Session, bool, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, false, nil
	}
	now := s.Now()
	sess, err := s.Store.GetSession(r.Context(), c.Value, now, s.Site.Session.IdleTimeout.D())
	var exp *store.ExpiredError
	switch {
	case errors.As(err, &exp):
		s.audit(r, audit.Event{Type: "session_expired", Outcome: audit.Success, Reason: exp.Kind,
			Actor: exp.Session.UserKey, Kommune: exp.Session.Kommune})
		return nil, false, nil
	case errors.Is(err, store.ErrNotFound):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	if err := s.Store.TouchSession(r.Context(), c.Value, now); err != nil {
		s.Logger.Warn("touching session failed", "error", err)
	}
	return sess, true, nil
}

// CheckCSRF reports whether a state-changing request carries the
// session's CSRF token: in the X-CSRF-Token header, the "csrf" field of a
// urlencoded form, or the "csrf" query parameter of a multipart form (whose
// body a check must not consume). Cross-site requests are refused outright.
func CheckCSRF(r *http.Request, sess *store.Session) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	token := r.Header.Get("X-CSRF-Token")
	if token == "" {
		ct := r.Header.Get("Content-Type")
		switch {
		case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
			token = r.PostFormValue("csrf")
		case strings.HasPrefix(ct, "multipart/form-data"):
			token = r.URL.Query().Get("csrf")
		}
	}
	return sess != nil && token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) == 1
}

// Logout ends the request's session and returns where the browser goes
// next: the provider's end_session_endpoint when it has one, else the
// hub's signed-out page. The caller has checked CSRF.
func (s *Service) Logout(w http.ResponseWriter, r *http.Request, sess *store.Session) string {
	signedOut := (&url.URL{Scheme: "https", Host: s.host(r), Path: "/auth/signed-out"}).String()
	clearCookie(w, SessionCookie)
	if sess == nil {
		return "/auth/signed-out"
	}
	if err := s.Store.DeleteSession(r.Context(), sessionID(r)); err != nil {
		s.Logger.Error("deleting session failed", "error", err)
	}
	s.audit(r, audit.Event{Type: "logout", Outcome: audit.Success, Actor: sess.UserKey, Kommune: sess.Kommune})
	p := s.byIssuer[sess.Issuer]
	if p == nil {
		return "/auth/signed-out"
	}
	d, err := p.discover(r.Context())
	if err != nil || d.endSession == "" {
		return "/auth/signed-out"
	}
	u, err := url.Parse(d.endSession)
	if err != nil {
		return "/auth/signed-out"
	}
	q := u.Query()
	q.Set("id_token_hint", sess.IDToken)
	q.Set("client_id", p.Config.ClientID)
	q.Set("post_logout_redirect_uri", signedOut)
	u.RawQuery = q.Encode()
	return u.String()
}

func sessionID(r *http.Request) string {
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value
	}
	return ""
}
