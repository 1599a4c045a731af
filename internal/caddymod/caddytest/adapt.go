// Package caddytest holds what the tests of hubkit's Caddy modules share:
// adapting Caddyfiles and comparing them with golden JSON.
package caddytest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile" // the caddyfile adapter
)

// Adapt turns a Caddyfile into indented JSON, as `caddy adapt` does; any
// warning fails the test.
func Adapt(t testing.TB, src []byte) ([]byte, error) {
	t.Helper()
	out, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, nil)
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

// Golden adapts every testdata/*.caddyfile and compares it with the
// .golden file beside it; update rewrites the golden files.
func Golden(t *testing.T, update bool) {
	t.Helper()
	files, err := filepath.Glob("testdata/*.caddyfile")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.caddyfile: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Adapt(t, src)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		golden := strings.TrimSuffix(f, ".caddyfile") + ".golden"
		if update {
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

// RegionCase is one Caddyfile line for a handler whose one argument is its
// region, and what it should give: the region, or an error containing
// WantErr.
type RegionCase struct{ In, Region, WantErr string }

// UnmarshalRegion runs cases through parse, which unmarshals a fresh
// handler from the dispenser and returns the region it took.
func UnmarshalRegion(t *testing.T, cases []RegionCase, parse func(*caddyfile.Dispenser) (string, error)) {
	t.Helper()
	for _, tt := range cases {
		region, err := parse(caddyfile.NewTestDispenser(tt.In))
		switch {
		case tt.WantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.WantErr) {
				t.Errorf("%q: error %v, want one containing %q", tt.In, err, tt.WantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.In, err)
		case region != tt.Region:
			t.Errorf("%q: region %q, want %q", tt.In, region, tt.Region)
		}
	}
}
