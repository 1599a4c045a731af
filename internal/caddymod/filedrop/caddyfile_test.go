package caddyfiledrop

import (
	"flag"
	"strings"
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
	tests := []struct{ in, region, wantErr string }{
		{in: "hubkit_filedrop nordjylland", region: "nordjylland"},
		{in: "hubkit_filedrop", wantErr: "missing the region id"},
		{in: "hubkit_filedrop nordjylland extra", wantErr: `unexpected argument "extra"`},
		{in: "hubkit_filedrop nordjylland {\n\tmax_size 1GB\n}", wantErr: "takes no block"},
	}
	for _, tt := range tests {
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
