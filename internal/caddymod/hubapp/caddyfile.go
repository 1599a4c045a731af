package hubapp

import "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

// RegionArg reads the Caddyfile form every per-region hubkit module
// shares, `<directive> <region>` with no block, and returns the region.
func RegionArg(d *caddyfile.Dispenser) (string, error) {
	d.Next() // the directive
	name := d.Val()
	if !d.NextArg() {
		return "", d.Errf("%s: missing the region id: expected a region id, e.g. '%s nordjylland'", name, name)
	}
	region := d.Val()
	if d.NextArg() {
		return "", d.Errf("%s: unexpected argument %q; the only argument is the region id (%s <region>)", name, d.Val(), name)
	}
	if d.NextBlock(0) {
		return "", d.Errf("%s: takes no block (%s <region>)", name, name)
	}
	return region, nil
}
