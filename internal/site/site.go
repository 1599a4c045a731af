// Package site is the contract between rendering and serving: site.json,
// the normalised region plus what a hub needs from the other regions (the
// national directory), written by internal/bundle and read by the hub.
package site

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/hubkit/hubkit/internal/region"
)

// Format is the version of site.json; a hub refuses a site it doesn't know.
const Format = 1

// Site is everything one regional hub serves, minus secrets.
type Site struct {
	Format   int           `json:"format"`
	Region   region.Region `json:"region"`
	Regions  []RegionInfo  `json:"regions"`  // all five, for the national view
	National NationalDir   `json:"national"` // entries of all regions marked national
	Session  SessionPolicy `json:"session"`
	Login    LoginPolicy   `json:"login"`
	Dev      *DevSettings  `json:"dev,omitempty"`
}

// RegionInfo is how a hub presents another region.
type RegionInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Host    string `json:"host"`
	Domain  string `json:"domain"`
	Hotline string `json:"hotline"`
	Email   string `json:"email"`
	// URL is where the region's hub is reached (https://domain[:port]);
	// the file drop delivers drops for the region's users there.
	URL string `json:"url"`
	// Kommuner, Tenants and EmailDomains say whose the region's users
	// are: the municipality codes of its members, the Entra tenants its
	// providers allow and the mail domains they list. A drop recipient is
	// routed to the region by these.
	Kommuner     []int    `json:"kommuner"`
	Tenants      []string `json:"tenants"`
	EmailDomains []string `json:"email_domains"`
}

// NationalDir holds the directory entries that every region sees.
type NationalDir struct {
	Persons  []NationalPerson  `json:"persons"`
	Partners []NationalPartner `json:"partners"`
}

// NationalPerson is a resource person with the region they belong to.
type NationalPerson struct {
	Region string `json:"region"`
	region.Person
}

// NationalPartner is a partner with the region that lists it.
type NationalPartner struct {
	Region string `json:"region"`
	region.Partner
}

// SessionPolicy bounds login sessions.
type SessionPolicy struct {
	IdleTimeout     Duration `json:"idle_timeout"`
	AbsoluteTimeout Duration `json:"absolute_timeout"`
}

// LoginPolicy bounds login attempts: per client address and per
// municipality, per minute with a burst.
type LoginPolicy struct {
	ClientPerMinute  int `json:"client_per_minute"`
	ClientBurst      int `json:"client_burst"`
	KommunePerMinute int `json:"kommune_per_minute"`
	KommuneBurst     int `json:"kommune_burst"`
}

// DevSettings marks a development site: served on *.hub.localhost with
// Caddy's internal CA and the embedded development identity provider.
type DevSettings struct {
	IdPURL string `json:"idp_url"` // base URL of the development identity provider
}

// Duration is a time.Duration written as text ("30m0s") in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Load reads and checks a site.json.
func Load(path string) (*Site, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Site
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.Format != Format {
		return nil, fmt.Errorf("%s: site format %d, this hubctl reads format %d (render the bundle with this hubctl)", path, s.Format, Format)
	}
	if s.Region.ID == "" || s.Region.Domain == "" {
		return nil, fmt.Errorf("%s: no region in site file", path)
	}
	return &s, nil
}

// Provider returns the identity provider of a kommune, or nil.
func (s *Site) Provider(kommuneCode int) *region.IdentityProvider {
	for i := range s.Region.IdentityProviders {
		if s.Region.IdentityProviders[i].KommuneCode == kommuneCode {
			return &s.Region.IdentityProviders[i]
		}
	}
	return nil
}
