package login

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/hubkit/hubkit/internal/audit"
)

const logoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutTokenMaxAge bounds how old a logout token's iat may be.
const logoutTokenMaxAge = 5 * time.Minute

// BackchannelLogout ends the sessions named by an OIDC back-channel logout
// token (OpenID Connect Back-Channel Logout 1.0), after verifying it with
// the issuing provider's keys. It returns how many sessions ended.
func (s *Service) BackchannelLogout(ctx context.Context, ip, raw string) (int, error) {
	iss, err := unverifiedIssuer(raw)
	if err != nil {
		return 0, err
	}
	p := s.byIssuer[iss]
	if p == nil {
		return 0, fmt.Errorf("logout token from unknown issuer %q", iss)
	}
	d, err := p.discover(ctx)
	if err != nil {
		return 0, err
	}
	tok, err := d.logoutVer.Verify(oidc.ClientContext(ctx, p.client), raw)
	if err != nil {
		return 0, fmt.Errorf("logout token: %w", err)
	}
	var c struct {
		Sid    string                     `json:"sid"`
		Nonce  *string                    `json:"nonce"`
		Jti    string                     `json:"jti"`
		Iat    int64                      `json:"iat"`
		Exp    int64                      `json:"exp"`
		Events map[string]json.RawMessage `json:"events"`
	}
	if err := tok.Claims(&c); err != nil {
		return 0, fmt.Errorf("logout token claims: %w", err)
	}
	var all map[string]any
	if err := tok.Claims(&all); err != nil {
		return 0, fmt.Errorf("logout token claims: %w", err)
	}
	if ref := audienceRefusal(p.Config, tok.Audience, all); ref != nil {
		return 0, fmt.Errorf("logout token: %s (aud %q)", ref.Reason, tok.Audience)
	}
	now := s.Now()
	switch {
	case c.Events[logoutEvent] == nil:
		return 0, errors.New("logout token lacks the back-channel logout event")
	case c.Nonce != nil:
		return 0, errors.New("logout token must not carry a nonce")
	case tok.Subject == "" && c.Sid == "":
		return 0, errors.New("logout token names neither sub nor sid")
	case c.Jti == "":
		return 0, errors.New("logout token has no jti")
	case c.Iat == 0 || now.Sub(time.Unix(c.Iat, 0)) > logoutTokenMaxAge || time.Unix(c.Iat, 0).Sub(now) > time.Minute:
		return 0, errors.New("logout token iat is missing or not recent")
	case c.Exp != 0 && now.After(time.Unix(c.Exp, 0)):
		return 0, errors.New("logout token expired")
	case !s.jtis.first(iss+"|"+c.Jti, now):
		return 0, errors.New("logout token replayed")
	}
	var n int
	if c.Sid != "" {
		n, err = s.Store.DeleteSessionsBySID(ctx, iss, c.Sid)
	} else {
		n, err = s.Store.DeleteSessionsBySubject(ctx, iss, tok.Subject)
	}
	if err != nil {
		return 0, err
	}
	if _, err := s.Audit.Append(ctx, audit.Event{Type: "logout_backchannel", Outcome: audit.Success, IP: ip,
		Kommune: p.Config.KommuneCode, Detail: map[string]string{"sessions": fmt.Sprint(n)}}); err != nil {
		s.Logger.Error("audit append failed", "error", err)
	}
	return n, nil
}

func unverifiedIssuer(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("logout token is not a signed JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", errors.New("logout token payload is not base64url")
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Iss == "" {
		return "", errors.New("logout token has no issuer")
	}
	return c.Iss, nil
}

// seenSet remembers logout-token ids for replay detection, for longer than
// a token is accepted.
type seenSet struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (s *seenSet) first(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]time.Time{}
	}
	for k, t := range s.seen {
		if now.Sub(t) > 2*logoutTokenMaxAge {
			delete(s.seen, k)
		}
	}
	if _, dup := s.seen[key]; dup {
		return false
	}
	s.seen[key] = now
	return true
}
