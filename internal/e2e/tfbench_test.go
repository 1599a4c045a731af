package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/devidp"
	"github.com/hubkit/hubkit/internal/testenv"
)

// benchProject is newProject for benchmarks: a scratch copy of the
// regions with its own state, local target directory and ports, and extra
// configuration appended. Its hubs are destroyed when the benchmark ends.
type benchProject struct {
	tb       testing.TB
	dir, cfg string
	basePort int
}

func newBenchProject(tb testing.TB, extraConfig string) *benchProject {
	tb.Helper()
	root := testenv.RepoRoot(tb)
	p := &benchProject{tb: tb, dir: tb.TempDir()}
	stopLeftoverHubs(tb, func() string { return p.dir })
	os.MkdirAll(filepath.Join(p.dir, "regions"), 0o755)
	for _, id := range regionIDs {
		b, err := os.ReadFile(filepath.Join(root, "regions", id+".yaml"))
		if err != nil {
			tb.Fatal(err)
		}
		os.WriteFile(filepath.Join(p.dir, "regions", id+".yaml"), b, 0o644)
	}
	p.basePort = freePortRangeTB(tb, len(regionIDs))
	p.cfg = filepath.Join(p.dir, "hubkit.yaml")
	cfg := fmt.Sprintf(`regions_dir: %s
state_dir: %s
modules_dir: %s
targets:
  local:
    dir: %s
    base_port: %d
    dev: true
%s`, filepath.Join(p.dir, "regions"), filepath.Join(p.dir, "state"), filepath.Join(root, "modules"), filepath.Join(p.dir, "hubs"), p.basePort, extraConfig)
	if err := os.WriteFile(p.cfg, []byte(cfg), 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.destroy() })
	return p
}

// freePortRangeTB finds n consecutive free loopback ports.
func freePortRangeTB(tb testing.TB, n int) int {
	for try := 0; try < 50; try++ {
		base := freePort(tb)
		if base+n > 65535 {
			continue
		}
		ok := true
		for i := 1; i < n && ok; i++ {
			ok = portFree(base + i)
		}
		if ok {
			return base
		}
	}
	tb.Fatal("no free port range")
	return 0
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func (p *benchProject) hubctl(args ...string) (int, string, string) {
	cmd := exec.Command(buildHubctl(p.tb), append(args, "--config", p.cfg)...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), devidp.SecretEnv+"=e2e-dev-secret")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
		p.tb.Fatalf("hubctl %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// destroy stops the project's hubs (exit 0 when there were none).
func (p *benchProject) destroy() {
	if code, out, errOut := p.hubctl("destroy", "--all", "--auto-approve"); code != 0 && code != 2 {
		p.tb.Errorf("hubctl destroy --all in %s: exit %d\n%s\n%s", p.dir, code, out, tail(errOut, 30))
	}
}

// apply runs hubctl apply --all and checks its exit code.
func (p *benchProject) apply(want int) {
	p.tb.Helper()
	if code, out, errOut := p.hubctl("apply", "--all", "--auto-approve"); code != want {
		p.tb.Fatalf("hubctl apply --all: exit %d, want %d\n%s\n%s", code, want, out, tail(errOut, 40))
	}
}

// bareTerraform is the same five root modules hubctl generates, run by
// plain `terraform init && terraform apply -auto-approve` in fresh
// directories (one per region, all at once), with hubctl's provider mirror
// and CLI configuration.
type bareTerraform struct {
	tb       testing.TB
	base     string
	cliCfg   string
	dirs     []string
	basePort int
}

// newBareTerraform copies the root modules of tmpl (a project hubctl has
// planned, so that its working directories exist) into new directories,
// with their own local state, target directories and ports.
func newBareTerraform(tb testing.TB, tmpl *benchProject) *bareTerraform {
	tb.Helper()
	t := &bareTerraform{tb: tb, base: tb.TempDir(), cliCfg: filepath.Join(tmpl.dir, "state", ".provider", "terraform.rc"),
		basePort: freePortRangeTB(tb, len(regionIDs))}
	if _, err := os.Stat(t.cliCfg); err != nil {
		tb.Fatalf("hubctl's Terraform CLI configuration: %v", err)
	}
	for i, region := range regionIDs {
		src := filepath.Join(tmpl.dir, "state", region)
		dir := filepath.Join(t.base, "tf", region)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			tb.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(src, "main.tf.json"))
		if err != nil {
			tb.Fatalf("root module hubctl generated: %v", err)
		}
		var root map[string]any
		if err := json.Unmarshal(b, &root); err != nil {
			tb.Fatal(err)
		}
		port := t.basePort + i
		mod := root["module"].(map[string]any)
		mod["hub"].(map[string]any)["port"] = port
		site := mod["site"].(map[string]any)
		site["listen"] = fmt.Sprintf("127.0.0.1:%d", port)
		site["dir"] = filepath.Join(t.base, "hubs", region)
		root["terraform"] = map[string]any{"backend": map[string]any{"local": map[string]any{"path": filepath.Join(dir, "terraform.tfstate")}}}
		b, _ = json.MarshalIndent(root, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, "main.tf.json"), b, 0o600); err != nil {
			tb.Fatal(err)
		}
		lock, err := os.ReadFile(filepath.Join(src, ".terraform.lock.hcl"))
		if err != nil {
			tb.Fatalf("lock file hubctl wrote: %v", err)
		}
		os.WriteFile(filepath.Join(dir, ".terraform.lock.hcl"), lock, 0o644)
		t.dirs = append(t.dirs, dir)
	}
	stopLeftoverHubs(tb, func() string { return t.base })
	tb.Cleanup(func() { t.destroy() })
	return t
}

// run runs the commands (each a terraform argument list) one after the
// other in every region's directory, the regions at once, and fails the
// benchmark when one fails.
func (t *bareTerraform) run(cmds ...[]string) {
	t.tb.Helper()
	var wg sync.WaitGroup
	errs := make([]string, len(t.dirs))
	for i, dir := range t.dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, args := range cmds {
				cmd := exec.Command("/usr/local/bin/terraform", args...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+t.cliCfg, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1",
					devidp.SecretEnv+"=e2e-dev-secret")
				if out, err := cmd.CombinedOutput(); err != nil {
					errs[i] = fmt.Sprintf("%s: terraform %v: %v\n%s", filepath.Base(dir), args, err, tail(string(out), 30))
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.tb.Fatal(e)
		}
	}
}

func (t *bareTerraform) apply() {
	t.tb.Helper()
	t.run([]string{"init", "-input=false", "-no-color"}, []string{"apply", "-auto-approve", "-input=false", "-no-color"})
}

func (t *bareTerraform) destroy() {
	var wg sync.WaitGroup
	for _, dir := range t.dirs {
		if _, err := os.Stat(filepath.Join(dir, "terraform.tfstate")); err != nil {
			continue // never applied
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("/usr/local/bin/terraform", "destroy", "-auto-approve", "-input=false", "-no-color")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE="+t.cliCfg, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1",
				devidp.SecretEnv+"=e2e-dev-secret")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.tb.Errorf("%s: terraform destroy: %v\n%s", dir, err, tail(string(out), 30))
			}
		}()
	}
	wg.Wait()
	t.dirs = nil
}

// BenchmarkApplyAll measures provisioning all five regions to the local
// target: hubctl apply --all from nothing (cold) and with nothing to do
// (noop), the same root modules run by bare Terraform the same way (five
// regions at once, init + apply), and hubctl with one region at a time.
// The last sub-benchmark reports the ratios. Every iteration of a cold
// run is a fresh project (fresh state, target directories and ports);
// set-up and destroy are not timed. Run it alone:
//
//	go test ./internal/e2e -run '^$' -bench ApplyAll -benchtime 1x
func BenchmarkApplyAll(b *testing.B) {
	if _, err := os.Stat("/usr/local/bin/terraform"); err != nil {
		b.Fatalf("Terraform is expected at /usr/local/bin/terraform: %v", err)
	}
	buildHubctl(b)
	secs := map[string]float64{}
	report := func(b *testing.B, name string, total time.Duration) {
		s := total.Seconds() / float64(b.N)
		secs[name] = s
		b.ReportMetric(s, "s/apply")
	}

	// A project hubctl has planned: the root modules, lock file and
	// provider mirror bare Terraform reuses.
	// It belongs to the whole benchmark, not to the sub-benchmark that
	// happens to need it first.
	parent := b
	var tmpl *benchProject
	template := func(b *testing.B) *benchProject {
		if tmpl == nil {
			tmpl = newBenchProject(parent, "")
			if code, out, errOut := tmpl.hubctl("plan", "--all"); code != 2 {
				b.Fatalf("hubctl plan --all of the template project: exit %d\n%s\n%s", code, out, tail(errOut, 40))
			}
		}
		return tmpl
	}

	cold := func(name, extra string) func(b *testing.B) {
		return func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				p := newBenchProject(b, extra)
				b.StartTimer()
				t0 := time.Now()
				p.apply(0)
				total += time.Since(t0)
				b.StopTimer()
				p.destroy()
			}
			report(b, name, total)
		}
	}
	b.Run("hubctl-cold", cold("hubctl-cold", ""))
	b.Run("hubctl-noop", func(b *testing.B) {
		b.StopTimer()
		p := newBenchProject(b, "")
		p.apply(0)
		var total time.Duration
		for i := 0; i < b.N; i++ {
			b.StartTimer()
			t0 := time.Now()
			p.apply(0)
			total += time.Since(t0)
			b.StopTimer()
		}
		report(b, "hubctl-noop", total)
		p.destroy()
	})
	b.Run("terraform-cold", func(b *testing.B) {
		b.StopTimer()
		tp := template(b)
		var total time.Duration
		for i := 0; i < b.N; i++ {
			t := newBareTerraform(b, tp)
			b.StartTimer()
			t0 := time.Now()
			t.apply()
			total += time.Since(t0)
			b.StopTimer()
			t.destroy()
		}
		report(b, "terraform-cold", total)
	})
	b.Run("terraform-noop", func(b *testing.B) {
		b.StopTimer()
		t := newBareTerraform(b, template(b))
		t.apply()
		var total time.Duration
		for i := 0; i < b.N; i++ {
			b.StartTimer()
			t0 := time.Now()
			t.apply()
			total += time.Since(t0)
			b.StopTimer()
		}
		report(b, "terraform-noop", total)
		t.destroy()
	})
	b.Run("hubctl-sequential-cold", cold("hubctl-sequential-cold", "terraform:\n  parallelism: 1\n"))
	b.Run("ratio", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
		}
		ratio := func(num, den, unit string) {
			if secs[num] == 0 || secs[den] == 0 {
				b.Errorf("%s needs the sub-benchmarks %s and %s in the same run", unit, num, den)
				return
			}
			b.ReportMetric(secs[num]/secs[den], unit)
		}
		ratio("hubctl-cold", "terraform-cold", "cold-hubctl/terraform")
		ratio("hubctl-noop", "terraform-noop", "noop-hubctl/terraform")
		ratio("hubctl-cold", "hubctl-sequential-cold", "cold-parallel/sequential")
	})
}
