package login

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"io"
	"mime"
	"mime/multipart"
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

// CheckCSRF reports whether a state-changing request is the session's
// own: it comes from the hub's origin (SameOrigin) and carries the
// session's CSRF token in the X-CSRF-Token header or the "csrf" field of
// a form (for a multipart form, its first part). A token is never read
// from the URL, so no page ever needs to put one there.
func (s *Service) CheckCSRF(r *http.Request, sess *store.Session) bool {
	if sess == nil || !SameOrigin(r, Origin(s.Site, r)) {
		return false
	}
	token := r.Header.Get("X-CSRF-Token")
	if token == "" {
		ct := r.Header.Get("Content-Type")
		switch {
		case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
			token = r.PostFormValue("csrf")
		case strings.HasPrefix(ct, "multipart/form-data"):
			token = firstPartCSRF(r)
		}
	}
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) == 1
}

// SameOrigin reports whether a browser says a request comes from origin.
// Sec-Fetch-Site, when sent, must be "same-origin" (or "none", a request
// the user started); Origin, when sent, must be origin, and "null" only
// passes when Sec-Fetch-Site vouches for the request (the hub's
// Referrer-Policy no-referrer makes browsers send "null" on its own
// form posts); without Origin, a Referer must be on origin. A request
// with none of the three is not from a browser page (a script's client
// or a very old browser), and needs its token all the same.
func SameOrigin(r *http.Request, origin string) bool {
	fetchSite := r.Header.Get("Sec-Fetch-Site")
	if fetchSite != "" && fetchSite != "same-origin" && fetchSite != "none" {
		return false
	}
	if o, ok := r.Header["Origin"]; ok {
		switch {
		case len(o) != 1:
			return false
		case o[0] == "null":
			return fetchSite != ""
		default:
			return o[0] == origin
		}
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && u.Scheme+"://"+u.Host == origin
	}
	return true
}

// maxCSRFPart bounds what is read of a multipart body to find its first
// part, the CSRF field; the bytes read are put back for the handler.
const maxCSRFPart = 8 << 10

// firstPartCSRF reads the "csrf" field that must open a multipart form
// and restores the body, so the handler still streams the whole form.
func firstPartCSRF(r *http.Request) string {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || params["boundary"] == "" || r.Body == nil {
		return ""
	}
	var read bytes.Buffer
	mr := multipart.NewReader(io.TeeReader(io.LimitReader(r.Body, maxCSRFPart), &read), params["boundary"])
	var token string
	if part, err := mr.NextPart(); err == nil && part.FormName() == "csrf" && part.FileName() == "" {
		b, err := io.ReadAll(io.LimitReader(part, 256))
		if err == nil {
			token = strings.TrimSpace(string(b))
		}
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(read.Bytes()), r.Body), r.Body}
	return token
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
