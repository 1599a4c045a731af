package directory

import (
	"slices"
	"strings"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"

	"github.com/hubkit/hubkit/internal/kommune"
	"github.com/hubkit/hubkit/internal/region"
)

// Search returns the entries matching q in the stable result order (kind,
// own region first, name). The entries are copies.
func (d *Directory) Search(q Query) []Entry {
	text := ParseText(q.Text)
	var out []Entry
	for i := range d.entries {
		e := &d.entries[i]
		if d.inScope(e, q.Scope) && matchFilters(e, q) && matchText(e, text) {
			out = append(out, cloneEntry(*e))
		}
	}
	return out
}

func cloneEntry(e Entry) Entry {
	e.Tags = slices.Clone(e.Tags)
	e.Coverage = slices.Clone(e.Coverage)
	return e
}

// inScope: the region scope is what the own region lists; the national
// scope is every national entry and the five regions, without the member
// kommuner (which belong to one region's view).
func (d *Directory) inScope(e *Entry, scope string) bool {
	switch scope {
	case ScopeRegion:
		return e.Own
	case ScopeNational:
		return e.National && e.Kind != Kommune
	}
	return true
}

func matchFilters(e *Entry, q Query) bool {
	if q.Kind != "" && e.Kind != q.Kind {
		return false
	}
	if q.Tag != "" && !slices.Contains(e.Tags, q.Tag) {
		return false
	}
	return q.Kommune == 0 || inKommune(e, q.Kommune)
}

func matchText(e *Entry, t Text) bool {
	for _, term := range t.Terms {
		if !strings.Contains(e.fold, term) {
			return false
		}
	}
	for _, tag := range t.Tags {
		if !slices.Contains(e.Tags, tag) {
			return false
		}
	}
	for _, k := range t.Kinds {
		if e.Kind != k {
			return false
		}
	}
	for _, code := range t.Kommuner {
		if !inKommune(e, code) {
			return false
		}
	}
	for _, r := range t.Regions {
		if e.Region != r {
			return false
		}
	}
	return true
}

// inKommune says whether an entry serves a kommune: a person working there,
// the kommune itself, the region it lies in, or a partner covering it (a
// partner without a coverage list covers its whole region, or the whole
// country when it is national).
func inKommune(e *Entry, code int) bool {
	switch e.Kind {
	case Person, Kommune:
		return e.KommuneCode == code
	}
	k, ok := kommune.ByCode(code)
	if !ok {
		return false
	}
	if e.Kind == Region {
		return k.Region == e.Region
	}
	if len(e.Coverage) == 0 {
		return e.National || k.Region == e.Region
	}
	for _, c := range e.Coverage {
		if ck, ok := kommune.Lookup(c); ok && ck.Code == code {
			return true
		}
	}
	return false
}

// Facets are the filter choices that make sense in one scope.
type Facets struct {
	Tags     []string         // in AllTags order
	Kommuner []region.Kommune // in Danish alphabetical order
}

// Facets returns the tags and kommuner the entries of a scope carry, for the
// filter choices of the search form.
func (d *Directory) Facets(scope string) Facets {
	var f Facets
	tags := map[string]bool{}
	kommuner := map[int]bool{}
	for i := range d.entries {
		e := &d.entries[i]
		if !d.inScope(e, scope) {
			continue
		}
		for _, t := range e.Tags {
			tags[t] = true
		}
		if e.KommuneCode != 0 {
			kommuner[e.KommuneCode] = true
		}
		for _, c := range e.Coverage {
			if k, ok := kommune.Lookup(c); ok {
				kommuner[k.Code] = true
			}
		}
	}
	for _, t := range AllTags() {
		if tags[t] {
			f.Tags = append(f.Tags, t)
		}
	}
	for code := range kommuner {
		if k, ok := kommune.ByCode(code); ok {
			f.Kommuner = append(f.Kommuner, region.Kommune{Code: k.Code, Name: k.Name})
		}
	}
	col := collate.New(language.Danish, collate.IgnoreCase)
	slices.SortFunc(f.Kommuner, func(a, b region.Kommune) int { return col.CompareString(a.Name, b.Name) })
	return f
}

// Group is the entries of one kind, for listing results under headings.
type Group struct {
	Kind    Kind
	Entries []Entry
}

// GroupByKind splits entries (in result order) into groups by kind, in
// Kinds order, leaving out empty groups.
func GroupByKind(entries []Entry) []Group {
	var out []Group
	for _, k := range Kinds {
		var g Group
		for _, e := range entries {
			if e.Kind == k {
				g.Entries = append(g.Entries, e)
			}
		}
		if len(g.Entries) > 0 {
			g.Kind = k
			out = append(out, g)
		}
	}
	return out
}
