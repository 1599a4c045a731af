// Package bundle renders a region's site bundle: caddy.json (the hardened
// Caddy configuration), site.json (the normalised region and the national
// directory) and manifest.json (hashes and versions). Rendering is
// deterministic: the same input gives the same bytes, so a bundle's hash
// says whether anything changed. Bundles never hold secrets.
package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/devidp"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/site"
)

// File names in a bundle.
const (
	CaddyFile    = "caddy.json"
	SiteFile     = "site.json"
	ManifestFile = "manifest.json"
	// BackupFile holds the backup settings of the global configuration
	// (operators' age public keys, retention), for the host's nightly
	// hubctl backup --bundle; present only when backup.recipients is set.
	BackupFile = "backup.json"
)

// DevPort is the HTTPS port of development hubs.
const DevPort = 8443

// Options change how a bundle is rendered.
type Options struct {
	// Dev renders a development bundle: the hub on <id>.hub.localhost with
	// Caddy's internal CA, and the development identity provider in place
	// of the municipalities' real ones.
	Dev bool
	// Version is the hubctl version recorded in the manifest.
	Version string
	// Port is the HTTPS port the hub listens on: 443 by default, DevPort
	// in development. Development hubs served side by side each get their own.
	Port int
	// PeerPorts are the HTTPS ports of the other regions' hubs, where they
	// differ from Port (local hubs side by side, each on its own port).
	// The file drop delivers to them.
	PeerPorts map[string]int
}

// peerURL is the base URL a hub reaches another region's hub at.
func (o Options) peerURL(id, domain string) string {
	port := o.port()
	if p, ok := o.PeerPorts[id]; ok && p != 0 {
		port = p
	}
	if port == 443 {
		return "https://" + domain
	}
	return fmt.Sprintf("https://%s:%d", domain, port)
}

func (o Options) port() int {
	switch {
	case o.Port != 0:
		return o.Port
	case o.Dev:
		return DevPort
	}
	return 443
}

// Manifest describes a bundle; BundleHash identifies its content.
type Manifest struct {
	Format        int               `json:"format"`
	Region        string            `json:"region"`
	Domain        string            `json:"domain"`
	Dev           bool              `json:"dev,omitempty"`
	HubctlVersion string            `json:"hubctl_version"`
	Files         map[string]string `json:"files"` // name → sha256 hex
	BundleHash    string            `json:"bundle_hash"`
}

// Bundle is a rendered bundle in memory.
type Bundle struct {
	Files    map[string][]byte
	Manifest Manifest
}

// Render renders the bundle of region id from the loaded set of regions.
func Render(set *region.Set, id string, cfg *config.Config, opt Options) (*Bundle, error) {
	r := set.Region(id)
	if r == nil {
		return nil, fmt.Errorf("region %q is not loaded (run hubctl validate)", id)
	}
	st := siteOf(set, *r, cfg, opt)
	siteJSON, err := marshal(st)
	if err != nil {
		return nil, err
	}
	caddyJSON, err := marshal(caddyConfig(st, opt, cfg.FileDrop))
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{CaddyFile: caddyJSON, SiteFile: siteJSON}
	names := []string{CaddyFile, SiteFile}
	if len(cfg.Backup.Recipients) > 0 {
		if files[BackupFile], err = marshal(BackupSettings{Recipients: cfg.Backup.Recipients,
			KeepDaily: cfg.Backup.KeepDaily, KeepWeekly: cfg.Backup.KeepWeekly}); err != nil {
			return nil, err
		}
		names = append(names, BackupFile)
	}
	m := Manifest{
		Format: site.Format, Region: st.Region.ID, Domain: st.Region.Domain, Dev: opt.Dev,
		HubctlVersion: opt.Version, Files: map[string]string{},
	}
	h := sha256.New()
	for _, name := range names {
		sum := sha256.Sum256(files[name])
		m.Files[name] = hex.EncodeToString(sum[:])
		fmt.Fprintf(h, "%s  %s\n", m.Files[name], name)
	}
	m.BundleHash = hex.EncodeToString(h.Sum(nil))
	if files[ManifestFile], err = marshal(m); err != nil {
		return nil, err
	}
	return &Bundle{Files: files, Manifest: m}, nil
}

// BackupSettings is the content of BackupFile: public keys and numbers,
// nothing secret.
type BackupSettings struct {
	Recipients []string `json:"recipients"`
	KeepDaily  int      `json:"keep_daily"`
	KeepWeekly int      `json:"keep_weekly"`
}

// ReadBackupSettings reads a bundle's BackupFile; ok is false when the
// bundle has none.
func ReadBackupSettings(dir string) (s BackupSettings, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, BackupFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, false, fmt.Errorf("%s: %w", filepath.Join(dir, BackupFile), err)
	}
	return s, true, nil
}

// Write writes the bundle into dir atomically per file (temp file, fsync,
// rename), so a reader never sees a half-written file.
func (b *Bundle) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(b.Files))
	for n := range b.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := writeAtomic(filepath.Join(dir, n), b.Files[n]); err != nil {
			return err
		}
	}
	return nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ReadManifest reads the manifest of a bundle directory.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return &m, nil
}

// Verify checks that the files in dir match the manifest's hashes.
func Verify(dir string) (*Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	for name, want := range m.Files {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != want {
			return nil, fmt.Errorf("%s: content does not match manifest.json (the bundle was edited or damaged; render it again)", filepath.Join(dir, name))
		}
	}
	return m, nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// siteOf builds site.json's content for r.
func siteOf(set *region.Set, r region.Region, cfg *config.Config, opt Options) *site.Site {
	st := &site.Site{
		Format: site.Format,
		Session: site.SessionPolicy{
			IdleTimeout:     site.Duration(cfg.Session.IdleTimeout),
			AbsoluteTimeout: site.Duration(cfg.Session.AbsoluteTimeout),
		},
		Login: site.LoginPolicy{
			ClientPerMinute: cfg.Login.ClientPerMinute, ClientBurst: cfg.Login.ClientBurst,
			KommunePerMinute: cfg.Login.KommunePerMinute, KommuneBurst: cfg.Login.KommuneBurst,
		},
		National: site.NationalDir{Persons: []site.NationalPerson{}, Partners: []site.NationalPartner{}},
	}
	for _, o := range set.Regions {
		domain := o.Domain
		if opt.Dev {
			domain = DevDomain(o.ID)
		}
		info := site.RegionInfo{
			ID: o.ID, Name: o.Name, Host: o.Host, Domain: domain, Hotline: o.Contact.Hotline, Email: o.Contact.Email,
			URL: opt.peerURL(o.ID, domain), Kommuner: []int{}, Tenants: []string{}, EmailDomains: []string{},
		}
		for _, k := range o.Kommuner {
			info.Kommuner = append(info.Kommuner, k.Code)
		}
		providers := o.IdentityProviders
		if opt.Dev {
			providers = devRegion(*o, opt.port()).IdentityProviders
		}
		for _, p := range providers {
			info.Tenants = append(info.Tenants, p.AllowedTenants...)
			info.EmailDomains = append(info.EmailDomains, p.EmailDomains...)
		}
		sort.Strings(info.Tenants)
		sort.Strings(info.EmailDomains)
		st.Regions = append(st.Regions, info)
		for _, p := range o.ResourcePersons {
			if p.Visibility == "national" {
				st.National.Persons = append(st.National.Persons, site.NationalPerson{Region: o.ID, Person: p})
			}
		}
		for _, p := range o.Partners {
			if p.Visibility == "national" {
				st.National.Partners = append(st.National.Partners, site.NationalPartner{Region: o.ID, Partner: p})
			}
		}
	}
	sort.Slice(st.Regions, func(i, j int) bool { return st.Regions[i].ID < st.Regions[j].ID })
	if opt.Dev {
		r = devRegion(r, opt.port())
		st.Dev = &site.DevSettings{IdPURL: DevIdPURL(opt.port())}
	}
	st.Region = r
	return st
}

// DevDomain is the host name of a region's development hub.
func DevDomain(id string) string { return id + ".hub.localhost" }

// DevIdPURL is the base URL of the development identity provider served
// next to development hubs on port.
func DevIdPURL(port int) string { return fmt.Sprintf("https://%s:%d", devidp.Host, port) }

// devRegion points a region at the development identity provider.
func devRegion(r region.Region, port int) region.Region {
	r.Dev = true
	r.Domain = DevDomain(r.ID)
	members := make([]int, len(r.Kommuner))
	for i, k := range r.Kommuner {
		members[i] = k.Code
	}
	r.IdentityProviders = nil
	for _, code := range devidp.Kommuner(r.HostCode, members) {
		name := ""
		for _, k := range r.Kommuner {
			if k.Code == code {
				name = k.Name
			}
		}
		lv := region.LevelMap{Low: []string{"Low"}, Substantial: []string{"Substantial"}, High: []string{"High"}}
		r.IdentityProviders = append(r.IdentityProviders, region.IdentityProvider{
			Kommune: name, KommuneCode: code, Name: name + " (udviklings-login)", Kind: "os2faktor",
			Issuer:       devidp.Issuer(DevIdPURL(port), code),
			ClientID:     devidp.ClientID(r.ID),
			ClientSecret: region.SecretRef{Env: devidp.SecretEnv},
			Scopes:       []string{"openid", "profile", "email"},
			Claims:       region.Claims{Subject: "sub", Email: "email", Name: "name", Roles: "roles", Assurance: devidp.LoAClaim},
			Roles: region.RoleMap{
				Consultant: devidp.RoleValues["consultant"], ResourcePerson: devidp.RoleValues["resource_person"],
				Professional: devidp.RoleValues["professional"], Admin: devidp.RoleValues["admin"],
			},
			NSIS:         region.NSIS{Minimum: "substantial", Levels: lv},
			EmailDomains: []string{devidp.EmailDomain(code)},
		})
	}
	return r
}

// issuerOrigins are the origins a login or logout may redirect a form
// submission to; the CSP's form-action must allow them.
func issuerOrigins(r region.Region) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range r.IdentityProviders {
		o := p.Issuer
		if i := strings.Index(o[strings.Index(o, "://")+3:], "/"); i >= 0 {
			o = o[:strings.Index(o, "://")+3+i]
		}
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	sort.Strings(out)
	return out
}
