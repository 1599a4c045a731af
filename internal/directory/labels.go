package directory

import (
	"slices"

	"github.com/hubkit/hubkit/internal/kommune"
	"github.com/hubkit/hubkit/internal/region"
)

// Labels live here, not in the UI catalogue, because search matches them
// ("politi" finds persons tagged police) and vCard categories carry them.

// label is a text in Danish and English, Danish first.
type label [2]string

func (l label) in(lang string) string {
	if lang == "en" {
		return l[1]
	}
	return l[0]
}

// tagLabels names region.Tags and region.PartnerKinds (partners carry their
// kind as a tag).
var tagLabels = map[string]label{
	"ssp":            {"SSP", "SSP (schools, social services, police)"},
	"police":         {"Politi", "Police"},
	"lawyer":         {"Advokat", "Lawyer"},
	"adult_area":     {"Voksenområdet", "Adult services"},
	"children_youth": {"Børn og unge", "Children and young people"},
	"family":         {"Familie", "Family"},
	"psychiatry":     {"Psykiatri", "Psychiatry"},
	"health":         {"Sundhed", "Health"},
	"education":      {"Uddannelse", "Education"},
	"housing":        {"Bolig", "Housing"},
	"employment":     {"Beskæftigelse", "Employment"},
	"interpreter":    {"Tolk", "Interpreter"},
	"crisis_shelter": {"Krisecenter og bosted", "Crisis shelter"},
	"exit_support":   {"Exit og udslusning", "Exit support"},
	"prevention":     {"Forebyggelse", "Prevention"},
	"radicalisation": {"Radikalisering", "Radicalisation"},
	"mediation":      {"Mægling", "Mediation"},
	"crisis_centre":  {"Krisecenter", "Crisis centre"},
	"ngo":            {"Frivillig organisation", "NGO"},
	"state_agency":   {"Statslig myndighed", "State agency"},
	"municipal":      {"Kommunal", "Municipal"},
	"helpline":       {"Rådgivningslinje", "Helpline"},
	"other":          {"Andet", "Other"},
}

var kindLabels = map[Kind]label{
	Person:  {"Ressourceperson", "Resource person"},
	Partner: {"Samarbejdspartner", "Partner"},
	Kommune: {"Kommune", "Municipality"},
	Region:  {"Region", "Region"},
}

// TagLabel returns the label of a tag or partner kind in lang ("da" or
// "en"); an unknown tag is returned as it is.
func TagLabel(tag, lang string) string {
	if l, ok := tagLabels[tag]; ok {
		return l.in(lang)
	}
	return tag
}

// KindLabel returns the label of a kind in lang.
func KindLabel(k Kind, lang string) string {
	if l, ok := kindLabels[k]; ok {
		return l.in(lang)
	}
	return string(k)
}

// AllTags lists every tag a filter accepts: person tags, then partner kinds.
func AllTags() []string {
	out := slices.Clone(region.Tags)
	for _, k := range region.PartnerKinds {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// lookupTag resolves a tag written by a user: its id or either label,
// folded ("politi", "Police", "children_youth").
func lookupTag(s string) (string, bool) {
	k := kommune.Key(s)
	if k == "" {
		return "", false
	}
	for _, t := range AllTags() {
		l := tagLabels[t]
		if k == kommune.Key(t) || k == kommune.Key(l[0]) || k == kommune.Key(l[1]) {
			return t, true
		}
	}
	return "", false
}

// lookupKind resolves a kind written by a user: its id or either label.
func lookupKind(s string) (Kind, bool) {
	k := kommune.Key(s)
	for _, kind := range Kinds {
		l := kindLabels[kind]
		if k != "" && (k == kommune.Key(string(kind)) || k == kommune.Key(l[0]) || k == kommune.Key(l[1])) {
			return kind, true
		}
	}
	return "", false
}
