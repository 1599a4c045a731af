// Package region holds the region model: the YAML a host municipality edits,
// its loader with file:line:col errors, and the semantic checks that turn it
// into a normalised Region the rest of hubkit can trust.
//
// The same structs serve as the YAML format (yaml tags) and the normalised
// form written into site bundles (json tags). Fields tagged yaml:"-" are
// filled in by normalisation and can't be written in a region file.
package region

// Region is one region file. After Load it is normalised: kommune names are
// canonical, phone numbers are +45 and eight digits, defaults are applied.
type Region struct {
	ID                string             `yaml:"id" json:"id"`
	Name              string             `yaml:"name" json:"name"`
	Host              string             `yaml:"host" json:"host"`
	Domain            string             `yaml:"domain" json:"domain"`
	Dev               bool               `yaml:"dev" json:"dev,omitempty"`
	Members           []string           `yaml:"members" json:"-"`
	Contact           Contact            `yaml:"contact" json:"contact"`
	IdentityProviders []IdentityProvider `yaml:"identity_providers" json:"identity_providers"`
	ResourcePersons   []Person           `yaml:"resource_persons" json:"resource_persons"`
	Partners          []Partner          `yaml:"partners" json:"partners"`
	FileDrop          FileDropPolicy     `yaml:"file_drop" json:"file_drop"`

	// Filled in by normalisation.
	HostCode int       `yaml:"-" json:"host_code"`
	Kommuner []Kommune `yaml:"-" json:"kommuner"`
	Source   string    `yaml:"-" json:"-"` // file the region was loaded from
}

// Kommune is a member municipality as written into bundles.
type Kommune struct {
	Code int    `json:"code"`
	Name string `json:"name"`
}

// Contact is how citizens and professionals reach the region's consultants.
type Contact struct {
	Hotline                string `yaml:"hotline" json:"hotline"`
	Email                  string `yaml:"email" json:"email"`
	Address                string `yaml:"address" json:"address"`
	Hours                  string `yaml:"hours" json:"hours,omitempty"`
	AccessibilityStatement string `yaml:"accessibility_statement" json:"accessibility_statement"`
}

// IdentityProvider is one member municipality's OpenID Connect provider.
type IdentityProvider struct {
	Kommune        string    `yaml:"kommune" json:"kommune"`
	Name           string    `yaml:"name" json:"name"`
	Kind           string    `yaml:"kind" json:"kind"` // generic, entra, os2faktor
	Issuer         string    `yaml:"issuer" json:"issuer"`
	ClientID       string    `yaml:"client_id" json:"client_id"`
	ClientSecret   SecretRef `yaml:"client_secret" json:"client_secret"`
	Scopes         []string  `yaml:"scopes" json:"scopes"`
	Claims         Claims    `yaml:"claims" json:"claims"`
	AllowedTenants []string  `yaml:"allowed_tenants" json:"allowed_tenants,omitempty"`
	// TrustedAudiences are the other clients an ID token may also be
	// issued to (aud) besides the hub; empty by default (internal/login).
	TrustedAudiences []string `yaml:"trusted_audiences" json:"trusted_audiences,omitempty"`
	// EmailDomains are the mail domains of the municipality's staff. A
	// file drop to an address at one of them is delivered to this region's
	// hub, whichever hub it was sent from.
	EmailDomains []string `yaml:"email_domains" json:"email_domains,omitempty"`
	Roles        RoleMap  `yaml:"roles" json:"roles"`
	NSIS         NSIS     `yaml:"nsis" json:"nsis"`

	KommuneCode int `yaml:"-" json:"kommune_code"`
}

// SecretRef points at a secret; the secret itself never sits in a region
// file, a bundle or Terraform state. Exactly one of Env and File is set.
type SecretRef struct {
	Env  string `yaml:"env" json:"env,omitempty"`
	File string `yaml:"file" json:"file,omitempty"`
}

// Claims names the ID-token claims hubkit reads. Empty fields take the
// defaults of the provider kind.
type Claims struct {
	Subject   string `yaml:"subject" json:"subject"`
	Email     string `yaml:"email" json:"email"`
	Name      string `yaml:"name" json:"name"`
	Roles     string `yaml:"roles" json:"roles"`
	Tenant    string `yaml:"tenant" json:"tenant,omitempty"`
	Assurance string `yaml:"assurance" json:"assurance,omitempty"`
}

// RoleMap maps claim values to hubkit roles: a user whose roles claim holds
// one of the listed values gets that role. Keys are the hubkit roles, so an
// unknown role is an unknown key.
type RoleMap struct {
	Consultant     []string `yaml:"consultant" json:"consultant,omitempty"`
	ResourcePerson []string `yaml:"resource_person" json:"resource_person,omitempty"`
	Professional   []string `yaml:"professional" json:"professional,omitempty"`
	Admin          []string `yaml:"admin" json:"admin,omitempty"`
}

// NSIS says how a provider reports the assurance level of a login and which
// level the hub requires. Levels maps hubkit's level names to the claim values
// that mean them; a login whose value maps to no level is refused.
type NSIS struct {
	Minimum   string   `yaml:"minimum" json:"minimum"`
	Levels    LevelMap `yaml:"levels" json:"levels"`
	Assume    string   `yaml:"assume" json:"assume,omitempty"`
	ACRValues []string `yaml:"acr_values" json:"acr_values,omitempty"`
}

// LevelMap lists, per NSIS level, the claim values that mean it.
type LevelMap struct {
	Low         []string `yaml:"low" json:"low,omitempty"`
	Substantial []string `yaml:"substantial" json:"substantial,omitempty"`
	High        []string `yaml:"high" json:"high,omitempty"`
}

// Person is a resource person in the contact directory.
type Person struct {
	Name         string   `yaml:"name" json:"name"`
	Title        string   `yaml:"title" json:"title"`
	Organisation string   `yaml:"organisation" json:"organisation"`
	Kommune      string   `yaml:"kommune" json:"kommune"`
	Email        string   `yaml:"email" json:"email"`
	Phone        string   `yaml:"phone" json:"phone,omitempty"`
	Tags         []string `yaml:"tags" json:"tags,omitempty"`
	Visibility   string   `yaml:"visibility" json:"visibility"` // region or national

	KommuneCode int `yaml:"-" json:"kommune_code"`
}

// Partner is an organisation the consultants work with.
type Partner struct {
	Name        string         `yaml:"name" json:"name"`
	Kind        string         `yaml:"kind" json:"kind"`
	Description string         `yaml:"description" json:"description,omitempty"`
	Contact     PartnerContact `yaml:"contact" json:"contact"`
	Coverage    []string       `yaml:"coverage" json:"coverage,omitempty"` // kommuner; empty = whole region
	Visibility  string         `yaml:"visibility" json:"visibility"`
}

// PartnerContact is how a partner is reached; at least one field is set.
type PartnerContact struct {
	Phone   string `yaml:"phone" json:"phone,omitempty"`
	Email   string `yaml:"email" json:"email,omitempty"`
	URL     string `yaml:"url" json:"url,omitempty"`
	Address string `yaml:"address" json:"address,omitempty"`
}

// FileDropPolicy bounds the file drop. Unset fields take the defaults of
// config/hubkit.yaml.
type FileDropPolicy struct {
	MaxFileSize          string `yaml:"max_file_size" json:"-"`
	MaxFilesPerDrop      *int   `yaml:"max_files_per_drop" json:"max_files_per_drop"`
	DefaultRetentionDays *int   `yaml:"default_retention_days" json:"default_retention_days"`
	MaxRetentionDays     *int   `yaml:"max_retention_days" json:"max_retention_days"`

	MaxFileBytes int64 `yaml:"-" json:"max_file_bytes"`
}

// Roles are hubkit's roles, in the order of RoleMap's fields.
var Roles = []string{"consultant", "resource_person", "professional", "admin"}

// NSISLevels are the Danish assurance levels, weakest first.
var NSISLevels = []string{"low", "substantial", "high"}

// ProviderKinds are the identity-provider presets.
var ProviderKinds = []string{"generic", "entra", "os2faktor"}

// Visibilities says who sees a directory entry.
var Visibilities = []string{"region", "national"}

// PartnerKinds are the kinds of partner organisation.
var PartnerKinds = []string{
	"crisis_centre", "police", "ngo", "state_agency", "municipal", "health", "helpline", "other",
}

// Tags are the directory tags a resource person may carry.
var Tags = []string{
	"ssp", "police", "lawyer", "adult_area", "children_youth", "family", "psychiatry", "health",
	"education", "housing", "employment", "interpreter", "crisis_shelter", "exit_support",
	"prevention", "radicalisation", "mediation",
}

// Role returns the hubkit roles a set of claim values maps to.
func (m RoleMap) Role(values []string) []string {
	var out []string
	for i, list := range [][]string{m.Consultant, m.ResourcePerson, m.Professional, m.Admin} {
		if anyIn(values, list) {
			out = append(out, Roles[i])
		}
	}
	return out
}

// Level returns the NSIS level a claim value stands for, or "".
func (m LevelMap) Level(value string) string {
	for i, list := range [][]string{m.Low, m.Substantial, m.High} {
		if anyIn([]string{value}, list) {
			return NSISLevels[i]
		}
	}
	return ""
}

// LevelRank orders NSIS levels; -1 for an unknown level.
func LevelRank(level string) int {
	for i, l := range NSISLevels {
		if l == level {
			return i
		}
	}
	return -1
}

func anyIn(values, list []string) bool {
	for _, v := range values {
		for _, l := range list {
			if v == l {
				return true
			}
		}
	}
	return false
}
