package caddyfederation

import (
	"flag"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/requestbody"

	"github.com/hubkit/hubkit/internal/caddymod/caddytest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestCaddyfileAdapt(t *testing.T) { caddytest.Golden(t, *update) }

func TestUnmarshalCaddyfile(t *testing.T) {
	for _, tt := range []struct{ in, region, wantErr string }{
		{in: "hubkit_federation syddanmark", region: "syddanmark"},
		{in: "hubkit_federation", wantErr: "missing the region id"},
		{in: "hubkit_federation a b", wantErr: `unexpected argument "b"`},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tt.in))
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want one containing %q", tt.in, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.in, err)
		case h.Region != tt.region:
			t.Errorf("%q: region %q, want %q", tt.in, h.Region, tt.region)
		}
	}
}
