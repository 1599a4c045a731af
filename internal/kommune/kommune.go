// Package kommune holds the reference data of Denmark's 98 municipalities and
// the five regions, embedded in the binary so validation needs no network.
package kommune

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

//go:embed kommuner.csv
var kommunerCSV string

// Kommune is one municipality with its official three-digit code.
type Kommune struct {
	Code   int    `json:"code"`
	Name   string `json:"name"`
	Region string `json:"region"` // region id, e.g. "nordjylland"
}

// Region is one of the five Danish regions.
type Region struct {
	ID   string `json:"id"`   // ascii id used in file names and host names
	Name string `json:"name"` // official Danish name
}

// Regions in the order they are usually listed.
var regions = []Region{
	{"nordjylland", "Nordjylland"},
	{"midtjylland", "Midtjylland"},
	{"syddanmark", "Syddanmark"},
	{"hovedstaden", "Hovedstaden"},
	{"sjaelland", "Sjælland"},
}

var (
	all    []Kommune
	byCode = map[int]Kommune{}
	byKey  = map[string]Kommune{}
)

func init() {
	recs, err := csv.NewReader(strings.NewReader(kommunerCSV)).ReadAll()
	if err != nil {
		panic("kommune: embedded kommuner.csv is broken: " + err.Error())
	}
	regionByName := map[string]string{}
	for _, r := range regions {
		regionByName[r.Name] = r.ID
	}
	for _, rec := range recs[1:] {
		code, err := strconv.Atoi(rec[0])
		if err != nil || len(rec) != 3 || regionByName[rec[2]] == "" {
			panic(fmt.Sprintf("kommune: embedded kommuner.csv has a bad row %q", rec))
		}
		k := Kommune{Code: code, Name: rec[1], Region: regionByName[rec[2]]}
		all = append(all, k)
		byCode[code] = k
		if _, dup := byKey[Key(k.Name)]; dup {
			panic("kommune: two municipalities share the lookup key of " + k.Name)
		}
		byKey[Key(k.Name)] = k
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Code < all[j].Code })
}

// All returns every municipality, ordered by code.
func All() []Kommune { return append([]Kommune(nil), all...) }

// Regions returns the five regions.
func Regions() []Region { return append([]Region(nil), regions...) }

// RegionByID finds a region by its ascii id.
func RegionByID(id string) (Region, bool) {
	for _, r := range regions {
		if r.ID == id {
			return r, true
		}
	}
	return Region{}, false
}

// InRegion returns the municipalities of one region, ordered by code.
func InRegion(regionID string) []Kommune {
	var out []Kommune
	for _, k := range all {
		if k.Region == regionID {
			out = append(out, k)
		}
	}
	return out
}

// ByCode finds a municipality by its official code.
func ByCode(code int) (Kommune, bool) {
	k, ok := byCode[code]
	return k, ok
}

// ByName finds a municipality by name, tolerant of case, diacritics and their
// ASCII spellings: "Høje-Taastrup", "hoeje taastrup" and "Hoje-Taastrup" all match.
func ByName(name string) (Kommune, bool) {
	k, ok := byKey[Key(name)]
	return k, ok
}

// Lookup accepts either a code ("851", "0851") or a name.
func Lookup(s string) (Kommune, bool) {
	s = strings.TrimSpace(s)
	if code, err := strconv.Atoi(s); err == nil {
		return ByCode(code)
	}
	return ByName(s)
}

// Names returns all municipality names, for "did you mean" hints.
func Names() []string {
	out := make([]string, len(all))
	for i, k := range all {
		out[i] = k.Name
	}
	return out
}

// Key folds a name to a comparison key: lower case, Danish letters spelled
// the way they are when only ASCII is at hand (æ→ae, ø→oe, å→aa), other
// diacritics dropped, and punctuation and spaces removed.
// "Aabenraa", "Åbenrå" and "ÅBENRÅ" share a key, as do "Høje-Taastrup" and
// "Hoeje Taastrup". A single "o" for "ø" (Hoje) is folded too.
func Key(s string) string {
	var b strings.Builder
	for _, r := range norm.NFC.String(strings.ToLower(s)) {
		switch r {
		case 'æ', 'ä':
			b.WriteString("ae")
		case 'ø', 'ö':
			b.WriteString("oe")
		case 'å':
			b.WriteString("aa")
		default:
			for _, d := range norm.NFD.String(string(r)) {
				if unicode.IsLetter(d) || unicode.IsDigit(d) {
					b.WriteRune(d)
				}
			}
		}
	}
	return strings.ReplaceAll(b.String(), "oe", "o")
}
