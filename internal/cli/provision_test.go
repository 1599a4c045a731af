package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubkit/hubkit/internal/deploy/deploytest"
	"github.com/hubkit/hubkit/internal/devidp"
	"github.com/hubkit/hubkit/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	deploytest.Cleanup()
	os.Exit(code)
}

// opsProject is a state directory and configuration for a built hubctl
// driving the real Terraform (/usr/local/bin/terraform) on the local
// target, as an operator runs it.
type opsProject struct {
	t   *testing.T
	dir string
	cfg string
	bin string
}

func newOpsProject(t *testing.T) *opsProject {
	t.Helper()
	if _, err := os.Stat("/usr/local/bin/terraform"); err != nil {
		t.Fatalf("Terraform is expected at /usr/local/bin/terraform: %v", err)
	}
	root := testenv.RepoRoot(t)
	p := &opsProject{t: t, dir: t.TempDir(), bin: deploytest.Hubctl(t)}
	p.cfg = filepath.Join(p.dir, "hubkit.yaml")
	cfg := fmt.Sprintf("regions_dir: %s\nstate_dir: %s\nmodules_dir: %s\nterraform:\n  binary: /usr/local/bin/terraform\ntargets:\n  local:\n    dir: %s\n    base_port: %d\n    dev: true\n",
		filepath.Join(root, "regions"), filepath.Join(p.dir, "state"), filepath.Join(root, "modules"), filepath.Join(p.dir, "hubs"), deploytest.FreePort(t))
	if err := os.WriteFile(p.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.run(nil, "destroy", "--region", "nordjylland", "--auto-approve") })
	return p
}

// run runs hubctl with env added to a clean environment (no colour
// settings of the machine running the tests).
func (p *opsProject) run(env []string, args ...string) (int, string, string) {
	cmd := exec.Command(p.bin, append(args, "--config", p.cfg)...)
	cmd.Dir = p.dir
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "NO_COLOR", "CLICOLOR_FORCE", "TERM", devidp.SecretEnv:
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("hubctl %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

var devSecret = []string{devidp.SecretEnv + "=provision-test-secret"}

// TestProvisionOperatorOutput is the operator's loop on one region with
// the real Terraform, checking what each command prints and returns.
func TestProvisionOperatorOutput(t *testing.T) {
	p := newOpsProject(t)

	// A missing pass-through secret stops plan before Terraform runs,
	// naming the variable, never a value.
	code, out, errOut := p.run(nil, "plan", "--region", "nordjylland")
	wantErr := "hubctl: HUBKIT_DEV_CLIENT_SECRET is not set; nordjylland needs it: export HUBKIT_DEV_CLIENT_SECRET=$(head -c 32 /dev/urandom | base64)  (the development identity provider's client secret; hubctl up makes one)\n"
	if code != 1 || out != "" || errOut != wantErr {
		t.Fatalf("plan without the secret: exit %d\nstdout %q\nstderr %q\nwant   %q", code, out, errOut, wantErr)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "state", "nordjylland")); err == nil {
		t.Error("plan without the secret started Terraform (the region's working directory exists)")
	}

	// A wrong id: one wording, the nearest id and the list.
	code, _, errOut = p.run(devSecret, "plan", "--region", "nordjyland")
	if want := "hubctl: --region nordjyland: no region with that id in " + filepath.Join(testenv.RepoRoot(t), "regions") +
		"; did you mean nordjylland? (region ids: nordjylland, midtjylland, syddanmark, hovedstaden, sjaelland)\n"; code != 1 || errOut != want {
		t.Fatalf("plan of a misspelt region: exit %d\n%q\nwant\n%q", code, errOut, want)
	}

	// First plan, not on a terminal: the plan in Terraform's words with the
	// bundle named, the summary table, progress lines; no JSON, no colour,
	// no lock file warning. Exit 2: changes.
	code, out, errOut = p.run(devSecret, "plan", "--region", "nordjylland")
	if code != 2 {
		t.Fatalf("first plan: exit %d, want 2\n%s\n%s", code, out, errOut)
	}
	lines := strings.Split(out, "\n")
	if len(lines) > 200 {
		t.Errorf("plan printed %d lines; the bundle's files must be elided", len(lines))
	}
	for _, l := range lines {
		if len(l) > 400 {
			t.Errorf("plan printed a line of %d characters: %.120s…", len(l), l)
		}
	}
	for _, want := range []string{
		"── nordjylland ─",
		"  + resource \"hubkit_site\" \"this\" {",
		"      + files = { +caddy.json, +manifest.json, +site.json }  # bundle files, ",
		"Plan: 1 to add, 0 to change, 0 to destroy.",
		"REGION         ADD  CHANGE  DESTROY  IN HUB TERMS\nnordjylland      1       0        0  new hub: 11 members,",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"jsonencode", `"format_version"`, "\x1b["} {
		if strings.Contains(out+errOut, bad) {
			t.Errorf("plan output holds %q:\n%s\n%s", bad, out, errOut)
		}
	}
	if want := "nordjylland  preparing\nnordjylland  planning\nnordjylland  planned  1 to add, 0 to change, 0 to destroy\n"; errOut != want {
		t.Errorf("plan progress:\n%q\nwant\n%q", errOut, want)
	}
	if strings.Contains(out+errOut, "Incomplete lock file") {
		t.Error("the first plan printed Terraform's incomplete lock file warning")
	}
	// -v shows Terraform's own output: still no lock file warning.
	if code, out, errOut := p.run(devSecret, "plan", "--region", "nordjylland", "-v"); code != 2 ||
		!strings.Contains(errOut, "nordjylland | Terraform has been successfully initialized!") || strings.Contains(errOut, "Incomplete lock file") {
		t.Errorf("plan -v: exit %d\n%s\n%s", code, out, errOut)
	}

	// On a terminal (faked with CLICOLOR_FORCE): colour in plan, table and
	// progress; NO_COLOR and --no-color switch it off.
	code, out, errOut = p.run(append(devSecret, "CLICOLOR_FORCE=1"), "plan", "--region", "nordjylland")
	for _, want := range []string{"\x1b[1mREGION ", "\x1b[32m  + resource \"hubkit_site\"", "\x1b[1m── nordjylland"} {
		if !strings.Contains(out, want) {
			t.Errorf("coloured plan lacks %q:\n%q", want, out)
		}
	}
	if code != 2 || !strings.Contains(errOut, "nordjylland  \x1b[36mplanning\x1b[0m\n") {
		t.Errorf("coloured progress: exit %d %q", code, errOut)
	}
	for _, env := range [][]string{{"CLICOLOR_FORCE=1", "NO_COLOR=1"}, {"CLICOLOR_FORCE=1", "TERM=dumb"}} {
		if _, out, errOut := p.run(append(devSecret, env...), "plan", "--region", "nordjylland"); strings.Contains(out+errOut, "\x1b[") {
			t.Errorf("colour despite %v", env)
		}
	}
	if _, out, errOut := p.run(append(devSecret, "CLICOLOR_FORCE=1"), "plan", "--region", "nordjylland", "--no-color"); strings.Contains(out+errOut, "\x1b[") {
		t.Error("colour despite --no-color")
	}

	// apply: progress through health check, exit 0 on success.
	code, out, errOut = p.run(devSecret, "apply", "--region", "nordjylland", "--auto-approve")
	if code != 0 {
		t.Fatalf("apply: exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	if !strings.HasSuffix(out, "\nnordjylland  applied, ready\n") {
		t.Errorf("apply does not end with the region applied and ready:\n%s", out)
	}
	var steps []string
	for _, l := range strings.Split(errOut, "\n") {
		if strings.HasPrefix(l, "nordjylland  ") {
			steps = append(steps, strings.Fields(strings.TrimPrefix(l, "nordjylland  "))[0])
		}
	}
	if got := strings.Join(steps, ","); got != "preparing,planning,planned,preparing,applying,health,done" {
		t.Errorf("apply progress steps %s:\n%s", got, errOut)
	}
	if !strings.Contains(errOut, "nordjylland | ") || !strings.Contains(errOut, "Creation complete") {
		t.Errorf("apply should show Terraform's apply lines, prefixed:\n%s", errOut)
	}

	// status: the table and nothing else on stdout.
	code, out, errOut = p.run(devSecret, "status", "--region", "nordjylland")
	sl := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(sl) != 2 || !strings.HasPrefix(sl[0], "REGION ") || !strings.HasPrefix(sl[1], "nordjylland  ") || !strings.Contains(sl[1], " ready ") {
		t.Errorf("status: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "format_version") || strings.Contains(out+errOut, " | ") {
		t.Errorf("status printed Terraform's output:\n%s\n%s", out, errOut)
	}

	// Nothing to change: plan exits 0, apply exits 0.
	if code, out, _ := p.run(devSecret, "plan", "--region", "nordjylland"); code != 0 || !strings.Contains(out, "nordjylland      0       0        0  no changes") {
		t.Errorf("plan without changes: exit %d\n%s", code, out)
	}
	if code, out, _ := p.run(devSecret, "apply", "--region", "nordjylland", "--auto-approve"); code != 0 || strings.Contains(out, "applied") {
		t.Errorf("apply without changes: exit %d\n%s", code, out)
	}

	// destroy says destroyed, exits 0, and has its own help.
	code, out, errOut = p.run(nil, "destroy", "--region", "nordjylland", "--auto-approve")
	if code != 0 || !strings.HasSuffix(out, "\nnordjylland  destroyed (data kept)\n") || strings.Contains(out, "applied") ||
		!strings.Contains(out, "      - files = { -caddy.json, -manifest.json, -site.json } -> null  # bundle files, ") {
		t.Errorf("destroy: exit %d\n%s\n%s", code, out, errOut)
	}
	_, applyHelp, _ := p.run(nil, "apply", "--help")
	_, destroyHelp, _ := p.run(nil, "destroy", "--help")
	if !strings.Contains(destroyHelp, "Plans the removal of every chosen region's hub") || strings.Contains(destroyHelp, "applies exactly the saved\nplans, then asks") || applyHelp == destroyHelp {
		t.Errorf("destroy --help:\n%s", destroyHelp)
	}
}
