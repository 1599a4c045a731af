package federation

import (
	"strconv"
	"strings"

	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/site"
)

// Router places a drop recipient in a region by what the region files say
// about its users: the municipality code of a login identity ("461:…"),
// the Entra tenant of one ("<tenant>:<oid>"), or the mail domain of an
// address. Anyone it cannot place stays on the sending hub ("").
func Router(st *site.Site) filedrop.Router {
	byCode, byTenant, byDomain := map[int]string{}, map[string]string{}, map[string]string{}
	for _, r := range st.Regions {
		for _, k := range r.Kommuner {
			byCode[k] = r.ID
		}
		for _, t := range r.Tenants {
			byTenant[strings.ToLower(t)] = r.ID
		}
		for _, d := range r.EmailDomains {
			byDomain[strings.ToLower(d)] = r.ID
		}
	}
	return func(userKey, email string) string {
		if email != "" {
			_, domain, _ := strings.Cut(strings.ToLower(email), "@")
			return byDomain[domain]
		}
		prefix, _, ok := strings.Cut(userKey, ":")
		if !ok {
			return ""
		}
		if len(prefix) == 3 {
			if code, err := strconv.Atoi(prefix); err == nil {
				return byCode[code]
			}
		}
		return byTenant[strings.ToLower(prefix)]
	}
}

// Peers are the other regions' hubs by region id: their base URLs.
func Peers(st *site.Site) map[string]string {
	out := map[string]string{}
	for _, r := range st.Regions {
		if r.ID != st.Region.ID && r.URL != "" {
			out[r.ID] = r.URL
		}
	}
	return out
}
