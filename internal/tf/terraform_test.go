package tf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/devidp"
)

// realTerraform is the Terraform this machine is expected to have.
const realTerraform = "/usr/local/bin/terraform"

// fakeTerraform writes an executable "terraform" script into a new
// directory; it prints jsonOut for `version -json` and textOut for
// `version`, and fails for anything else.
func fakeTerraform(t *testing.T, jsonOut, textOut string) string {
	t.Helper()
	dir := t.TempDir()
	script := fmt.Sprintf(`#!/bin/sh
if [ "$1" = version ] && [ "$2" = -json ]; then
	/bin/cat <<'EOF'
%s
EOF
	exit 0
fi
if [ "$1" = version ]; then
	/bin/cat <<'EOF'
%s
EOF
	exit 0
fi
echo "fake terraform: unexpected arguments $*" >&2
exit 1
`, jsonOut, textOut)
	path := filepath.Join(dir, "terraform")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFind(t *testing.T) {
	ctx := context.Background()

	t.Run("missing", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		b, err := Find(ctx, "terraform-hubkit-not-installed", "1.5.0")
		if err == nil {
			t.Fatalf("Find of a missing terraform: %+v, want an error", b)
		}
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("error %q does not wrap ErrNotFound", err)
		}
		for _, want := range []string{`"terraform-hubkit-not-installed"`, "not on PATH", "Terraform 1.5.0 or newer", "terraform.binary"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})

	t.Run("too-old-json", func(t *testing.T) {
		path := fakeTerraform(t, `{"terraform_version":"1.2.0","platform":"linux_amd64","provider_selections":{},"terraform_outdated":true}`,
			"Terraform v1.2.0\non linux_amd64")
		b, err := Find(ctx, path, "1.5.0")
		if err == nil {
			t.Fatalf("Find of Terraform 1.2.0 with min 1.5.0: %+v, want an error", b)
		}
		if errors.Is(err, ErrNotFound) {
			t.Errorf("a too old terraform is reported as not found: %v", err)
		}
		for _, want := range []string{path, "Terraform 1.2.0", "needs 1.5.0 or newer", "terraform.min_version"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})

	// Terraform before 0.13 has no `version -json`: it prints the text
	// either way, and tfexec falls back to the plain `version`.
	t.Run("too-old-text-on-path", func(t *testing.T) {
		path := fakeTerraform(t, "Terraform v0.12.31\n\nYour version of Terraform is out of date!", "Terraform v0.12.31\n\nYour version of Terraform is out of date!")
		t.Setenv("PATH", filepath.Dir(path))
		_, err := Find(ctx, "terraform", "1.5.0")
		if err == nil {
			t.Fatal("Find of Terraform 0.12.31 with min 1.5.0: no error")
		}
		for _, want := range []string{path, "Terraform 0.12.31", "needs 1.5.0 or newer"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})

	t.Run("fake-new-enough", func(t *testing.T) {
		path := fakeTerraform(t, `{"terraform_version":"1.5.0","platform":"linux_amd64","provider_selections":{}}`, "Terraform v1.5.0")
		b, err := Find(ctx, path, "1.5.0")
		if err != nil {
			t.Fatalf("Find of exactly the minimum version: %v", err)
		}
		if b.Path != path || b.Version.String() != "1.5.0" {
			t.Errorf("Find = %s %s, want %s 1.5.0", b.Path, b.Version, path)
		}
	})

	t.Run("bad-min-version", func(t *testing.T) {
		_, err := Find(ctx, realTerraform, "one.five")
		if err == nil || !strings.Contains(err.Error(), `terraform.min_version "one.five" is not a version`) {
			t.Errorf("Find with min_version one.five: %v", err)
		}
	})

	t.Run("real", func(t *testing.T) {
		if _, err := os.Stat(realTerraform); err != nil {
			t.Fatalf("Terraform is expected at %s on this machine (see README): %v", realTerraform, err)
		}
		b, err := Find(ctx, realTerraform, "1.5.0")
		if err != nil {
			t.Fatalf("Find(%s, 1.5.0): %v", realTerraform, err)
		}
		if b.Path != realTerraform || b.Version.LessThan(version.Must(version.NewVersion("1.5.0"))) {
			t.Errorf("Find = %s %s", b.Path, b.Version)
		}
		// By name on PATH, as the default configuration finds it.
		t.Setenv("PATH", filepath.Dir(realTerraform))
		b2, err := Find(ctx, "terraform", "1.5.0")
		if err != nil || b2.Path != realTerraform || !b2.Version.Equal(b.Version) {
			t.Errorf("Find(terraform) on PATH = %+v, %v", b2, err)
		}
	})
}

// rootFixture is a working directory with a modules dir holding a hub
// module and a regions dir, entered with t.Chdir so that relative paths
// in the configuration must be made absolute by the runner.
func rootFixture(t *testing.T) (cwd string, cfg *config.Config) {
	t.Helper()
	cwd = t.TempDir()
	// t.TempDir may sit below a symlink (e.g. /tmp on some systems): use
	// the path the runner will see after Chdir.
	cwd, err := filepath.EvalSymlinks(cwd)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"modules/hub", "modules/target-local", "modules/target-ssh", "regions"} {
		if err := os.MkdirAll(filepath.Join(cwd, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(cwd, "modules/hub/main.tf"), []byte("# hub\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(cwd)
	cfg, err = config.Load("", false)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ModulesDir = "modules"
	cfg.RegionsDir = "regions"
	cfg.Targets.Local.Dir = "hubs"
	cfg.Targets.Local.BasePort = 9100
	cfg.Targets.Local.Dev = true
	return cwd, cfg
}

// rootJSON renders a region's root module as the runner writes it.
func rootJSON(t *testing.T, r *Runner, region, dir string) (string, error) {
	t.Helper()
	root, err := r.rootModule(region, dir)
	if err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b), nil
}

// sameJSON compares two JSON documents by value and shows both on mismatch.
func sameJSON(t *testing.T, name, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: generated JSON: %v\n%s", name, err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: expected JSON: %v\n%s", name, err, want)
	}
	gb, _ := json.MarshalIndent(g, "", "  ")
	wb, _ := json.MarshalIndent(w, "", "  ")
	if string(gb) != string(wb) {
		t.Errorf("%s: root module\n got: %s\nwant: %s", name, gb, wb)
	}
}

func TestRootModuleLocal(t *testing.T) {
	cwd, cfg := rootFixture(t)
	// The development secret's value must never reach the root module (it
	// would end up in the state): only the variable's name is passed.
	const secret = "dev-secret-value-must-not-leak"
	t.Setenv(devidp.SecretEnv, secret)
	r := &Runner{Config: cfg, Target: TargetLocal, ConfigFile: filepath.Join(cwd, "hubkit.yaml")}

	regions := []string{"nordjylland", "midtjylland", "syddanmark", "hovedstaden", "sjaelland"}
	for i, region := range regions {
		dir := filepath.Join(cwd, "state", region)
		got, err := rootJSON(t, r, region, dir)
		if err != nil {
			t.Fatalf("%s: %v", region, err)
		}
		if strings.Contains(got, secret) {
			t.Errorf("%s: the root module contains the development secret's value:\n%s", region, got)
		}
		port := 9100 + i
		if LocalPort(cfg, region) != port {
			t.Errorf("LocalPort(%s) = %d, want %d", region, LocalPort(cfg, region), port)
		}
		peers := map[string]int{}
		for j, other := range regions {
			if other != region {
				peers[other] = 9100 + j
			}
		}
		peerJSON, _ := json.Marshal(peers)
		want := fmt.Sprintf(`{
  "terraform": {"backend": {"local": {"path": %q}}},
  "module": {
    "hub": {
      "source": %q,
      "region": %q,
      "regions_dir": %q,
      "config_file": %q,
      "dev": true,
      "port": %d,
      "peer_ports": %s
    },
    "site": {
      "source": %q,
      "hub": "${module.hub}",
      "dir": %q,
      "listen": "127.0.0.1:%d",
      "environment": {%q: %q}
    }
  },
  "output": {
    "domain": {"value": "${module.hub.domain}"},
    "release_id": {"value": "${module.site.release_id}"}
  }
}`, filepath.Join(dir, "terraform.tfstate"),
			filepath.Join(cwd, "modules", "hub"), region, filepath.Join(cwd, "regions"), filepath.Join(cwd, "hubkit.yaml"), port, peerJSON,
			filepath.Join(cwd, "modules", "target-local"), filepath.Join(cwd, "hubs", region), port,
			devidp.SecretEnv, devidp.SecretEnv)
		sameJSON(t, region, got, want)
	}

	t.Run("production-no-config-file", func(t *testing.T) {
		cfg.Targets.Local.Dev = false
		defer func() { cfg.Targets.Local.Dev = true }()
		r := &Runner{Config: cfg, Target: TargetLocal}
		dir := filepath.Join(cwd, "state", "sjaelland")
		got, err := rootJSON(t, r, "sjaelland", dir)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`{
  "terraform": {"backend": {"local": {"path": %q}}},
  "module": {
    "hub": {"source": %q, "region": "sjaelland", "regions_dir": %q, "dev": false, "port": 9104,
      "peer_ports": {"hovedstaden": 9103, "midtjylland": 9101, "nordjylland": 9100, "syddanmark": 9102}},
    "site": {"source": %q, "hub": "${module.hub}", "dir": %q, "listen": "127.0.0.1:9104"}
  },
  "output": {
    "domain": {"value": "${module.hub.domain}"},
    "release_id": {"value": "${module.site.release_id}"}
  }
}`, filepath.Join(dir, "terraform.tfstate"), filepath.Join(cwd, "modules", "hub"), filepath.Join(cwd, "regions"),
			filepath.Join(cwd, "modules", "target-local"), filepath.Join(cwd, "hubs", "sjaelland"))
		sameJSON(t, "production", got, want)
	})
}

func TestRootModuleSSH(t *testing.T) {
	cwd, cfg := rootFixture(t)
	t.Setenv(devidp.SecretEnv, "dev-secret-value-must-not-leak")
	cfg.Targets.SSH = map[string]config.SSHTarget{
		"midtjylland": {Host: "10.0.0.19", Port: 2222, User: "hubkit-deploy", PrivateKeyFile: "/etc/hubkit/deploy_ed25519",
			HostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHubkitTestKey", Dir: "/srv/hubkit/midtjylland", Listen: ":443"},
		"syddanmark": {Host: "10.0.0.22", Port: 22, User: "deploy", PrivateKeyFile: "/k", HostKey: "ssh-ed25519 AAAA", Dir: "/srv/s",
			Listen: "127.0.0.1:8443", Dev: true},
	}
	cfg.Terraform.Backend = "pg"
	r := &Runner{Config: cfg, Target: TargetSSH}

	dir := filepath.Join(cwd, "state", "midtjylland")
	got, err := rootJSON(t, r, "midtjylland", dir)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{
  "terraform": {"backend": {"pg": {"schema_name": "hubkit_midtjylland"}}},
  "module": {
    "hub": {"source": %q, "region": "midtjylland", "regions_dir": %q, "dev": false},
    "site": {
      "source": %q,
      "hub": "${module.hub}",
      "host": "10.0.0.19",
      "port": 2222,
      "user": "hubkit-deploy",
      "private_key_file": "/etc/hubkit/deploy_ed25519",
      "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHubkitTestKey",
      "dir": "/srv/hubkit/midtjylland",
      "listen": ":443"
    }
  },
  "output": {
    "domain": {"value": "${module.hub.domain}"},
    "release_id": {"value": "${module.site.release_id}"}
  }
}`, filepath.Join(cwd, "modules", "hub"), filepath.Join(cwd, "regions"), filepath.Join(cwd, "modules", "target-ssh"))
	sameJSON(t, "ssh midtjylland", got, want)

	// A development hub on an SSH host gets the development secret by name.
	got, err = rootJSON(t, r, "syddanmark", filepath.Join(cwd, "state", "syddanmark"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Terraform struct {
			Backend map[string]map[string]string `json:"backend"`
		} `json:"terraform"`
		Module struct {
			Hub  map[string]any `json:"hub"`
			Site map[string]any `json:"site"`
		} `json:"module"`
	}
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatal(err)
	}
	if env, _ := m.Module.Site["environment"].(map[string]any); len(env) != 1 || env[devidp.SecretEnv] != devidp.SecretEnv {
		t.Errorf("ssh dev hub environment = %v, want {%s: %s}", m.Module.Site["environment"], devidp.SecretEnv, devidp.SecretEnv)
	}
	if m.Module.Hub["dev"] != true {
		t.Errorf("ssh dev hub: hub.dev = %v", m.Module.Hub["dev"])
	}
	if _, ok := m.Module.Hub["port"]; ok {
		t.Errorf("ssh hub has a local port: %v", m.Module.Hub)
	}
	if s := m.Terraform.Backend["pg"]["schema_name"]; s != "hubkit_syddanmark" {
		t.Errorf("pg schema_name = %q, want hubkit_syddanmark", s)
	}
	if strings.Contains(got, "dev-secret-value-must-not-leak") {
		t.Errorf("the root module contains the development secret's value:\n%s", got)
	}

	// A region without an SSH target is an error naming the missing key.
	_, err = rootJSON(t, r, "nordjylland", filepath.Join(cwd, "state", "nordjylland"))
	if err == nil || !strings.Contains(err.Error(), "targets.ssh.nordjylland") {
		t.Errorf("ssh target of an unconfigured region: %v, want an error naming targets.ssh.nordjylland", err)
	}
}

func TestRootModuleErrors(t *testing.T) {
	cwd, cfg := rootFixture(t)
	r := &Runner{Config: cfg, Target: "cloud"}
	if _, err := rootJSON(t, r, "nordjylland", filepath.Join(cwd, "state", "nordjylland")); err == nil || !strings.Contains(err.Error(), `unknown target "cloud"`) {
		t.Errorf("unknown target: %v", err)
	}
	cfg.ModulesDir = "elsewhere"
	r.Target = TargetLocal
	_, err := rootJSON(t, r, "nordjylland", filepath.Join(cwd, "state", "nordjylland"))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(cwd, "elsewhere")+" has no hub module") {
		t.Errorf("modules_dir without a hub module: %v", err)
	}
}

// The pg backend's schema is per region, and the local backend's state
// sits in the region's working directory, for every region.
func TestRootModuleBackends(t *testing.T) {
	cwd, cfg := rootFixture(t)
	r := &Runner{Config: cfg, Target: TargetLocal}
	for _, backend := range []string{"local", "pg"} {
		cfg.Terraform.Backend = backend
		for _, region := range []string{"nordjylland", "midtjylland", "syddanmark", "hovedstaden", "sjaelland"} {
			dir := filepath.Join(cwd, "state", region)
			root, err := r.rootModule(region, dir)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(root["terraform"])
			want := fmt.Sprintf(`{"backend":{"local":{"path":%q}}}`, filepath.Join(dir, "terraform.tfstate"))
			if backend == "pg" {
				want = fmt.Sprintf(`{"backend":{"pg":{"schema_name":"hubkit_%s"}}}`, region)
			}
			if string(b) != want {
				t.Errorf("%s backend, %s: terraform block %s, want %s", backend, region, b, want)
			}
		}
	}
}

// Two runs in the same state directory: the second waits lock_timeout for
// the first one's working directory lock, then fails naming the lock and
// the holder; once the first closes, the second gets it.
func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load("", false)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Terraform.LockTimeout = 300 * time.Millisecond
	var out1, out2 bytes.Buffer
	first := &Runner{Config: cfg, Stdout: &out1}
	second := &Runner{Config: cfg, Stdout: &out2}
	ctx := context.Background()
	if err := first.lockDir(ctx, "nordjylland", dir); err != nil {
		t.Fatal(err)
	}
	// Taking it again in the same run (plan, then apply) is fine.
	if err := first.lockDir(ctx, "nordjylland", dir); err != nil {
		t.Fatalf("the same run locking its directory again: %v", err)
	}
	t0 := time.Now()
	err = second.lockDir(ctx, "nordjylland", dir)
	if err == nil {
		t.Fatal("a second run got the working directory while the first holds it")
	}
	if waited := time.Since(t0); waited < 300*time.Millisecond {
		t.Errorf("gave up after %s, before lock_timeout", waited)
	}
	for _, want := range []string{fmt.Sprintf("another hubctl (pid %d)", os.Getpid()), "region nordjylland", filepath.Join(dir, ".hubctl.lock"), "after 300ms (terraform.lock_timeout)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if !strings.Contains(out2.String(), "nordjylland | Waiting up to 300ms for another hubctl working in "+dir) {
		t.Errorf("the waiting run did not say what it waits for: %q", out2.String())
	}
	// Another region's directory is not affected.
	if err := second.lockDir(ctx, "midtjylland", t.TempDir()); err != nil {
		t.Errorf("another region: %v", err)
	}
	// Cancelled while waiting.
	cctx, cancel := context.WithCancel(ctx)
	cfg.Terraform.LockTimeout = time.Minute
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()
	if err := second.lockDir(cctx, "nordjylland", dir); !errors.Is(err, context.Canceled) {
		t.Errorf("waiting for the lock with a cancelled context: %v", err)
	}
	first.Close()
	if err := second.lockDir(ctx, "nordjylland", dir); err != nil {
		t.Errorf("after the first run closed: %v", err)
	}
	second.Close()
}
