package region

import (
	"fmt"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/hubkit/hubkit/internal/kommune"
)

// Defaults are the global policy values (config/hubkit.yaml) that a region
// file may leave out.
type Defaults struct {
	MaxFileSize          string   `mapstructure:"max_file_size"`
	MaxFilesPerDrop      int      `mapstructure:"max_files_per_drop"`
	DefaultRetentionDays int      `mapstructure:"default_retention_days"`
	MaxRetentionDays     int      `mapstructure:"max_retention_days"`
	NSISMinimum          string   `mapstructure:"nsis_minimum"`
	Scopes               []string `mapstructure:"scopes"`
}

// BuiltinDefaults are used when config/hubkit.yaml sets nothing.
var BuiltinDefaults = Defaults{
	MaxFileSize:          "2 GiB",
	MaxFilesPerDrop:      20,
	DefaultRetentionDays: 30,
	MaxRetentionDays:     90,
	NSISMinimum:          "substantial",
	Scopes:               []string{"openid", "profile", "email"},
}

// Bounds beyond which a policy value is surely a mistake.
const (
	maxFileSizeLimit   = 100 << 30 // 100 GiB
	maxFilesLimit      = 1000
	maxRetentionLimit  = 3650 // ten years
	nsisClaimOS2faktor = "https://data.gov.dk/concept/core/nsis/loa"
)

var (
	idRe         = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	envNameRe    = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	labelRe      = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	mailDomainRe = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	uuidRe       = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	phoneStrip   = strings.NewReplacer(" ", "", "-", "", ".", "", "(", "", ")", "", "\u00a0", "")
)

// check validates one parsed region against the reference data and fills in
// normalised values and defaults. Problems go to d.
func (d *doc) check(r *Region, def Defaults) {
	d.checking = true
	defer func() { d.checking = false }()
	c := checker{doc: d, r: r}
	c.identity()
	members := c.members()
	c.host(members)
	c.contact()
	c.providers(members)
	c.persons(members)
	c.partners(members)
	c.fileDrop(def)
	for i := range r.IdentityProviders {
		applyProviderDefaults(&r.IdentityProviders[i], def)
	}
}

type checker struct {
	*doc
	r *Region
}

func (c checker) required(path, value, what, hint string) bool {
	if strings.TrimSpace(value) == "" {
		c.at(path, what+" is missing", hint)
		return false
	}
	return true
}

func (c checker) identity() {
	r := c.r
	if c.required("/id", r.ID, "id", "the region's id, e.g. nordjylland") {
		if _, ok := kommune.RegionByID(r.ID); !ok {
			ids := []string{}
			for _, reg := range kommune.Regions() {
				ids = append(ids, reg.ID)
			}
			hint := "one of " + strings.Join(ids, ", ")
			if m := closest(r.ID, ids, nil); m != "" {
				hint = fmt.Sprintf("did you mean %q?", m)
			}
			c.at("/id", fmt.Sprintf("%q is not a Danish region id", r.ID), hint)
		}
	}
	c.required("/name", r.Name, "name", "the display name, e.g. Region Nordjylland")
	if c.required("/domain", r.Domain, "domain", "the host name the hub is served on, e.g. nordjylland.hub.example") {
		r.Domain = strings.ToLower(strings.TrimSuffix(r.Domain, "."))
		if msg := domainProblem(r.Domain, r.Dev); msg != "" {
			c.at("/domain", msg, "a host name such as hub.aalborg.dk, without https:// or a path")
		}
	}
}

// resolve finds a kommune written as a name or code, reporting unknown ones.
func (c checker) resolve(path, s string) (kommune.Kommune, bool) {
	k, ok, _ := c.resolveMeant(path, s)
	return k, ok
}

// resolveMeant is resolve that also returns, for a misspelt name, the
// municipality it most likely meant.
func (c checker) resolveMeant(path, s string) (k kommune.Kommune, ok bool, meant kommune.Kommune) {
	if !c.required(path, s, "kommune", "a municipality name or code, e.g. Aalborg or 851") {
		return k, false, meant
	}
	if k, ok = kommune.Lookup(s); ok {
		return k, true, meant
	}
	if _, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		c.at(path, fmt.Sprintf("%s is not a municipality code", s), "codes are three digits, e.g. 851 for Aalborg; see internal/kommune/kommuner.csv")
		return k, false, meant
	}
	hint := "write the name as in internal/kommune/kommuner.csv, or the code"
	if m := closest(s, kommune.Names(), kommune.Key); m != "" {
		hint = fmt.Sprintf("did you mean %q?", m)
		meant, _ = kommune.Lookup(m)
	}
	c.at(path, fmt.Sprintf("unknown municipality %q", s), hint)
	return k, false, meant
}

// regionName is "Region Nordjylland" for a known id, else the id.
func regionName(id string) string {
	if reg, ok := kommune.RegionByID(id); ok {
		return "Region " + reg.Name
	}
	return id
}

// member resolves a kommune that must belong to this region.
func (c checker) member(path, s string, members map[int]bool, what string) (kommune.Kommune, bool) {
	k, ok := c.resolve(path, s)
	if !ok {
		return k, false
	}
	if len(members) > 0 && !members[k.Code] { // no members: reported already
		c.at(path, fmt.Sprintf("%s %s is not a member of %s", what, k.Name, regionName(c.r.ID)), "add it to members, or use a member municipality")
		return k, false
	}
	return k, true
}

func (c checker) members() map[int]bool {
	r := c.r
	in := map[int]bool{}
	if len(r.Members) == 0 {
		c.at("/members", "members is missing", "list every municipality of the region under members:")
		return in
	}
	reg, known := kommune.RegionByID(r.ID)
	firstAt := map[int]int{}
	c.codes = make([]int, len(r.Members))
	for i, s := range r.Members {
		p := "/members/" + strconv.Itoa(i)
		k, ok, meant := c.resolveMeant(p, s)
		if !ok {
			// The misspelling is the one error: count the municipality
			// it meant as a member, so host, providers and persons
			// naming it, and the list of missing members, stay quiet.
			if meant.Code != 0 && (!known || meant.Region == reg.ID) {
				in[meant.Code] = true
			}
			continue
		}
		c.codes[i] = k.Code
		if j, dup := firstAt[k.Code]; dup {
			c.at(p, fmt.Sprintf("%s is listed twice in members (also entry %d)", k.Name, j+1), "remove one")
			continue
		}
		firstAt[k.Code] = i
		if known && k.Region != reg.ID {
			other, _ := kommune.RegionByID(k.Region)
			c.at(p, fmt.Sprintf("%s belongs to Region %s, not Region %s", k.Name, other.Name, reg.Name), "remove it here; it is listed in regions/"+k.Region+".yaml")
			continue
		}
		in[k.Code] = true
		r.Kommuner = append(r.Kommuner, Kommune{Code: k.Code, Name: k.Name})
		r.Members[i] = k.Name
	}
	if known {
		var missing []string
		for _, k := range kommune.InRegion(reg.ID) {
			if !in[k.Code] {
				missing = append(missing, k.Name)
			}
		}
		if len(missing) > 0 {
			c.atKey("/members", fmt.Sprintf("members lacks %d municipalit%s of Region %s: %s",
				len(missing), plural(len(missing), "y", "ies"), reg.Name, strings.Join(missing, ", ")),
				"every municipality of the region is a member; add them")
		}
	}
	sortKommuner(r.Kommuner)
	return in
}

func (c checker) host(members map[int]bool) {
	if !c.has("/host") {
		c.at("/host", "host is missing", "the host municipality (værtskommune), e.g. host: Aalborg")
		return
	}
	k, ok := c.resolve("/host", c.r.Host)
	if !ok {
		return
	}
	if len(members) > 0 && !members[k.Code] {
		c.at("/host", fmt.Sprintf("host %s is not a member of the region", k.Name), "the host must be one of the members")
		return
	}
	c.r.Host, c.r.HostCode = k.Name, k.Code
}

func (c checker) contact() {
	ct := &c.r.Contact
	if !c.has("/contact") {
		c.at("/contact", "contact is missing", "add contact: with hotline, email and accessibility_statement")
		return
	}
	if c.required("/contact/hotline", ct.Hotline, "contact hotline", "the consultants' phone number") {
		ct.Hotline = c.phone("/contact/hotline", ct.Hotline, true)
	}
	if c.required("/contact/email", ct.Email, "contact email", "") {
		c.email("/contact/email", ct.Email)
	}
	if c.required("/contact/accessibility_statement", ct.AccessibilityStatement, "contact accessibility_statement",
		"the URL of the hub's accessibility statement (tilgængelighedserklæring), required by law") {
		c.httpsURL("/contact/accessibility_statement", ct.AccessibilityStatement, false, webPage)
	}
}

func (c checker) providers(members map[int]bool) {
	r := c.r
	if len(r.IdentityProviders) == 0 {
		c.at("/identity_providers", "identity_providers is missing", "add at least the host municipality's OpenID Connect provider")
		return
	}
	byKommune := map[int]int{}
	for i := range r.IdentityProviders {
		p := &r.IdentityProviders[i]
		path := "/identity_providers/" + strconv.Itoa(i)
		if k, ok := c.member(path+"/kommune", p.Kommune, members, "identity provider for"); ok {
			if j, dup := byKommune[k.Code]; dup {
				c.at(path+"/kommune", fmt.Sprintf("%s already has an identity provider (entry %d)", k.Name, j+1), "one provider per municipality; remove or merge them")
			}
			byKommune[k.Code] = i
			p.Kommune, p.KommuneCode = k.Name, k.Code
			if p.Name == "" {
				p.Name = k.Name + " Kommune"
			}
		}
		if p.Kind == "" {
			p.Kind = "generic"
		} else {
			c.enum(path+"/kind", p.Kind, ProviderKinds, "provider kind")
		}
		if c.required(path+"/issuer", p.Issuer, "issuer", "the provider's issuer URL, as in its /.well-known/openid-configuration") {
			c.httpsURL(path+"/issuer", p.Issuer, r.Dev, issuer)
		}
		c.required(path+"/client_id", p.ClientID, "client_id", "the client id the municipality registered for this hub")
		c.secret(path+"/client_secret", p.ClientSecret)
		for j, s := range p.Scopes {
			if strings.ContainsAny(s, " \t") || s == "" {
				c.at(fmt.Sprintf("%s/scopes/%d", path, j), fmt.Sprintf("scope %q is not a single word", s), "list scopes one per entry")
			}
		}
		if len(p.Scopes) > 0 && !contains(p.Scopes, "openid") {
			c.at(path+"/scopes", "scopes must include openid", "add openid to the list")
		}
		if len(p.Roles.Consultant)+len(p.Roles.ResourcePerson)+len(p.Roles.Professional)+len(p.Roles.Admin) == 0 {
			c.at(path+"/roles", "roles maps no claim value to a hubkit role, so nobody could log in",
				"e.g. roles: { consultant: [sikkerhedskonsulent] }")
		}
		for j, t := range p.AllowedTenants {
			if !uuidRe.MatchString(t) {
				c.at(fmt.Sprintf("%s/allowed_tenants/%d", path, j), fmt.Sprintf("%q is not a tenant id", t), "an Entra ID tenant id is a UUID")
			}
		}
		for j, d := range p.EmailDomains {
			norm := strings.ToLower(strings.TrimSpace(d))
			if !mailDomainRe.MatchString(norm) {
				c.at(fmt.Sprintf("%s/email_domains/%d", path, j), fmt.Sprintf("%q is not a mail domain", d), "write the part after @, e.g. aalborg.dk")
				continue
			}
			p.EmailDomains[j] = norm
		}
		if p.Kind == "entra" && len(p.AllowedTenants) == 0 {
			c.at(path+"/allowed_tenants", "an entra provider needs allowed_tenants", "list the municipality's tenant id(s) so users of other tenants are refused")
		}
		if p.NSIS.Minimum != "" {
			c.enum(path+"/nsis/minimum", p.NSIS.Minimum, NSISLevels, "NSIS level")
		}
		if p.NSIS.Assume != "" {
			c.enum(path+"/nsis/assume", p.NSIS.Assume, NSISLevels, "NSIS level")
		}
	}
}

func (c checker) secret(path string, s SecretRef) {
	switch {
	case !c.has(path):
		c.at(path, "client_secret is missing", "refer to it: { env: HUBKIT_OIDC_..._SECRET } or { file: /etc/hubkit/secrets/name }")
	case s.Env != "" && s.File != "":
		c.at(path, "client_secret names both env and file", "keep one")
	case s.Env != "":
		if !envNameRe.MatchString(s.Env) {
			c.at(path+"/env", fmt.Sprintf("%q is not an environment variable name", s.Env), "upper case letters, digits and _, e.g. HUBKIT_OIDC_AALBORG_SECRET")
		}
	case s.File != "":
		if !filepath.IsAbs(s.File) {
			c.at(path+"/file", fmt.Sprintf("%q is not an absolute path", s.File), "e.g. /etc/hubkit/secrets/aalborg-oidc")
		}
	default:
		c.at(path, "client_secret names neither env nor file", "{ env: NAME } or { file: /path }")
	}
}

func (c checker) persons(members map[int]bool) {
	byEmail := map[string]int{}
	byName := map[string]int{}
	for i := range c.r.ResourcePersons {
		p := &c.r.ResourcePersons[i]
		path := "/resource_persons/" + strconv.Itoa(i)
		c.required(path+"/name", p.Name, "name", "")
		c.required(path+"/title", p.Title, "title", "e.g. SSP-konsulent")
		c.required(path+"/organisation", p.Organisation, "organisation", "e.g. Aalborg Kommune")
		if k, ok := c.member(path+"/kommune", p.Kommune, members, "kommune"); ok {
			p.Kommune, p.KommuneCode = k.Name, k.Code
		}
		if c.required(path+"/email", p.Email, "email", "") && c.email(path+"/email", p.Email) {
			key := strings.ToLower(p.Email)
			if j, dup := byEmail[key]; dup {
				c.at(path+"/email", fmt.Sprintf("%s is listed twice (also resource person %d)", p.Email, j+1), "remove the duplicate person")
			} else {
				byEmail[key] = i
			}
		}
		if p.Name != "" && p.Organisation != "" {
			key := kommune.Key(p.Name) + "|" + kommune.Key(p.Organisation)
			if j, dup := byName[key]; dup {
				c.at(path+"/name", fmt.Sprintf("%s of %s is listed twice (also resource person %d)", p.Name, p.Organisation, j+1), "remove the duplicate person")
			} else {
				byName[key] = i
			}
		}
		if p.Phone != "" {
			p.Phone = c.phone(path+"/phone", p.Phone, false)
		}
		for j, t := range p.Tags {
			c.enum(fmt.Sprintf("%s/tags/%d", path, j), t, Tags, "tag")
		}
		p.Visibility = c.visibility(path+"/visibility", p.Visibility)
	}
}

func (c checker) partners(members map[int]bool) {
	for i := range c.r.Partners {
		p := &c.r.Partners[i]
		path := "/partners/" + strconv.Itoa(i)
		c.required(path+"/name", p.Name, "name", "")
		if c.required(path+"/kind", p.Kind, "kind", "one of "+strings.Join(PartnerKinds, ", ")) {
			c.enum(path+"/kind", p.Kind, PartnerKinds, "partner kind")
		}
		ct := &p.Contact
		if ct.Phone == "" && ct.Email == "" && ct.URL == "" && ct.Address == "" {
			c.at(path+"/contact", "partner has no contact", "give at least one of phone, email, url, address")
		}
		if ct.Phone != "" {
			ct.Phone = c.phone(path+"/contact/phone", ct.Phone, true)
		}
		if ct.Email != "" {
			c.email(path+"/contact/email", ct.Email)
		}
		if ct.URL != "" {
			c.httpsURL(path+"/contact/url", ct.URL, false, webPage)
		}
		for j, s := range p.Coverage {
			if k, ok := c.member(fmt.Sprintf("%s/coverage/%d", path, j), s, members, "coverage"); ok {
				p.Coverage[j] = k.Name
			}
		}
		p.Visibility = c.visibility(path+"/visibility", p.Visibility)
	}
}

func (c checker) visibility(path, v string) string {
	if v == "" {
		return "region"
	}
	c.enum(path, v, Visibilities, "visibility")
	return v
}

func (c checker) fileDrop(def Defaults) {
	fd := &c.r.FileDrop
	const base = "/file_drop"
	size := fd.MaxFileSize
	if size == "" {
		size = def.MaxFileSize
	}
	if n, err := humanize.ParseBytes(size); err != nil {
		c.at(base+"/max_file_size", fmt.Sprintf("max_file_size %q is not a size", size), "e.g. 2 GiB or 500 MB")
	} else if n == 0 || n > maxFileSizeLimit {
		c.at(base+"/max_file_size", fmt.Sprintf("max_file_size %s is outside 1 byte to 100 GiB", size), "e.g. 2 GiB")
	} else {
		fd.MaxFileBytes = int64(n)
	}
	files := c.positive(base+"/max_files_per_drop", &fd.MaxFilesPerDrop, def.MaxFilesPerDrop, maxFilesLimit)
	deflt := c.positive(base+"/default_retention_days", &fd.DefaultRetentionDays, def.DefaultRetentionDays, maxRetentionLimit)
	maxR := c.positive(base+"/max_retention_days", &fd.MaxRetentionDays, def.MaxRetentionDays, maxRetentionLimit)
	if files && deflt && maxR && *fd.DefaultRetentionDays > *fd.MaxRetentionDays {
		path := base + "/default_retention_days"
		if !c.has(path) {
			path = base + "/max_retention_days"
		}
		c.at(path, fmt.Sprintf("default_retention_days (%d) is above max_retention_days (%d)", *fd.DefaultRetentionDays, *fd.MaxRetentionDays),
			"the default retention must not exceed the maximum")
	}
}

// positive applies a default to *v and checks 1 ≤ *v ≤ limit.
func (c checker) positive(path string, v **int, def, limit int) bool {
	if *v == nil {
		d := def
		*v = &d
	}
	if n := **v; n < 1 || n > limit {
		c.at(path, fmt.Sprintf("%s is %d; it must be between 1 and %d", last(path), n, limit), "")
		return false
	}
	return true
}

func (c checker) enum(path, v string, allowed []string, what string) bool {
	if contains(allowed, v) {
		return true
	}
	hint := "one of " + strings.Join(allowed, ", ")
	if m := closest(v, allowed, nil); m != "" {
		hint = fmt.Sprintf("did you mean %q?", m)
	}
	c.at(path, fmt.Sprintf("unknown %s %q", what, v), hint)
	return false
}

func (c checker) email(path, s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		c.at(path, fmt.Sprintf("%q is not an email address", s), "write the bare address, e.g. name@kommune.dk")
		return false
	}
	return true
}

// phone normalises a phone number to +45 and eight digits. Short Danish
// service numbers (114, 1888) are allowed where short is true; other
// countries' numbers are kept in international form.
func (c checker) phone(path, s string, short bool) string {
	n := phoneStrip.Replace(strings.TrimSpace(s))
	if strings.HasPrefix(n, "00") {
		n = "+" + n[2:]
	}
	digits := strings.TrimPrefix(n, "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		c.at(path, fmt.Sprintf("%q is not a phone number", s), "a Danish number has eight digits, e.g. 12 34 56 78 or +45 12 34 56 78")
		return s
	}
	switch {
	case strings.HasPrefix(n, "+45"):
		if len(digits) == 10 {
			return n
		}
	case strings.HasPrefix(n, "+"):
		if len(digits) >= 7 && len(digits) <= 15 {
			return n
		}
	case len(n) == 8:
		return "+45" + n
	case short && (len(n) == 3 || len(n) == 4):
		return n
	}
	c.at(path, fmt.Sprintf("%q is not a valid phone number", s), "a Danish number has eight digits, e.g. 12 34 56 78 or +45 12 34 56 78")
	return s
}

// urlKind says what a URL field may hold beyond scheme, host and path.
type urlKind int

const (
	webPage urlKind = iota // a page people open: a query or #fragment is fine
	issuer                 // an OpenID issuer: neither query nor fragment
)

// httpsURL checks a URL field: a full https URL without a user name or
// password (they would end up in bundles and logs); http only on a
// loopback host in development region files.
func (c checker) httpsURL(path, s string, devLocal bool, kind urlKind) {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		c.at(path, fmt.Sprintf("%q is not a URL", s), "a full address such as https://example.dk/page")
		return
	case strings.ContainsAny(s, " \t\n\\"):
		c.at(path, fmt.Sprintf("%q holds a space or a backslash", s), "a URL has neither; write %20 for a space")
		return
	case u.User != nil:
		c.at(path, fmt.Sprintf("%q holds a user name or password (before @)", redactUser(u)), "never put credentials in a URL; remove the part before @")
		return
	case kind == issuer && (u.RawQuery != "" || u.ForceQuery):
		c.at(path, fmt.Sprintf("issuer %q has a query (?…)", s), "an OpenID Connect issuer has no query; write it exactly as \"issuer\" in the provider's /.well-known/openid-configuration")
		return
	case kind == issuer && (u.Fragment != "" || strings.Contains(s, "#")):
		c.at(path, fmt.Sprintf("issuer %q has a fragment (#…)", s), "an OpenID Connect issuer has no fragment; write it exactly as \"issuer\" in the provider's /.well-known/openid-configuration")
		return
	}
	local := isLocalHost(u.Hostname())
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && local && devLocal:
	case u.Scheme == "http" && local:
		c.at(path, fmt.Sprintf("%q uses http", s), "http on localhost is allowed only in development region files (dev: true)")
	default:
		c.at(path, fmt.Sprintf("%q is not an https URL", s), "use https://")
	}
}

// redactUser writes u with its password, if any, hidden: the message
// must not repeat a secret.
func redactUser(u *url.URL) string {
	if _, ok := u.User.Password(); ok {
		return u.Redacted()
	}
	return u.String()
}

func isLocalHost(h string) bool {
	return h == "localhost" || strings.HasSuffix(h, ".localhost") || h == "127.0.0.1" || h == "::1"
}

func domainProblem(d string, dev bool) string {
	if strings.Contains(d, "://") || strings.ContainsAny(d, "/:") {
		return fmt.Sprintf("domain %q must be a bare host name", d)
	}
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return fmt.Sprintf("%q is not a full domain name", d)
	}
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return fmt.Sprintf("%q is not a valid domain name (label %q)", d, l)
		}
	}
	if isLocalHost(d) && !dev {
		return fmt.Sprintf("domain %q is local", d) + "; .localhost is only for development region files (dev: true)"
	}
	return ""
}

// applyProviderDefaults fills in what a provider's kind implies.
func applyProviderDefaults(p *IdentityProvider, def Defaults) {
	if len(p.Scopes) == 0 {
		p.Scopes = append([]string(nil), def.Scopes...)
	}
	if p.NSIS.Minimum == "" {
		p.NSIS.Minimum = def.NSISMinimum
	}
	cl := &p.Claims
	set := func(f *string, v string) {
		if *f == "" {
			*f = v
		}
	}
	switch p.Kind {
	case "entra":
		set(&cl.Subject, "oid")
		set(&cl.Tenant, "tid")
		set(&cl.Email, "preferred_username")
	case "os2faktor":
		set(&cl.Assurance, nsisClaimOS2faktor)
		lv := &p.NSIS.Levels
		if len(lv.Low)+len(lv.Substantial)+len(lv.High) == 0 {
			lv.Low = []string{"Low", "low", nsisClaimOS2faktor + "/low"}
			lv.Substantial = []string{"Substantial", "substantial", nsisClaimOS2faktor + "/substantial"}
			lv.High = []string{"High", "high", nsisClaimOS2faktor + "/high"}
		}
	}
	set(&cl.Subject, "sub")
	set(&cl.Email, "email")
	set(&cl.Name, "name")
	set(&cl.Roles, "roles")
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
