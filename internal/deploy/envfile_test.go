package deploy

import (
	"context"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

func TestEnvFileRoundTrip(t *testing.T) {
	in := serviceSettings{Listen: "10.203.0.2:8443", Env: map[string]string{
		"HUBKIT_DEV_CLIENT_SECRET": "s3cr3t/+=",
		"B":                        `a "quoted" $value \with\ backslashes and spaces`,
	}}
	data := renderEnv("/srv/hubkit/nordjylland", in)
	all, out, err := parseEnv(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip: got %+v, want %+v", out, in)
	}
	for _, want := range []string{"HOME=/srv/hubkit/nordjylland/data", "XDG_DATA_HOME=/srv/hubkit/nordjylland/data/caddy", "HUBCTL_LISTEN=10.203.0.2:8443"} {
		if !strings.Contains(strings.Join(all, "\n"), want) {
			t.Errorf("environment lacks %s: %v", want, all)
		}
	}
	// A shell reads it the same way (start-stop-daemon's path).
	sh := exec.CommandContext(context.Background(), "/bin/sh", "-c", `set -a; . /dev/stdin; set +a; printf '%s|%s' "$B" "$HUBCTL_LISTEN"`)
	sh.Stdin = strings.NewReader(string(data))
	got, err := sh.Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := in.Env["B"] + "|" + in.Listen; string(got) != want {
		t.Errorf("sh read %q, want %q", got, want)
	}
}

func TestCheckEnv(t *testing.T) {
	for _, bad := range []map[string]string{
		{"1X": "v"}, {"A-B": "v"}, {"PATH": "v"}, {"HUBCTL_LISTEN": "v"},
		{"A": "it's"}, {"A": "line\nbreak"}, {"A": "nul\x00"},
	} {
		if err := checkEnv(bad); err == nil {
			t.Errorf("checkEnv(%q) accepted", bad)
		}
	}
	if err := checkEnv(map[string]string{"A_1": "v", "_B": ""}); err != nil {
		t.Error(err)
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "it's", `'"$HOME` + "`id`\\\n", "a'b'c"} {
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+quote(s)).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != s {
			t.Errorf("quote(%q) reads back as %q", s, out)
		}
	}
}

// FuzzParseEnv: hub.env comes back from the target, so it is outside
// input; parsing it must never panic, and what it accepts must survive a
// render and parse again.
func FuzzParseEnv(f *testing.F) {
	f.Add(renderEnv("/srv/x", serviceSettings{Listen: ":443", Env: map[string]string{"A": "b"}}))
	f.Add([]byte("A='b'\n# comment\n\nB=''\n"))
	f.Add([]byte("A=b"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, s, err := parseEnv(data)
		if err != nil || checkEnv(s.Env) != nil || strings.ContainsAny(s.Listen, "'\n\r") {
			return
		}
		_, again, err := parseEnv(renderEnv("/srv/x", s))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip changed %+v into %+v", s, again)
		}
	})
}
