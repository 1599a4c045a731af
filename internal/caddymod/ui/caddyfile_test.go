package caddyui

import (
	"flag"
	"strings"
	"testing"

	"github.com/hubkit/hubkit/internal/caddymod/caddytest"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile" // the caddyfile adapter
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestCaddyfileAdapt(t *testing.T) { caddytest.Golden(t, *update) }

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		in      string
		want    Handler
		wantErr string
	}{
		{in: "hubkit_ui nordjylland", want: Handler{Region: "nordjylland"}},
		{in: "hubkit_ui nordjylland errors", want: Handler{Region: "nordjylland", Errors: true}},
		{in: "hubkit_ui", wantErr: "missing the region id"},
		{in: "hubkit_ui nordjylland error", wantErr: `unknown option "error"`},
		{in: "hubkit_ui nordjylland errors extra", wantErr: `unexpected argument "extra"`},
		{in: "hubkit_ui nordjylland {\n\terrors\n}", wantErr: "takes no block"},
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
		case h.Region != tt.want.Region || h.Errors != tt.want.Errors:
			t.Errorf("%q: %+v, want %+v", tt.in, h, tt.want)
		}
	}
}
