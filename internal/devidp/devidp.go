package devidp

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/hubkit/hubkit/internal/kommune"
)

// Config configures the development identity provider.
type Config struct {
	// BaseURL is where the provider is served, without a path, e.g.
	// https://idp.hub.localhost:8443. Each demo municipality is the issuer
	// Issuer(BaseURL, code). Only loopback hosts are accepted; plain http is
	// allowed for tests.
	BaseURL string
	// Clients are the hubs that may log users in. Every client may use every
	// demo municipality's issuer, as a hub talks to all its members' IdPs.
	Clients []Client
	// Kommuner are the demo municipalities; their users are Users(code).
	Kommuner []int
	// SigningKey signs ID tokens (RS256). A fresh RSA-2048 key is generated
	// in memory when nil, so tokens do not survive a restart.
	SigningKey *rsa.PrivateKey
}

// Client is a registered relying party: a confidential web client using the
// authorization code flow with PKCE (S256), authenticated with
// client_secret_basic or client_secret_post.
type Client struct {
	ID                     string
	Secret                 string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
}

// localOnly starts the error with which the provider refuses a URL whose
// host is not loopback.
const localOnly = "dev identity provider only serves localhost"

// CheckLocalURL reports an error unless raw is an absolute http(s) URL whose
// host is localhost, a *.localhost name or a loopback address: the
// development provider, with its public password, must never face a network.
func CheckLocalURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be https (or http in tests)", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: host is missing", raw)
	}
	if !IsLocalHost(u.Hostname()) {
		return fmt.Errorf("%s: %q is not localhost, *.localhost or a loopback address", localOnly, u.Hostname())
	}
	return nil
}

// IsLocalHost reports whether host is localhost, a *.localhost name or a
// loopback IP address.
func IsLocalHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// normalise checks the configuration and returns its base URL (no trailing
// slash) and the sorted, unique municipality codes.
func (cfg *Config) normalise() (*url.URL, []int, error) {
	if cfg.BaseURL == "" {
		return nil, nil, errors.New("devidp: BaseURL is required (e.g. https://" + Host + ":8443)")
	}
	if err := CheckLocalURL(cfg.BaseURL); err != nil {
		return nil, nil, fmt.Errorf("devidp: base URL: %w", err)
	}
	base, _ := url.Parse(strings.TrimSuffix(cfg.BaseURL, "/"))
	if base.Path != "" || base.RawQuery != "" || base.Fragment != "" || base.User != nil {
		return nil, nil, fmt.Errorf("devidp: base URL %q must be scheme://host[:port] only", cfg.BaseURL)
	}
	if len(cfg.Kommuner) == 0 {
		return nil, nil, errors.New("devidp: no kommuner: list the demo municipalities (codes) whose users may log in")
	}
	codes := slices.Clone(cfg.Kommuner)
	sort.Ints(codes)
	codes = slices.Compact(codes)
	for _, c := range codes {
		if _, ok := kommune.ByCode(c); !ok {
			return nil, nil, fmt.Errorf("devidp: kommune %d is not one of Denmark's 98 municipality codes", c)
		}
	}
	if len(cfg.Clients) == 0 {
		return nil, nil, errors.New("devidp: no clients: register at least one hub (client id, secret, redirect URIs)")
	}
	seen := map[string]bool{}
	for i, c := range cfg.Clients {
		where := fmt.Sprintf("devidp: client %d (%q)", i, c.ID)
		switch {
		case c.ID == "":
			return nil, nil, fmt.Errorf("%s: ID is required", where)
		case seen[c.ID]:
			return nil, nil, fmt.Errorf("%s: duplicate client ID", where)
		case c.Secret == "":
			return nil, nil, fmt.Errorf("%s: Secret is required (confidential clients only)", where)
		case len(c.RedirectURIs) == 0:
			return nil, nil, fmt.Errorf("%s: at least one redirect URI is required", where)
		}
		seen[c.ID] = true
		for _, u := range append(slices.Clone(c.RedirectURIs), c.PostLogoutRedirectURIs...) {
			if err := CheckLocalURL(u); err != nil {
				return nil, nil, fmt.Errorf("%s: redirect URI: %w", where, err)
			}
			if pu, _ := url.Parse(u); pu.Fragment != "" {
				return nil, nil, fmt.Errorf("%s: redirect URI %q must not have a fragment", where, u)
			}
		}
	}
	if k := cfg.SigningKey; k != nil && k.N.BitLen() < 2048 {
		return nil, nil, fmt.Errorf("devidp: signing key has %d bits, need at least 2048", k.N.BitLen())
	}
	return base, codes, nil
}

// server routes /k/<code>/... to that municipality's OpenID provider and
// serves the login pages.
type server struct {
	base      string
	store     *storage
	kommuner  map[int]*issuerOP
	codes     []int
	formHosts string // CSP form-action sources: self and the clients' origins
}

// issuerOP is one demo municipality's OpenID provider.
type issuerOP struct {
	name     string // e.g. "Aalborg Kommune"
	issuer   string
	prefix   string // "/k/851"
	provider *op.Provider
	users    []User
}

// New returns the development identity provider's HTTP handler. It serves,
// per demo municipality code, the OpenID provider at /k/<code>/ (discovery
// at /k/<code>/.well-known/openid-configuration), its login page at
// /k/<code>/login, and an overview of all demo users at /.
func New(cfg Config) (http.Handler, error) {
	base, codes, err := cfg.normalise()
	if err != nil {
		return nil, err
	}
	key := cfg.SigningKey
	if key == nil {
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("devidp: generating signing key: %w", err)
		}
	}
	st, err := newStorage(key, cfg.Clients)
	if err != nil {
		return nil, err
	}
	s := &server{base: base.String(), store: st, kommuner: map[int]*issuerOP{}, codes: codes}

	origins := []string{"'self'"}
	for _, c := range cfg.Clients {
		for _, u := range c.RedirectURIs {
			pu, _ := url.Parse(u)
			if o := pu.Scheme + "://" + pu.Host; !slices.Contains(origins, o) {
				origins = append(origins, o)
			}
		}
	}
	s.formHosts = strings.Join(origins, " ")

	for _, code := range codes {
		k, _ := kommune.ByCode(code)
		iss := Issuer(s.base, code)
		users := Users(code)
		st.addIssuer(iss)
		var cryptoKey [32]byte
		if _, err := rand.Read(cryptoKey[:]); err != nil {
			return nil, err
		}
		opts := []op.Option{}
		if base.Scheme == "http" {
			opts = append(opts, op.WithAllowInsecure())
		}
		p, err := op.NewProvider(&op.Config{
			CryptoKey:                cryptoKey,
			DefaultLogoutRedirectURI: iss + "/logged-out",
			CodeMethodS256:           true,
			AuthMethodPost:           true,
			SupportedScopes:          []string{"openid", "profile", "email"},
			SupportedClaims: []string{
				"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "amr", "azp",
				"at_hash", "c_hash", "sid", "name", "preferred_username", "email",
				"email_verified", "roles", LoAClaim,
			},
		}, st, op.StaticIssuer(iss), opts...)
		if err != nil {
			return nil, fmt.Errorf("devidp: kommune %d: %w", code, err)
		}
		s.kommuner[code] = &issuerOP{
			name: kommuneTitle(k), issuer: iss,
			prefix: "/k/" + strconv.Itoa(code), provider: p, users: users,
		}
	}
	return s, nil
}

// kommuneTitle is a municipality's own name for itself.
func kommuneTitle(k kommune.Kommune) string {
	if k.Code == 101 {
		return "Københavns Kommune"
	}
	return k.Name + " Kommune"
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")

	path := r.URL.Path
	switch path {
	case "/", "":
		s.index(w, r)
		return
	case cssPath:
		serveCSS(w, r)
		return
	}
	rest, ok := strings.CutPrefix(path, "/k/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	codeStr, sub, _ := strings.Cut(rest, "/")
	code, err := strconv.Atoi(codeStr)
	k := s.kommuner[code]
	if err != nil || k == nil || codeStr != strconv.Itoa(code) {
		http.Error(w, fmt.Sprintf("no demo municipality %q here; see %s/", codeStr, s.base), http.StatusNotFound)
		return
	}
	switch "/" + sub {
	case "/login":
		s.login(w, r, k)
	case "/logged-out":
		s.loggedOut(w, r, k)
	default:
		http.StripPrefix(k.prefix, k.provider).ServeHTTP(w, r)
	}
}
