package caddydirectory

import (
	"flag"
	"testing"

	"github.com/hubkit/hubkit/internal/caddymod/caddytest"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile" // the caddyfile adapter

	_ "github.com/hubkit/hubkit/internal/caddymod/ui" // hubkit_ui, used in testdata/hub.caddyfile
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestCaddyfileAdapt(t *testing.T) { caddytest.Golden(t, *update) }

func TestUnmarshalCaddyfile(t *testing.T) {
	caddytest.UnmarshalRegion(t, []caddytest.RegionCase{
		{In: "hubkit_directory nordjylland", Region: "nordjylland"},
		{In: "hubkit_directory", WantErr: "missing the region id"},
		{In: "hubkit_directory nordjylland national", WantErr: `unexpected argument "national"`},
		{In: "hubkit_directory nordjylland {\n\tscope national\n}", WantErr: "takes no block"},
	}, func(d *caddyfile.Dispenser) (string, error) {
		var h Handler
		err := h.UnmarshalCaddyfile(d)
		return h.Region, err
	})
}
