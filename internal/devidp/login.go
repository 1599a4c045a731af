package devidp

import (
	"bytes"
	"crypto/subtle"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

//go:embed ui/*.html ui/devidp.css
var uiFS embed.FS

var pages = template.Must(template.ParseFS(uiFS, "ui/*.html"))

// cssPath is where the login pages' only style sheet is served.
const cssPath = "/assets/devidp.css"

// maxFormBytes bounds a login form submission.
const maxFormBytes = 16 << 10

type userRow struct {
	Username, Name, Roles, LoA string
}

func userRows(users []User) []userRow {
	out := make([]userRow, len(users))
	for i, u := range users {
		out[i] = userRow{Username: u.Username, Name: u.Name, Roles: strings.Join(u.Roles, ", "), LoA: loaText(u.LoA)}
	}
	return out
}

// loaText names an NSIS level in Danish and as the claim carries it.
func loaText(loa string) string {
	switch loa {
	case "Low":
		return "Lav (Low)"
	case "Substantial":
		return "Betydelig (Substantial)"
	case "High":
		return "Høj (High)"
	}
	return loa
}

type loginPage struct {
	Title, CSS, Kommune, Issuer, ClientID string
	Action, ID, Username, Error, Password string
	Users                                 []userRow
}

// login serves a municipality's login page (GET) and checks its form (POST).
// The form is bound to its authorization request by the request's id, an
// unguessable 128-bit value that also expires; that is CSRF protection
// enough for a development provider with a public password.
func (s *server) login(w http.ResponseWriter, r *http.Request, k *issuerOP) {
	ctx := op.ContextWithIssuer(r.Context(), k.issuer)
	r = r.WithContext(ctx)
	var id string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		id = r.URL.Query().Get("id")
	case http.MethodPost:
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			http.Error(w, "cross-site login form submission refused", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad login form: "+err.Error(), http.StatusBadRequest)
			return
		}
		id = r.PostForm.Get("id")
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}

	req, err := s.store.authRequest(ctx, id)
	if err != nil || req.done || time.Since(req.created) > authRequestTTL {
		s.message(w, http.StatusBadRequest, "Login-anmodningen er ukendt eller udløbet — "+k.name,
			"Gå tilbage til hubben og vælg Log ind igen. En login-anmodning gælder i 10 minutter og kan kun bruges én gang.")
		return
	}
	if req.promptNone() {
		// There is no single sign-on session to reuse: every login asks.
		s.fail(w, r, k, req, oidc.ErrLoginRequired().WithDescription("the dev identity provider always asks the user to log in"))
		return
	}
	page := loginPage{
		Title:    "Udviklings-login — " + k.name,
		CSS:      cssPath,
		Kommune:  k.name,
		Issuer:   k.issuer,
		ClientID: req.clientID,
		Action:   k.prefix + "/login",
		ID:       req.id,
		Username: req.loginHint,
		Password: Password,
		Users:    userRows(k.users),
	}
	if r.Method != http.MethodPost {
		s.render(w, http.StatusOK, "login.html", page)
		return
	}

	if r.PostForm.Get("action") == "cancel" {
		s.fail(w, r, k, req, oidc.ErrAccessDenied().WithDescription("the user cancelled the login"))
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	var user *User
	for i := range k.users {
		if k.users[i].Username == username {
			user = &k.users[i]
		}
	}
	if user == nil || subtle.ConstantTimeCompare([]byte(password), []byte(Password)) != 1 {
		page.Username = username
		page.Error = "Forkert brugernavn eller adgangskode. Vælg en bruger fra listen; adgangskoden er " + Password + "."
		s.render(w, http.StatusOK, "login.html", page)
		return
	}
	if err := s.store.authenticate(ctx, req.id, *user); err != nil {
		s.message(w, http.StatusBadRequest, "Login-anmodningen er ukendt eller udløbet — "+k.name,
			"Gå tilbage til hubben og vælg Log ind igen.")
		return
	}
	slog.InfoContext(ctx, "devidp: demo login", "issuer", k.issuer, "client_id", req.clientID, "username", user.Username)
	http.Redirect(w, r, op.AuthCallbackURL(k.provider)(ctx, req.id), http.StatusSeeOther)
}

// fail ends an authorization request with an error sent to the client's
// redirect URI.
func (s *server) fail(w http.ResponseWriter, r *http.Request, k *issuerOP, req *authRequest, e *oidc.Error) {
	_ = s.store.DeleteAuthRequest(r.Context(), req.id)
	op.AuthRequestError(w, r, req, e, k.provider)
}

// loggedOut is where RP-initiated logout ends when the client names no
// post_logout_redirect_uri.
func (s *server) loggedOut(w http.ResponseWriter, r *http.Request, k *issuerOP) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.message(w, http.StatusOK, "Du er logget ud — "+k.name, "Du er logget ud af udviklings-login. Du kan lukke fanen.")
}

type indexPage struct {
	Title, CSS, Password string
	Kommuner             []indexKommune
}

type indexKommune struct {
	Name, Issuer, Discovery string
	Users                   []userRow
}

// index lists the demo municipalities and their users.
func (s *server) index(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := indexPage{Title: "hubkit udviklings-login", CSS: cssPath, Password: Password}
	for _, c := range s.codes {
		k := s.kommuner[c]
		p.Kommuner = append(p.Kommuner, indexKommune{
			Name: k.name, Issuer: k.issuer, Discovery: k.prefix + oidc.DiscoveryEndpoint, Users: userRows(k.users),
		})
	}
	s.render(w, http.StatusOK, "index.html", p)
}

func (s *server) message(w http.ResponseWriter, status int, title, msg string) {
	s.render(w, status, "message.html", struct{ Title, CSS, Message string }{title, cssPath, msg})
}

func (s *server) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		slog.Error("devidp: rendering page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// The login form's redirect chain ends at a hub's redirect URI, so
	// form-action must allow the clients' origins as well as our own.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action "+s.formHosts+
		"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func serveCSS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	b, _ := uiFS.ReadFile("ui/devidp.css")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}
