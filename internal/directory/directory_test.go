package directory

import (
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/site"
)

var (
	setOnce sync.Once
	set     *region.Set
	cfg     *config.Config
	setErr  error
)

// testSite renders the real site.json of a region from the repository's
// region files, as a hub would load it.
func testSite(t testing.TB, id string) *site.Site {
	t.Helper()
	setOnce.Do(func() {
		set, setErr = region.LoadDir("../../regions", region.BuiltinDefaults)
		if setErr == nil && len(set.Errors) > 0 {
			setErr = set.Errors
		}
		if setErr == nil {
			cfg, setErr = config.Load("", false)
		}
	})
	if setErr != nil {
		t.Fatal(setErr)
	}
	b, err := bundle.Render(set, id, cfg, bundle.Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/site.json"
	if err := os.WriteFile(path, b.Files[bundle.SiteFile], 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := site.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func names(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}

func find(es []Entry, name string) (Entry, bool) {
	for _, e := range es {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

func TestNewContents(t *testing.T) {
	st := testSite(t, "nordjylland")
	d := New(st)
	all := d.Search(Query{})
	if len(all) != d.Len() {
		t.Fatalf("empty query found %d of %d entries", len(all), d.Len())
	}
	count := map[Kind]int{}
	for _, e := range all {
		count[e.Kind]++
	}
	if count[Kommune] != 11 {
		t.Errorf("%d kommune entries, want Nordjylland's 11", count[Kommune])
	}
	if count[Region] != 5 {
		t.Errorf("%d region entries, want 5", count[Region])
	}
	host, ok := find(all, "Aalborg")
	if !ok || !host.Host || host.Kind != Kommune || host.KommuneCode != 851 {
		t.Errorf("host kommune entry = %+v, want Aalborg 851 marked host", host)
	}
	// Own persons: every one of the region file, whatever its visibility.
	for _, p := range st.Region.ResourcePersons {
		e, ok := d.Person(PersonID("nordjylland", p.Email, p.Name))
		if !ok || e.Name != p.Name || !e.Own {
			t.Errorf("own person %s missing or wrong: %+v", p.Name, e)
		}
	}
	// National persons of other regions, marked with their region.
	others := 0
	for _, p := range st.National.Persons {
		if p.Region == "nordjylland" {
			continue
		}
		others++
		e, ok := d.Person(PersonID(p.Region, p.Email, p.Name))
		if !ok || e.Own || e.Region != p.Region || e.RegionName == "" || !e.National {
			t.Errorf("national person %s of %s missing or wrong: %+v", p.Name, p.Region, e)
		}
	}
	if others == 0 {
		t.Fatal("fixture has no national persons of other regions")
	}
	// Region-only persons of other regions stay in their region.
	for _, r := range set.Regions {
		if r.ID == "nordjylland" {
			continue
		}
		for _, p := range r.ResourcePersons {
			_, ok := d.Person(PersonID(r.ID, p.Email, p.Name))
			if ok != (p.Visibility == "national") {
				t.Errorf("person %s of %s (visibility %s): in directory = %v", p.Name, r.ID, p.Visibility, ok)
			}
		}
	}
}

func TestPartnersDeduplicated(t *testing.T) {
	d := New(testSite(t, "midtjylland"))
	seen := map[string]string{}
	for _, e := range d.Search(Query{Kind: Partner}) {
		if prev, dup := seen[e.Name]; dup {
			t.Errorf("partner %q listed twice (regions %s and %s)", e.Name, prev, e.Region)
		}
		seen[e.Name] = e.Region
	}
	// Midtjylland lists RED itself, and so does Hovedstaden: the own one wins.
	red, ok := find(d.Search(Query{Text: "RED Exit"}), "RED – Rådgivning, Exit og Dialog")
	if !ok || red.Region != "midtjylland" || !red.Own || !red.National {
		t.Errorf("RED = %+v, want the own (midtjylland) national entry", red)
	}
}

func TestSearchFolding(t *testing.T) {
	d := New(testSite(t, "nordjylland"))
	tests := []struct {
		query string
		want  string // a name among the results
	}{
		{"soeren", "Søren Kjær"},
		{"søren", "Søren Kjær"},
		{"SOREN", "Søren Kjær"},
		{"kjaer", "Søren Kjær"},
		{"kjær", "Søren Kjær"},
		{"soren kjaer", "Søren Kjær"},
		{`"søren kjær"`, "Søren Kjær"},
		{"noergaard", "Maja Nørgaard"},
		{"norgaard", "Maja Nørgaard"},
		{"bronderslev", "Brønderslev"},
		{"BRØNDERSLEV", "Brønderslev"},
		{"laeso", "Læsø"},
		{"politi", "Søren Kjær"},       // tag label, Danish
		{"police", "Søren Kjær"},       // tag id / English label
		{"forebyggelse", "Søren Kjær"}, // prevention tag
		{"værtskommune", "Aalborg"},
		{"851", "Aalborg"},
		{"aalborg", "Maja Nørgaard"}, // kommune of a person
		{"aarhus", "Jonas Ebbesen"},  // national person of Midtjylland, kommune Aarhus
		{"midtjylland", "Jonas Ebbesen"},
		{"tag:politi kommune:aarhus", "Jonas Ebbesen"},
		{`kommune:"Aalborg" kind:person maja`, "Maja Nørgaard"},
	}
	for _, tt := range tests {
		got := d.Search(Query{Text: tt.query})
		if _, ok := find(got, tt.want); !ok {
			t.Errorf("search %q: %q not among %q", tt.query, tt.want, names(got))
		}
	}
}

func TestSearchAcrossAarhusSpelling(t *testing.T) {
	// "aarhus" must find an entry written with the old spelling "Århus".
	st := testSite(t, "nordjylland")
	st.Region.ResourcePersons = append(st.Region.ResourcePersons, region.Person{
		Name: "Åse Sørensen", Title: "Advokat", Organisation: "Advokathuset Århus", Kommune: "Aarhus",
		Email: "aase@advokat.example", Visibility: "region", KommuneCode: 751,
	})
	d := New(st)
	for _, q := range []string{"aarhus", "Århus", "sorensen", "soerensen", "aase", "ase"} {
		if _, ok := find(d.Search(Query{Text: q}), "Åse Sørensen"); !ok {
			t.Errorf("search %q does not find Åse Sørensen of Advokathuset Århus", q)
		}
	}
}

func TestSearchNoFalseMatches(t *testing.T) {
	d := New(testSite(t, "nordjylland"))
	for _, q := range []string{"zzzz", "søren zzzz", "tag:lawyer kommune:851 kind:kommune", "kommune:Aalbrog"} {
		if got := d.Search(Query{Text: q}); len(got) != 0 {
			t.Errorf("search %q found %q, want nothing", q, names(got))
		}
	}
}

func TestFilters(t *testing.T) {
	d := New(testSite(t, "nordjylland"))
	check := func(name string, q Query, ok func(Entry) bool) {
		t.Helper()
		got := d.Search(q)
		if len(got) == 0 {
			t.Errorf("%s: no results", name)
		}
		for _, e := range got {
			if !ok(e) {
				t.Errorf("%s: unexpected %s %q (%s)", name, e.Kind, e.Name, e.Region)
			}
		}
	}
	check("kind person", Query{Kind: Person}, func(e Entry) bool { return e.Kind == Person })
	check("kind kommune", Query{Kind: Kommune}, func(e Entry) bool { return e.Kind == Kommune && e.Own })
	check("tag police", Query{Tag: "police"}, func(e Entry) bool { return slices.Contains(e.Tags, "police") })
	check("kommune 851 persons", Query{Kommune: 851, Kind: Person}, func(e Entry) bool { return e.KommuneCode == 851 })
	check("scope region", Query{Scope: ScopeRegion}, func(e Entry) bool { return e.Own })
	check("scope national", Query{Scope: ScopeNational}, func(e Entry) bool { return e.National && e.Kind != Kommune })

	// The kommune filter finds partners covering it, and the police
	// partner is found by the police tag through its kind.
	police := d.Search(Query{Kommune: 851, Tag: "police", Kind: Partner})
	if len(police) == 0 {
		t.Errorf("no police partner covering Aalborg")
	}
}

func TestNationalScope(t *testing.T) {
	st := testSite(t, "nordjylland")
	d := New(st)
	got := d.Search(Query{Scope: ScopeNational})
	regions := map[string]bool{}
	for _, e := range got {
		if e.Kind == Person {
			regions[e.Region] = true
		}
	}
	for _, p := range st.National.Persons {
		if _, ok := find(got, p.Name); !ok {
			t.Errorf("national view lacks %s of %s", p.Name, p.Region)
		}
	}
	if len(regions) < 3 {
		t.Errorf("national view has persons of %d regions (%v), want several", len(regions), regions)
	}
	for _, e := range got {
		if e.Kind == Person && !e.National {
			t.Errorf("national view holds region-only person %s", e.Name)
		}
	}
	if n := len(d.Search(Query{Scope: ScopeNational, Kind: Region})); n != 5 {
		t.Errorf("national view has %d regions, want 5", n)
	}
	// The region scope never shows another region's people.
	for _, e := range d.Search(Query{Scope: ScopeRegion}) {
		if e.Region != "nordjylland" {
			t.Errorf("region scope shows %s of %s", e.Name, e.Region)
		}
	}
}

func TestStableOrder(t *testing.T) {
	st := testSite(t, "hovedstaden")
	a := names(New(st).Search(Query{}))
	// Shuffling the input must not change the order.
	slices.Reverse(st.Region.ResourcePersons)
	slices.Reverse(st.Region.Partners)
	slices.Reverse(st.Region.Kommuner)
	slices.Reverse(st.National.Persons)
	b := names(New(st).Search(Query{}))
	if !slices.Equal(a, b) {
		t.Errorf("order depends on input order:\n%q\n%q", a, b)
	}
	// Kinds in order, own before others within a kind.
	es := New(st).Search(Query{})
	for i := 1; i < len(es); i++ {
		p, e := es[i-1], es[i]
		if slices.Index(Kinds, p.Kind) > slices.Index(Kinds, e.Kind) {
			t.Errorf("%s %q before %s %q", p.Kind, p.Name, e.Kind, e.Name)
		}
		if p.Kind == e.Kind && !p.Own && e.Own {
			t.Errorf("other region's %q before own %q", p.Name, e.Name)
		}
	}
	// Danish order: Æ after Z, and "Aa" as "Å" at the very end.
	ks := names(New(testSite(t, "syddanmark")).Search(Query{Kind: Kommune}))
	if i, j := slices.Index(ks, "Vejle"), slices.Index(ks, "Ærø"); i < 0 || j < i || ks[len(ks)-1] != "Aabenraa" {
		t.Errorf("kommuner not in Danish order: %q", ks)
	}
}

func TestPersonIDStable(t *testing.T) {
	a := PersonID("nordjylland", "Maja.Noergaard@aalborg.example", "Maja")
	b := PersonID("nordjylland", " maja.noergaard@aalborg.example", "Maja Nørgaard")
	if a != b {
		t.Errorf("id depends on case/space of e-mail or on name: %s vs %s", a, b)
	}
	if a == PersonID("midtjylland", "maja.noergaard@aalborg.example", "") {
		t.Error("id does not depend on region")
	}
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			t.Fatalf("id %q has %q, not URL-safe", a, r)
		}
	}
}

func TestDuplicateIDsMadeUnique(t *testing.T) {
	st := testSite(t, "nordjylland")
	p := st.Region.ResourcePersons[0]
	st.Region.ResourcePersons = append(st.Region.ResourcePersons, p)
	d := New(st)
	ids := map[string]bool{}
	for _, e := range d.Search(Query{}) {
		if ids[e.ID] {
			t.Errorf("id %s used twice", e.ID)
		}
		ids[e.ID] = true
	}
}

func TestParseQuery(t *testing.T) {
	good := []string{"", "q=s%C3%B8ren", "kind=person&tag=police&kommune=851&scope=national", "scope=region", "tag=crisis_centre"}
	for _, s := range good {
		v, _ := url.ParseQuery(s)
		q, err := ParseQuery(v)
		if err != nil {
			t.Errorf("ParseQuery(%q): %v", s, err)
			continue
		}
		back, err := ParseQuery(q.Values())
		if err != nil || back != q {
			t.Errorf("round trip of %q: %+v, %v; want %+v", s, back, err, q)
		}
	}
	bad := map[string]string{
		"kind=people": "kind", "tag=foo": "tag", "kommune=999": "kommune",
		"kommune=aalborg": "kommune", "scope=world": "scope",
	}
	for s, param := range bad {
		v, _ := url.ParseQuery(s)
		_, err := ParseQuery(v)
		qe, ok := err.(*QueryError)
		if !ok || qe.Param != param {
			t.Errorf("ParseQuery(%q) = %v, want a QueryError for %s", s, err, param)
		}
	}
	long := strings.Repeat("ø", MaxTextLen+50)
	q, _ := ParseQuery(url.Values{"q": {long}})
	if n := len([]rune(q.Text)); n != MaxTextLen {
		t.Errorf("text of %d runes kept, want %d", n, MaxTextLen)
	}
}

func TestParseText(t *testing.T) {
	tests := []struct {
		in   string
		want Text
	}{
		{"", Text{}},
		{"  Søren   Kjær ", Text{Terms: []string{"soren", "kjaer"}}},
		{`"Søren Kjær" x`, Text{Terms: []string{"sorenkjaer", "x"}}},
		{`tag:politi`, Text{Tags: []string{"police"}}},
		{`TAG:Police kind:personer`, Text{Tags: []string{"police"}, Terms: []string{"personer"}}},
		{`kind:partner`, Text{Kinds: []Kind{Partner}}},
		{`kind:Ressourceperson`, Text{Kinds: []Kind{Person}}},
		{`kommune:"Høje Taastrup" a`, Text{Kommuner: []int{169}, Terms: []string{"a"}}},
		{`kommune:hoeje-taastrup`, Text{Kommuner: []int{169}}},
		{`kommune:851`, Text{Kommuner: []int{851}}},
		{`region:sjælland`, Text{Regions: []string{"sjaelland"}}},
		{`region:"Region Hovedstaden"`, Text{Regions: []string{"hovedstaden"}}},
		{`tag:nonesuch`, Text{Terms: []string{"nonesuch"}}},
		{`foo:bar`, Text{Terms: []string{"foobar"}}},
		{`"unterminated phrase`, Text{Terms: []string{"unterminatedphrase"}}},
		{`kommune:"unterminated`, Text{Terms: []string{"unterminated"}}},
		{`- & ""`, Text{}},
	}
	for _, tt := range tests {
		got := ParseText(tt.in)
		if !textEqual(got, tt.want) {
			t.Errorf("ParseText(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	many := strings.Repeat("a ", MaxTerms*2)
	if n := len(ParseText(many).Terms); n != MaxTerms {
		t.Errorf("%d terms kept, want %d", n, MaxTerms)
	}
}

func textEqual(a, b Text) bool {
	return slices.Equal(a.Terms, b.Terms) && slices.Equal(a.Tags, b.Tags) && slices.Equal(a.Kinds, b.Kinds) &&
		slices.Equal(a.Kommuner, b.Kommuner) && slices.Equal(a.Regions, b.Regions)
}

func TestLabelsComplete(t *testing.T) {
	for _, tag := range AllTags() {
		for _, lang := range []string{"da", "en"} {
			if TagLabel(tag, lang) == tag {
				t.Errorf("tag %s has no %s label", tag, lang)
			}
		}
	}
	for _, k := range Kinds {
		for _, lang := range []string{"da", "en"} {
			if KindLabel(k, lang) == string(k) {
				t.Errorf("kind %s has no %s label", k, lang)
			}
		}
	}
}

func TestFacets(t *testing.T) {
	d := New(testSite(t, "nordjylland"))
	f := d.Facets(ScopeRegion)
	if !slices.Contains(f.Tags, "police") || !slices.Contains(f.Tags, "ssp") {
		t.Errorf("region facets lack police/ssp: %v", f.Tags)
	}
	if len(f.Kommuner) != 11 {
		t.Errorf("region facets have %d kommuner, want 11", len(f.Kommuner))
	}
	nat := d.Facets(ScopeNational)
	for _, k := range nat.Kommuner {
		if k.Name == "Læsø" {
			t.Errorf("national facets list Læsø, which no national entry serves")
		}
	}
}

// BenchmarkSearch measures a free-text search with a filter over the
// largest region's directory, which every directory page view runs.
func BenchmarkSearch(b *testing.B) {
	d := New(testSite(b, "hovedstaden"))
	q := Query{Text: "politi forebyggelse", Scope: ScopeAll, Kind: Person}
	b.ReportAllocs()
	for b.Loop() {
		d.Search(q)
	}
}
