package caddyfiledrop

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile" // the caddyfile adapter
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/requestbody"

	_ "github.com/hubkit/hubkit/internal/caddymod/ui" // hubkit_ui, used in testdata/hub.caddyfile
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// adapt turns a Caddyfile into indented JSON, as `caddy adapt` does.
func adapt(t *testing.T, src string) ([]byte, error) {
	t.Helper()
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), nil)
	if err != nil {
		return nil, err
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %v", warnings)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "\t"); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func TestCaddyfileAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/*.caddyfile")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.caddyfile: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := adapt(t, string(src))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		golden := strings.TrimSuffix(f, ".caddyfile") + ".golden"
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s adapts differently from %s (go test -update rewrites it):\n%s", f, golden, got)
		}
	}
}

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
