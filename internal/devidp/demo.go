// Package devidp is the development identity provider of `hubctl serve
// --dev`: an OpenID provider built on zitadel/oidc's op package, seeded with
// invented demo users, so a newcomer can log in without a municipality's
// real single sign-on. It is never part of a production bundle.
package devidp

import (
	"fmt"
	"sort"

	"github.com/hubkit/hubkit/internal/kommune"
)

// Host is the development identity provider's host name; browsers resolve
// *.localhost to loopback by themselves.
const Host = "idp.hub.localhost"

// Password is every demo user's password. Dev mode only.
const Password = "demo"

// SecretEnv is the environment variable through which `hubctl serve --dev`
// hands the generated client secret to both the hub and the dev provider.
const SecretEnv = "HUBKIT_DEV_CLIENT_SECRET"

// LoAClaim is the NSIS claim the dev provider sends, as OS2faktor does.
const LoAClaim = "https://data.gov.dk/concept/core/nsis/loa"

// User is an invented demo user of one municipality.
type User struct {
	Username string   `json:"username"`
	Name     string   `json:"name"`
	Email    string   `json:"email"`
	Kommune  int      `json:"kommune"`
	Roles    []string `json:"roles"`
	LoA      string   `json:"loa"` // Low, Substantial or High
}

// demoRoles are the demo accounts every demo municipality gets: one per
// hubkit role, one whose login is too weak, one with no hub role.
var demoRoles = []struct {
	suffix, title, role, loa string
}{
	{"konsulent", "Sikkerhedskonsulent", "sikkerhedskonsulent", "Substantial"},
	{"fagperson", "Sagsbehandler", "sagsbehandler", "Substantial"},
	{"ressource", "Ressourceperson", "ressourceperson", "High"},
	{"admin", "Hub-administrator", "hubkit-admin", "High"},
	{"lav", "Sagsbehandler (NSIS Lav)", "sagsbehandler", "Low"},
	{"ingen", "Medarbejder uden adgang", "medarbejder", "Substantial"},
}

// RoleValues maps the dev provider's role claim values to hubkit roles.
var RoleValues = map[string][]string{
	"consultant":      {"sikkerhedskonsulent"},
	"professional":    {"sagsbehandler"},
	"resource_person": {"ressourceperson"},
	"admin":           {"hubkit-admin"},
}

// Kommuner returns the municipalities of a region that get demo users: the
// host and the member with the lowest code besides it.
func Kommuner(host int, members []int) []int {
	out := []int{host}
	sorted := append([]int(nil), members...)
	sort.Ints(sorted)
	for _, c := range sorted {
		if c != host {
			out = append(out, c)
			break
		}
	}
	return out
}

// Users returns the demo users of a municipality, e.g. aalborg-konsulent.
func Users(code int) []User {
	k, ok := kommune.ByCode(code)
	if !ok {
		return nil
	}
	slug := kommune.Key(k.Name)
	var out []User
	for _, r := range demoRoles {
		out = append(out, User{
			Username: slug + "-" + r.suffix,
			Name:     fmt.Sprintf("%s (demo, %s)", r.title, k.Name),
			Email:    fmt.Sprintf("%s.%s@%s", r.suffix, "demo", EmailDomain(code)),
			Kommune:  code,
			Roles:    []string{r.role},
			LoA:      r.loa,
		})
	}
	return out
}

// EmailDomain is the mail domain of a municipality's demo users, e.g.
// aalborg.example (a reserved name: no real mail goes there).
func EmailDomain(code int) string {
	k, _ := kommune.ByCode(code)
	return kommune.Key(k.Name) + ".example"
}

// Issuer is the issuer URL of a municipality's dev provider; each demo
// municipality is its own issuer, as real municipalities are.
func Issuer(baseURL string, code int) string {
	return fmt.Sprintf("%s/k/%d", baseURL, code)
}

// ClientID is the dev client id of a region's hub.
func ClientID(regionID string) string { return "hub-" + regionID }
