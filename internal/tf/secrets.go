package tf

import (
	"path/filepath"

	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/region"
)

// secretEnv is the `environment` of a region's site on an SSH target: every
// variable the region file's secrets refer to (`client_secret: { env: NAME }`),
// passed through under its own name. Only the names go into the root
// module and the state; the provider reads the values from hubctl's
// environment at apply time and sends them over SSH into the host's
// root-only credential files. Secrets given as `{ file: PATH }` are read
// on the host from PATH and are not transferred.
func secretEnv(c *config.Config, regionID string) (map[string]string, error) {
	dir, err := filepath.Abs(c.RegionsDir)
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	set, err := region.LoadDir(dir, c.Defaults)
	if err != nil {
		// No region files: the hub module's data source reports it with
		// file and line; hubctl validates them before it plans anyway.
		return env, nil
	}
	r := set.Region(regionID)
	if r == nil {
		return env, nil
	}
	for _, p := range r.IdentityProviders {
		if n := p.ClientSecret.Env; n != "" {
			env[n] = n
		}
	}
	return env, nil
}
