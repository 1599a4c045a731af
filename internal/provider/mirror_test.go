package provider_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/deploy/deploytest"
	"github.com/hubkit/hubkit/internal/provider"
	"github.com/hubkit/hubkit/internal/testenv"
)

// TestModulesThroughMirror runs the real Terraform on modules/ (the
// example root modules/examples/local with modules/hub and
// modules/target-local) with the provider found only in the filesystem
// mirror: Terraform starts hubctl itself as the provider. It then
// rebuilds hubctl (another executable, same provider version) and shows
// that the lock file is kept consistent and the new hubctl is deployed.
func TestModulesThroughMirror(t *testing.T) {
	ctx := context.Background()
	accEnv(t) // only for the Terraform check; this test does not use plugin-testing
	hubctl := deploytest.Hubctl(t)
	work := t.TempDir()
	version := provider.Version("dev")
	cliConfig, err := provider.WriteMirror(work, hubctl, version)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", cliConfig)
	t.Setenv("HUBKIT_DEV_CLIENT_SECRET", "mirror-test-secret")

	modules := filepath.Join(work, "modules")
	copyTree(t, filepath.Join(testenv.RepoRoot(t), "modules"), modules)
	root := filepath.Join(modules, "examples", "local")
	tf, err := tfexec.NewTerraform(root, terraformPath)
	if err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(work, "site")
	port := deploytest.FreePort(t)
	vars := []string{
		"dir=" + site, "port=" + strconv.Itoa(port), "health_timeout=30s",
		"regions_dir=" + deploytest.CopyRegions(t), "config_file=" + deploytest.ConfigFile(t),
	}
	t.Cleanup(func() { _ = tf.Destroy(context.Background(), destroyVars(vars)...) })

	// modules/target-ssh needs a host to apply; validate it with the mirror.
	sshRoot := filepath.Join(modules, "examples", "ssh-validate")
	if err := os.MkdirAll(sshRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sshRoot, "main.tf"), []byte(`
module "hub" {
  source = "../../hub"
  region = "nordjylland"
}

module "site" {
  source           = "../../target-ssh"
  hub              = module.hub
  host             = "hub.nordjylland.example"
  private_key_file = "/nonexistent/key"
  host_key         = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJmAigyvHasIXFFKd9Ix0ZsZkLxeS7sPqNihXLjg6oK"
}

output "url" {
  value = module.site.url
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	sshTF, err := tfexec.NewTerraform(sshRoot, terraformPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := sshTF.Init(ctx); err != nil {
		t.Fatalf("terraform init of a root with modules/target-ssh: %v", err)
	}
	if v, err := sshTF.Validate(ctx); err != nil || !v.Valid {
		t.Fatalf("terraform validate of modules/target-ssh: %v %+v", err, v)
	}

	if err := tf.Init(ctx); err != nil {
		t.Fatalf("terraform init with the mirror: %v", err)
	}
	hash1, err := provider.PackageHash(work, version)
	if err != nil {
		t.Fatal(err)
	}
	checkLock(t, root, hash1, "")

	if err := tf.Apply(ctx, applyVars(vars)...); err != nil {
		t.Fatalf("terraform apply: %v", err)
	}
	if err := deploytest.Readyz(deploytest.Listen(port), bundle.DevDomain("nordjylland")); err != nil {
		t.Fatalf("hub not ready after terraform apply: %v", err)
	}
	out, err := tf.Output(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out["url"].Value), strconv.Quote("https://nordjylland.hub.localhost:"+strconv.Itoa(port)+"/"); got != want {
		t.Errorf("output url = %s, want %s", got, want)
	}
	release1 := string(out["release_id"].Value)
	if changed, err := tf.Plan(ctx, planVars(vars)...); err != nil || changed {
		t.Fatalf("plan after apply: changes %v, %v; want none", changed, err)
	}

	// hubctl is rebuilt: another executable under the same provider version.
	rebuilt := filepath.Join(t.TempDir(), "hubctl")
	b, err := os.ReadFile(hubctl)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rebuilt, append(b, "\nrebuilt\n"...), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := provider.WriteMirror(work, rebuilt, version); err != nil {
		t.Fatal(err)
	}
	// Without hubctl's help Terraform refuses the new package ...
	if err := tf.Init(ctx); err == nil || !strings.Contains(err.Error(), "match any of the checksums") {
		t.Fatalf("terraform init after a rebuild without SyncLockFile: %v; want a checksum mismatch", err)
	}
	// ... with it, the lock file names the new package, and only it.
	if changed, err := provider.SyncLockFile(root, work, version); err != nil || !changed {
		t.Fatalf("SyncLockFile: changed %v, %v", changed, err)
	}
	if err := tf.Init(ctx); err != nil {
		t.Fatalf("terraform init after SyncLockFile: %v", err)
	}
	hash2, _ := provider.PackageHash(work, version)
	checkLock(t, root, hash2, hash1)

	// The new hubctl (the provider's own executable) is a new release.
	if changed, err := tf.Plan(ctx, planVars(vars)...); err != nil || !changed {
		t.Fatalf("plan after a hubctl rebuild: changes %v, %v; want an update", changed, err)
	}
	if err := tf.Apply(ctx, applyVars(vars)...); err != nil {
		t.Fatalf("terraform apply of the rebuilt hubctl: %v", err)
	}
	out, _ = tf.Output(ctx)
	if release2 := string(out["release_id"].Value); release2 == release1 {
		t.Errorf("the rebuilt hubctl did not make a new release (%s)", release2)
	}
	if err := deploytest.Readyz(deploytest.Listen(port), bundle.DevDomain("nordjylland")); err != nil {
		t.Fatalf("hub not ready after deploying the rebuilt hubctl: %v", err)
	}

	if err := tf.Destroy(ctx, destroyVars(vars)...); err != nil {
		t.Fatalf("terraform destroy: %v", err)
	}
	if _, err := os.Stat(filepath.Join(site, "data", "hub.db")); err != nil {
		t.Errorf("destroy lost the hub's data: %v", err)
	}
}

// checkLock checks that the lock file's hubkit entry lists want and not gone.
func checkLock(t *testing.T, dir, want, gone string) {
	t.Helper()
	lock, err := os.ReadFile(filepath.Join(dir, ".terraform.lock.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(lock), `"`+want+`"`) {
		t.Errorf("the lock file lacks the mirror's package hash %s:\n%s", want, lock)
	}
	if gone != "" && strings.Contains(string(lock), gone) {
		t.Errorf("the lock file still lists the old hash %s:\n%s", gone, lock)
	}
}

func applyVars(vars []string) []tfexec.ApplyOption {
	var o []tfexec.ApplyOption
	for _, v := range vars {
		o = append(o, tfexec.Var(v))
	}
	return o
}

func planVars(vars []string) []tfexec.PlanOption {
	var o []tfexec.PlanOption
	for _, v := range vars {
		o = append(o, tfexec.Var(v))
	}
	return o
}

func destroyVars(vars []string) []tfexec.DestroyOption {
	var o []tfexec.DestroyOption
	for _, v := range vars {
		o = append(o, tfexec.Var(v))
	}
	return o
}

// copyTree copies the .tf and .md files of a directory tree.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".terraform") {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !strings.HasSuffix(p, ".tf") && !strings.HasSuffix(p, ".md") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
