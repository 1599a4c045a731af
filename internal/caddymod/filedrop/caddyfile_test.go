package caddyfiledrop

import (
	"flag"
	"testing"

	"github.com/hubkit/hubkit/internal/caddymod/caddytest"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile" // the caddyfile adapter
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/requestbody"

	_ "github.com/hubkit/hubkit/internal/caddymod/ui" // hubkit_ui, used in testdata/hub.caddyfile
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestCaddyfileAdapt(t *testing.T) { caddytest.Golden(t, *update) }

func TestUnmarshalCaddyfile(t *testing.T) {
	caddytest.UnmarshalRegion(t, []caddytest.RegionCase{
		{In: "hubkit_filedrop nordjylland", Region: "nordjylland"},
		{In: "hubkit_filedrop", WantErr: "missing the region id"},
		{In: "hubkit_filedrop nordjylland extra", WantErr: `unexpected argument "extra"`},
		{In: "hubkit_filedrop nordjylland {\n\tmax_size 1GB\n}", WantErr: "takes no block"},
	}, func(d *caddyfile.Dispenser) (string, error) {
		var h Handler
		err := h.UnmarshalCaddyfile(d)
		return h.Region, err
	})
}
