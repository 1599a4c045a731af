package login

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/hubkit/hubkit/internal/region"
)

// Identity is who logged in, as the hub understands it.
type Identity struct {
	UserKey string // stable key: "<kommune>:<sub>", or "<tid>:<oid>" for Entra ID
	Subject string
	SID     string
	Name    string
	Email   string
	Tenant  string
	Roles   []string // hubkit roles
	NSIS    string   // low, substantial or high
}

// Refusal is a login that verified but must not be let in; Reason goes to
// the audit log, Status and the message to the user.
type Refusal struct {
	Reason string // machine-readable, e.g. "nsis_too_low"
	Status int
	Msg    string
}

func (r *Refusal) Error() string { return r.Reason + ": " + r.Msg }

// identify maps verified ID-token claims to an identity by the provider's
// claim mapping, role mapping and NSIS normaliser. It fails closed: a
// missing or unknown value refuses the login.
func identify(cfg region.IdentityProvider, claims map[string]any) (*Identity, *Refusal) {
	cl := cfg.Claims
	id := &Identity{
		Subject: str(claims[cl.Subject]),
		SID:     str(claims["sid"]),
		Name:    str(claims[cl.Name]),
		Email:   str(claims[cl.Email]),
	}
	if id.Subject == "" {
		return nil, &Refusal{"missing_subject", 403, fmt.Sprintf("login svar mangler brugerens id (%s)", cl.Subject)}
	}
	if cfg.Kind == "entra" || cl.Tenant != "" {
		id.Tenant = str(claims[cl.Tenant])
		if !tenantAllowed(cfg.AllowedTenants, id.Tenant) {
			return nil, &Refusal{"tenant_not_allowed", 403, "din organisation (tenant) har ikke adgang til denne hub"}
		}
	}
	if cfg.Kind == "entra" {
		id.UserKey = id.Tenant + ":" + id.Subject
	} else {
		id.UserKey = fmt.Sprintf("%d:%s", cfg.KommuneCode, id.Subject)
	}
	if overage(claims, cl.Roles) {
		return nil, &Refusal{"groups_overage", 403,
			"du er medlem af for mange grupper til at de kan sendes med login; bed kommunens IT om at tildele en app-rolle til hubben i stedet for grupper"}
	}
	id.Roles = cfg.Roles.Role(strs(claims[cl.Roles]))
	if len(id.Roles) == 0 {
		return nil, &Refusal{"no_role", 403, "du har ingen rolle i denne hub"}
	}
	level, ok := nsisLevel(cfg, claims)
	if !ok {
		return nil, &Refusal{"nsis_unknown", 403, "login-udbyderen oplyste ikke et gyldigt NSIS-sikringsniveau"}
	}
	if region.LevelRank(level) < region.LevelRank(cfg.NSIS.Minimum) {
		return nil, &Refusal{"nsis_too_low", 403,
			fmt.Sprintf("dit login har NSIS-sikringsniveau %s; hubben kræver mindst %s", level, cfg.NSIS.Minimum)}
	}
	id.NSIS = level
	return id, nil
}

// nsisLevel is the provider's NSIS normaliser: the assurance claim's value
// mapped through the configured levels. A provider that sends no claim
// gets its configured assumed level, or none.
func nsisLevel(cfg region.IdentityProvider, claims map[string]any) (string, bool) {
	claim := cfg.Claims.Assurance
	if claim != "" {
		if v, ok := claims[claim]; ok {
			for _, s := range strs(v) {
				if l := cfg.NSIS.Levels.Level(s); l != "" {
					return l, true
				}
			}
			return "", false
		}
	}
	if cfg.NSIS.Assume != "" {
		return cfg.NSIS.Assume, true
	}
	return "", false
}

func tenantAllowed(allowed []string, tid string) bool {
	for _, a := range allowed {
		if strings.EqualFold(a, tid) && tid != "" {
			return true
		}
	}
	return false
}

// overage reports Entra ID's "too many groups" marker for the roles claim:
// the claim is left out and _claim_names points elsewhere.
func overage(claims map[string]any, rolesClaim string) bool {
	names, ok := claims["_claim_names"].(map[string]any)
	if !ok {
		return false
	}
	_, ok = names[rolesClaim]
	return ok
}

func str(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case float64:
		return fmt.Sprint(t)
	}
	return ""
}

// strs reads a claim that may be a string, a space-separated string or a list.
func strs(v any) []string {
	switch t := v.(type) {
	case string:
		return strings.Fields(t)
	case []any:
		var out []string
		for _, e := range t {
			if s := str(e); s != "" {
				out = append(out, s)
			}
		}
		return out
	case float64, json.Number:
		return []string{str(t)}
	}
	return nil
}

// audienceRefusal applies OpenID Connect Core 3.1.3.7 beyond go-oidc's
// "the client id is among aud": a token for several audiences must name
// the hub as its authorized party (azp), a present azp must be the hub,
// and every other audience must be one the region trusts. Otherwise a
// token minted for another client (that listed the hub too) would log in.
func audienceRefusal(cfg region.IdentityProvider, aud []string, claims map[string]any) *Refusal {
	azp, hasAzp := claims["azp"]
	if hasAzp && str(azp) != cfg.ClientID {
		return &Refusal{"azp_mismatch", 401, "login-beviset er udstedt til en anden tjeneste end hubben"}
	}
	if len(aud) > 1 && !hasAzp {
		return &Refusal{"azp_missing", 401, "login-beviset har flere modtagere og ingen autoriseret part (azp)"}
	}
	for _, a := range aud {
		if a != cfg.ClientID && !slices.Contains(cfg.TrustedAudiences, a) {
			return &Refusal{"untrusted_audience", 401, "login-beviset er også udstedt til en tjeneste, hubben ikke stoler på"}
		}
	}
	return nil
}
