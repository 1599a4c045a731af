// Package directory is the hub's contact directory: the host kommune and the
// member kommuner, the resource persons and partners of the hub's own region,
// the entries other regions mark national, and the five regional units. It
// is built once from a *site.Site and then only read, so a Directory is safe
// for concurrent use.
//
// Search folds text the way kommune.Key does, so people can type without
// Danish letters: "soeren" finds "Søren", "aarhus" finds "Århus".
package directory

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"

	"github.com/hubkit/hubkit/internal/kommune"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/site"
)

// Kind is what an entry describes.
type Kind string

// Kinds of entry, in the order results list them.
const (
	Person  Kind = "person"  // a resource person
	Partner Kind = "partner" // a partner organisation
	Kommune Kind = "kommune" // a member kommune of the hub's region
	Region  Kind = "region"  // a region's consultants (one of the five hubs)
)

// Kinds lists every kind in result order.
var Kinds = []Kind{Person, Partner, Kommune, Region}

// Scopes of a search.
const (
	ScopeAll      = ""         // what this hub shows: its own region and other regions' national entries
	ScopeRegion   = "region"   // the hub's own region only
	ScopeNational = "national" // the national view: national entries of all five regions
)

// Scopes lists the valid scopes.
var Scopes = []string{ScopeAll, ScopeRegion, ScopeNational}

// Entry is one directory entry. Which fields are set depends on Kind.
type Entry struct {
	ID           string // stable, [a-z0-9-]; used in URLs
	Kind         Kind
	Name         string
	Title        string   // person: job title
	Organisation string   // person: employer
	Kommune      string   // person: kommune worked in; region: the host kommune
	KommuneCode  int      // person or kommune: kommunekode
	Email        string   // person, partner, region
	Phone        string   // normalised (+45 and eight digits, or a short number)
	URL          string   // partner: web site; region: the hub
	Address      string   // partner, region
	Description  string   // partner
	Tags         []string // person: tags; partner: its kind (so a tag filter finds both)
	PartnerKind  string   // partner: region.PartnerKinds value
	Coverage     []string // partner: kommuner covered; empty means the whole region
	Region       string   // id of the region the entry belongs to
	RegionName   string
	Own          bool // belongs to the hub's own region
	National     bool // shown in every region's directory
	Host         bool // kommune: the region's host kommune
	Login        bool // kommune: its staff can log in (it has an identity provider)

	fold string // folded search text of all fields
	rank int    // position in the stable order
}

// Directory is the read-only contact directory of one hub.
type Directory struct {
	region  string
	entries []Entry // in result order
	byID    map[string]int
}

// New builds the directory of st's region.
func New(st *site.Site) *Directory {
	d := &Directory{region: st.Region.ID, byID: map[string]int{}}
	names := map[string]string{}
	for _, ri := range st.Regions {
		names[ri.ID] = ri.Name
	}
	names[st.Region.ID] = st.Region.Name
	own := st.Region.ID

	for _, p := range st.Region.ResourcePersons {
		d.addPerson(p, own, names[own], true)
	}
	for _, p := range st.National.Persons {
		if p.Region != own {
			d.addPerson(p.Person, p.Region, names[p.Region], false)
		}
	}

	// The same organisation is often listed by several regions; it is shown
	// once, in the own region's version if there is one.
	partners := map[string]int{}
	addPartner := func(p region.Partner, rid string, isOwn bool) {
		key := kommune.Key(p.Name)
		if i, dup := partners[key]; dup {
			if p.Visibility == "national" {
				d.entries[i].National = true
			}
			return
		}
		partners[key] = len(d.entries)
		d.add(partnerEntry(p, rid, names[rid], isOwn))
	}
	for _, p := range st.Region.Partners {
		addPartner(p, own, true)
	}
	for _, p := range st.National.Partners {
		if p.Region != own {
			addPartner(p.Partner, p.Region, false)
		}
	}

	for _, k := range st.Region.Kommuner {
		d.add(Entry{
			ID: "k" + strconv.Itoa(k.Code), Kind: Kommune, Name: k.Name, KommuneCode: k.Code,
			Region: own, RegionName: names[own], Own: true,
			Host: k.Code == st.Region.HostCode, Login: st.Provider(k.Code) != nil,
		})
	}
	for _, ri := range st.Regions {
		e := Entry{
			ID: "r-" + ri.ID, Kind: Region, Name: ri.Name, Kommune: ri.Host,
			Email: ri.Email, Phone: ri.Hotline, Region: ri.ID, RegionName: ri.Name,
			Own: ri.ID == own, National: true,
		}
		if ri.Domain != "" {
			e.URL = "https://" + ri.Domain + "/"
		}
		if e.Own {
			e.Address = st.Region.Contact.Address
		}
		d.add(e)
	}
	d.sort()
	return d
}

func (d *Directory) addPerson(p region.Person, rid, rname string, own bool) {
	d.add(Entry{
		ID: PersonID(rid, p.Email, p.Name), Kind: Person, Name: p.Name, Title: p.Title,
		Organisation: p.Organisation, Kommune: p.Kommune, KommuneCode: p.KommuneCode,
		Email: p.Email, Phone: p.Phone, Tags: slices.Clone(p.Tags),
		Region: rid, RegionName: rname, Own: own, National: p.Visibility == "national",
	})
}

func partnerEntry(p region.Partner, rid, rname string, own bool) Entry {
	sum := sha256.Sum256([]byte(rid + "\n" + kommune.Key(p.Name)))
	e := Entry{
		ID: "o-" + hex.EncodeToString(sum[:6]), Kind: Partner, Name: p.Name, Description: p.Description,
		Email: p.Contact.Email, Phone: p.Contact.Phone, URL: p.Contact.URL, Address: p.Contact.Address,
		PartnerKind: p.Kind, Coverage: slices.Clone(p.Coverage),
		Region: rid, RegionName: rname, Own: own, National: p.Visibility == "national",
	}
	if p.Kind != "" {
		e.Tags = []string{p.Kind}
	}
	return e
}

// PersonID is the stable id of a resource person: a short hash of the
// region and the (case-folded) e-mail address, which the region file keeps
// unique. It survives reordering and edits of every other field, so links
// and exported vCards stay valid. The name stands in when there is no e-mail.
func PersonID(regionID, email, name string) string {
	k := strings.ToLower(strings.TrimSpace(email))
	if k == "" {
		k = "name:" + kommune.Key(name)
	}
	sum := sha256.Sum256([]byte(regionID + "\n" + k))
	return "p-" + hex.EncodeToString(sum[:6])
}

// add appends e, making its id unique should two entries hash alike (a
// person listed twice): the later one gets a numeric suffix.
func (d *Directory) add(e Entry) {
	base := e.ID
	for n := 2; ; n++ {
		if _, dup := d.byID[e.ID]; !dup {
			break
		}
		e.ID = base + "-" + strconv.Itoa(n)
	}
	e.fold = foldEntry(&e)
	d.byID[e.ID] = len(d.entries)
	d.entries = append(d.entries, e)
}

// sort puts entries in the stable result order: by kind, the own region
// first, then by name in Danish alphabetical order (æ, ø, å last), then id.
func (d *Directory) sort() {
	col := collate.New(language.Danish, collate.IgnoreCase)
	kindRank := func(k Kind) int { return slices.Index(Kinds, k) }
	slices.SortStableFunc(d.entries, func(a, b Entry) int {
		if c := kindRank(a.Kind) - kindRank(b.Kind); c != 0 {
			return c
		}
		if a.Own != b.Own {
			if a.Own {
				return -1
			}
			return 1
		}
		if c := col.CompareString(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for i := range d.entries {
		d.entries[i].rank = i
		d.byID[d.entries[i].ID] = i
	}
}

// foldEntry is the text a search matches against. Fields are joined with a
// separator kommune.Key never produces, so a term can't match across two.
func foldEntry(e *Entry) string {
	parts := []string{e.Name, e.Title, e.Organisation, e.Kommune, e.Email, e.Phone,
		e.Description, e.RegionName, e.Region, string(e.Kind), KindLabel(e.Kind, "da"), KindLabel(e.Kind, "en")}
	if e.KommuneCode != 0 {
		parts = append(parts, strconv.Itoa(e.KommuneCode))
	}
	parts = append(parts, e.Coverage...)
	for _, t := range e.Tags {
		parts = append(parts, t, TagLabel(t, "da"), TagLabel(t, "en"))
	}
	if e.Host {
		parts = append(parts, "værtskommune", "host")
	}
	for i, p := range parts {
		parts[i] = kommune.Key(p)
	}
	return "|" + strings.Join(parts, "|") + "|"
}

// RegionID is the id of the hub's own region.
func (d *Directory) RegionID() string { return d.region }

// Entry returns the entry with the given id.
func (d *Directory) Entry(id string) (Entry, bool) {
	i, ok := d.byID[id]
	if !ok {
		return Entry{}, false
	}
	return d.entries[i], true
}

// Person returns the resource person with the given id.
func (d *Directory) Person(id string) (Entry, bool) {
	e, ok := d.Entry(id)
	return e, ok && e.Kind == Person
}

// Len is the number of entries.
func (d *Directory) Len() int { return len(d.entries) }
