package caddyfederation

import (
	"flag"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/requestbody"

	"github.com/hubkit/hubkit/internal/caddymod/caddytest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestCaddyfileAdapt(t *testing.T) { caddytest.Golden(t, *update) }

func TestUnmarshalCaddyfile(t *testing.T) {
	caddytest.UnmarshalRegion(t, []caddytest.RegionCase{
		{In: "hubkit_federation syddanmark", Region: "syddanmark"},
		{In: "hubkit_federation", WantErr: "missing the region id"},
		{In: "hubkit_federation a b", WantErr: `unexpected argument "b"`},
	}, func(d *caddyfile.Dispenser) (string, error) {
		var h Handler
		err := h.UnmarshalCaddyfile(d)
		return h.Region, err
	})
}
