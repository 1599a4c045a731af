package login

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/standard"

	"github.com/hubkit/hubkit/internal/caddymod/auth"
	"github.com/hubkit/hubkit/internal/caddymod/caddytest"
	"github.com/hubkit/hubkit/internal/caddymod/csrf"
	"github.com/hubkit/hubkit/internal/caddymod/ready"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestCaddyfileAdapt pins how hubkit_login, hubkit_ready and hubkit_csrf adapt.
func TestCaddyfileAdapt(t *testing.T) {
	caddytest.Golden(t, *update)
	src, err := os.ReadFile("testdata/hub.caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	got, err := caddytest.Adapt(t, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{`"handler": "hubkit_login"`, `"handler": "hubkit_ready"`, `"handler": "hubkit_csrf"`, `"region": "nordjylland"`} {
		if !strings.Contains(string(got), h) {
			t.Errorf("adapted config lacks %s", h)
		}
	}
}

// TestUnmarshalCaddyfileErrors: every module says what its one argument is.
func TestUnmarshalCaddyfileErrors(t *testing.T) {
	type unmarshaler interface {
		UnmarshalCaddyfile(*caddyfile.Dispenser) error
	}
	cases := []struct {
		m       unmarshaler
		in, err string
	}{
		{&Handler{}, "hubkit_login", "expected a region id"},
		{&Handler{}, "hubkit_login a b", `unexpected argument "b"`},
		{&Handler{}, "hubkit_login a {\n\tx\n}", "takes no block"},
		{&ready.Handler{}, "hubkit_ready", "expected a region id"},
		{&csrf.Guard{}, "hubkit_csrf", "expected a region id"},
		{&auth.Session{}, "hubkit", "expected a region id"},
		{&auth.Session{}, "hubkit a b", `unexpected argument "b"`},
	}
	for _, c := range cases {
		err := c.m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.in))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: %v, want %q", c.in, err, c.err)
		}
	}
	var h Handler
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("hubkit_login nordjylland")); err != nil || h.Region != "nordjylland" {
		t.Errorf("hubkit_login nordjylland: %v %+v", err, h)
	}
}
