package devidp

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Lifetimes of what the provider hands out.
const (
	authRequestTTL = 10 * time.Minute // from /authorize to a completed login
	codeTTL        = 2 * time.Minute  // from login to the code exchange
	accessTokenTTL = 15 * time.Minute
	idTokenTTL     = 10 * time.Minute
	sessionTTL     = 12 * time.Hour
	spentCodeTTL   = 10 * time.Minute // how long a redeemed code is remembered, to catch replays
)

// storage is the in-memory op.Storage shared by all demo municipalities'
// providers. Everything it holds is bound to an issuer, and a provider only
// sees what belongs to its own issuer (op.IssuerFromContext), so a code or
// token of one municipality is worthless at another.
type storage struct {
	key     signingKey
	clients map[string]Client

	mu           sync.Mutex
	issuers      map[string]bool
	authRequests map[string]*authRequest
	codes        map[string]string     // code → auth request id
	spentCodes   map[string]*spentCode // redeemed code → what it yielded
	tokens       map[string]*accessToken
	sessions     map[string]*session
}

// authRequest is an authorization request from /authorize until its code is
// redeemed.
type authRequest struct {
	id           string
	issuer       string
	created      time.Time
	clientID     string
	redirectURI  string
	state        string
	nonce        string
	scopes       []string
	responseType oidc.ResponseType
	responseMode oidc.ResponseMode
	challenge    *oidc.CodeChallenge
	prompt       []string
	loginHint    string

	// Set by a successful login.
	done     bool
	user     User
	subject  string
	authTime time.Time
	sid      string
	code     string // the one code issued for this request
	codeTime time.Time
}

type accessToken struct {
	id, issuer, subject, clientID, sid, authRequestID string
	scopes                                            []string
	user                                              User
	authTime, expires                                 time.Time
}

// session is a login at a municipality's provider, named by the ID token's
// sid claim; RP-initiated logout ends it and its access tokens.
type session struct {
	issuer, subject, clientID string
	created                   time.Time
}

type spentCode struct {
	issuer, authRequestID string
	at                    time.Time
}

func newStorage(key *rsa.PrivateKey, clients []Client) (*storage, error) {
	jwk := jose.JSONWebKey{Key: &key.PublicKey}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("devidp: signing key: %w", err)
	}
	s := &storage{
		key:          signingKey{id: base64.RawURLEncoding.EncodeToString(tp[:12]), key: key},
		clients:      map[string]Client{},
		issuers:      map[string]bool{},
		authRequests: map[string]*authRequest{},
		codes:        map[string]string{},
		spentCodes:   map[string]*spentCode{},
		tokens:       map[string]*accessToken{},
		sessions:     map[string]*session{},
	}
	for _, c := range clients {
		s.clients[c.ID] = c
	}
	return s, nil
}

// addIssuer registers a demo municipality's issuer.
func (s *storage) addIssuer(issuer string) { s.issuers[issuer] = true }

// subject is a user's stable subject identifier at their municipality's
// issuer. It contains no ':' because the library's opaque access tokens
// are "<token id>:<subject>".
func subjectOf(u User) string { return strconv.Itoa(u.Kommune) + "." + u.Username }

func randomID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

var errNotFound = errors.New("not found")

// issuer returns the issuer of the request's provider.
func issuerOf(ctx context.Context) string { return op.IssuerFromContext(ctx) }

// sweep drops what has expired. Callers hold s.mu.
func (s *storage) sweep(now time.Time) {
	for id, r := range s.authRequests {
		if now.Sub(r.created) > authRequestTTL+codeTTL {
			delete(s.authRequests, id)
			if r.code != "" {
				delete(s.codes, r.code)
			}
		}
	}
	for c, sc := range s.spentCodes {
		if now.Sub(sc.at) > spentCodeTTL {
			delete(s.spentCodes, c)
		}
	}
	for id, t := range s.tokens {
		if now.After(t.expires) {
			delete(s.tokens, id)
		}
	}
	for id, se := range s.sessions {
		if now.Sub(se.created) > sessionTTL {
			delete(s.sessions, id)
		}
	}
}

// --- op.AuthStorage ---

// CreateAuthRequest stores a validated authorization request. On top of
// the library's checks it requires PKCE with S256 and the query response
// mode: hubkit's hubs always use both, and anything else is a mistake.
func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	iss := issuerOf(ctx)
	if req.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method=S256")
	}
	if req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery {
		return nil, oidc.ErrInvalidRequest().WithDescription("only response_mode=query is supported")
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.issuers[iss] {
		return nil, fmt.Errorf("unknown issuer %q", iss)
	}
	s.sweep(now)
	r := &authRequest{
		id:           randomID(),
		issuer:       iss,
		created:      now,
		clientID:     req.ClientID,
		redirectURI:  req.RedirectURI,
		state:        req.State,
		nonce:        req.Nonce,
		scopes:       slices.Clone([]string(req.Scopes)),
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
		challenge:    &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod},
		prompt:       slices.Clone([]string(req.Prompt)),
		loginHint:    req.LoginHint,
	}
	s.authRequests[r.id] = r
	return r.copy(), nil
}

// authRequest returns a copy of an auth request of the context's issuer
// that is still waiting for, or has just completed, its login.
func (s *storage) authRequest(ctx context.Context, id string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.authRequests[id]
	if !ok || r.issuer != issuerOf(ctx) || time.Since(r.created) > authRequestTTL+codeTTL {
		return nil, fmt.Errorf("auth request: %w", errNotFound)
	}
	return r.copy(), nil
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	r, err := s.authRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// AuthRequestByCode returns the request a code was issued for. A code that
// was already redeemed is a replay: the tokens it yielded are revoked
// (RFC 6749 section 4.1.2).
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	iss := issuerOf(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.spentCodes[code]; ok && sc.issuer == iss {
		for id, t := range s.tokens {
			if t.authRequestID == sc.authRequestID {
				delete(s.tokens, id)
			}
		}
		return nil, errors.New("code already redeemed; its tokens are revoked")
	}
	id, ok := s.codes[code]
	if !ok {
		return nil, fmt.Errorf("code: %w", errNotFound)
	}
	r, ok := s.authRequests[id]
	if !ok || r.issuer != iss {
		return nil, fmt.Errorf("code: %w", errNotFound)
	}
	if time.Since(r.codeTime) > codeTTL {
		return nil, errors.New("code expired")
	}
	return r.copy(), nil
}

// SaveAuthCode records the code for a completed login; one code per login.
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.authRequests[id]
	if !ok || r.issuer != issuerOf(ctx) {
		return fmt.Errorf("auth request: %w", errNotFound)
	}
	if !r.done {
		return oidc.ErrInteractionRequired().WithDescription("the user has not logged in")
	}
	if r.code != "" {
		return oidc.ErrInvalidRequest().WithDescription("this login was already completed; start again")
	}
	r.code, r.codeTime = code, time.Now()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest forgets a request once its code is redeemed, keeping
// the code for a while to recognise replays.
func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.authRequests[id]
	if !ok {
		return nil
	}
	delete(s.authRequests, id)
	if r.code != "" {
		delete(s.codes, r.code)
		s.spentCodes[r.code] = &spentCode{issuer: r.issuer, authRequestID: id, at: time.Now()}
	}
	return nil
}

// authenticate completes the login of an auth request as user u and opens
// a session for it.
func (s *storage) authenticate(ctx context.Context, id string, u User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.authRequests[id]
	if !ok || r.issuer != issuerOf(ctx) || time.Since(r.created) > authRequestTTL {
		return fmt.Errorf("auth request: %w", errNotFound)
	}
	if r.done {
		return errors.New("auth request already completed")
	}
	now := time.Now()
	r.done, r.user, r.subject, r.authTime, r.sid = true, u, subjectOf(u), now, randomID()
	s.sessions[r.sid] = &session{issuer: r.issuer, subject: r.subject, clientID: r.clientID, created: now}
	return nil
}

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	r, ok := req.(*authRequest)
	if !ok {
		return "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("only the authorization code flow is supported")
	}
	t := &accessToken{
		id: randomID(), issuer: issuerOf(ctx), subject: r.subject, clientID: r.clientID, sid: r.sid,
		authRequestID: r.id, scopes: slices.Clone(r.scopes), user: r.user, authTime: r.authTime,
		expires: time.Now().Add(accessTokenTTL),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[r.sid]; !ok {
		return "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("the login session has ended")
	}
	s.tokens[t.id] = t
	return t.id, t.expires, nil
}

var errNoRefresh = oidc.ErrUnsupportedGrantType().WithDescription("refresh tokens are not supported")

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errNoRefresh
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, errNoRefresh
}

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// TerminateSession ends every session of a user at the context's issuer
// with a client, and revokes their access tokens.
func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	iss := issuerOf(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	for sid, se := range s.sessions {
		if se.issuer == iss && se.subject == userID && (clientID == "" || se.clientID == clientID) {
			s.endSessionLocked(sid)
		}
	}
	return nil
}

// TerminateSessionFromRequest ends the session named by the id_token_hint's
// sid (or, without one, all the user's sessions with the client) and
// returns the validated post-logout redirect.
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	if c := req.IDTokenHintClaims; c != nil && c.SessionID != "" {
		s.mu.Lock()
		if se, ok := s.sessions[c.SessionID]; ok && se.issuer == issuerOf(ctx) && se.subject == c.Subject {
			s.endSessionLocked(c.SessionID)
		}
		s.mu.Unlock()
		return req.RedirectURI, nil
	}
	if req.UserID != "" {
		if err := s.TerminateSession(ctx, req.UserID, req.ClientID); err != nil {
			return "", err
		}
	}
	return req.RedirectURI, nil
}

func (s *storage) endSessionLocked(sid string) {
	delete(s.sessions, sid)
	for id, t := range s.tokens {
		if t.sid == sid {
			delete(s.tokens, id)
		}
	}
}

// RevokeToken revokes an access token (RFC 7009). Unknown tokens and
// refresh tokens (never issued) are answered with success, as the RFC asks.
func (s *storage) RevokeToken(ctx context.Context, tokenOrTokenID, userID, clientID string) *oidc.Error {
	if userID == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tokenOrTokenID]
	if !ok || t.issuer != issuerOf(ctx) {
		return nil
	}
	if t.clientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
	}
	delete(s.tokens, tokenOrTokenID)
	return nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

// --- op.OPStorage ---

// GetClientByClientID returns the client bound to the context's issuer, so
// that its login URL is that municipality's login page.
func (s *storage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	c, ok := s.clients[clientID]
	if !ok {
		return nil, fmt.Errorf("client %q is not registered at the dev identity provider", clientID)
	}
	return &client{Client: c, issuer: issuerOf(ctx)}, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, clientSecret string) error {
	c, ok := s.clients[clientID]
	if !ok {
		return fmt.Errorf("client %q is not registered", clientID)
	}
	if subtle.ConstantTimeCompare([]byte(c.Secret), []byte(clientSecret)) != 1 {
		return errors.New("wrong client secret")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in the library; the ID token's
// claims come from SetUserinfoFromRequest.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token: the user's claims, the roles
// and the NSIS level of assurance, and the session id.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	r, ok := req.(*authRequest)
	if !ok || !r.done {
		return errors.New("ID token for an unknown login")
	}
	setUserinfo(info, r.user, r.subject, scopes)
	info.AppendClaims("sid", r.sid)
	return nil
}

func (s *storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	t, err := s.token(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	setUserinfo(info, t.user, t.subject, t.scopes)
	return nil
}

func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.token(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	if t.clientID != clientID {
		return errors.New("token was not issued to this client")
	}
	info := new(oidc.UserInfo)
	setUserinfo(info, t.user, t.subject, t.scopes)
	resp.SetUserInfo(info)
	resp.Scope = t.scopes
	resp.ClientID = t.clientID
	resp.Audience = []string{t.clientID}
	resp.Issuer = t.issuer
	resp.Expiration = oidc.FromTime(t.expires)
	resp.AuthTime = oidc.FromTime(t.authTime)
	resp.TokenType = oidc.BearerToken
	return nil
}

// token returns a live access token of the context's issuer.
func (s *storage) token(ctx context.Context, tokenID, subject string) (*accessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tokenID]
	if !ok || t.issuer != issuerOf(ctx) || t.subject != subject || time.Now().After(t.expires) {
		return nil, errors.New("access token invalid or expired")
	}
	return t, nil
}

func setUserinfo(info *oidc.UserInfo, u User, sub string, scopes []string) {
	info.Subject = sub
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.Name = u.Name
		info.PreferredUsername = u.Username
	}
	if slices.Contains(scopes, oidc.ScopeEmail) {
		info.Email = u.Email
		info.EmailVerified = true
	}
	roles := slices.Clone(u.Roles)
	if roles == nil {
		roles = []string{}
	}
	info.AppendClaims("roles", roles)
	info.AppendClaims(LoAClaim, u.LoA)
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

var errNoJWTProfile = errors.New("JWT profile grants are not supported by the dev identity provider")

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNoJWTProfile
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNoJWTProfile
}

func (s *storage) Health(context.Context) error { return nil }

// Interface guards.
var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
	_ op.AuthRequest                    = (*authRequest)(nil)
)

// --- auth request ---

func (r *authRequest) copy() *authRequest {
	c := *r
	c.scopes = slices.Clone(r.scopes)
	c.prompt = slices.Clone(r.prompt)
	if r.challenge != nil {
		ch := *r.challenge
		c.challenge = &ch
	}
	return &c
}

func (r *authRequest) GetID() string                         { return r.id }
func (r *authRequest) GetACR() string                        { return "" }
func (r *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (r *authRequest) GetAudience() []string                 { return []string{r.clientID} }
func (r *authRequest) GetAuthTime() time.Time                { return r.authTime }
func (r *authRequest) GetClientID() string                   { return r.clientID }
func (r *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return r.challenge }
func (r *authRequest) GetNonce() string                      { return r.nonce }
func (r *authRequest) GetRedirectURI() string                { return r.redirectURI }
func (r *authRequest) GetResponseType() oidc.ResponseType    { return r.responseType }
func (r *authRequest) GetResponseMode() oidc.ResponseMode    { return r.responseMode }
func (r *authRequest) GetScopes() []string                   { return r.scopes }
func (r *authRequest) GetState() string                      { return r.state }
func (r *authRequest) GetSubject() string                    { return r.subject }
func (r *authRequest) Done() bool                            { return r.done }

func (r *authRequest) promptNone() bool { return slices.Contains(r.prompt, oidc.PromptNone) }

// --- keys ---

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct{ signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

// --- client ---

// client is a registered Client as seen by one municipality's provider.
type client struct {
	Client
	issuer string
}

func (c *client) GetID() string                       { return c.ID }
func (c *client) RedirectURIs() []string              { return c.Client.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string    { return c.Client.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *client) LoginURL(id string) string {
	return c.issuer + "/login?id=" + url.QueryEscape(id)
}
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return idTokenTTL }
func (c *client) DevMode() bool                       { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(string) bool { return false }

// IDTokenUserinfoClaimsAssertion puts the profile and email claims into the
// ID token, where the hub reads them.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

var _ op.Client = (*client)(nil)
