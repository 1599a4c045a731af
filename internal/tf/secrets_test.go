package tf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/devidp"
)

// TestRootModuleSSHSecrets shows that a region file's `{ env: NAME }`
// secrets reach an SSH target by name (the provider reads the values at
// apply time), that their values never enter the root module, and that
// backup_dest is passed on.
func TestRootModuleSSHSecrets(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cwd, cfg := rootFixture(t)
	b, err := os.ReadFile(filepath.Join(repo, "regions", "nordjylland.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cwd, "regions", "nordjylland.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HUBKIT_OIDC_AALBORG_SECRET", "aalborg-secret-value-must-not-leak")
	t.Setenv(devidp.SecretEnv, "dev-secret-value-must-not-leak")
	target := config.SSHTarget{Host: "10.0.0.10", Port: 22, User: "root", PrivateKeyFile: "/k", HostKey: "ssh-ed25519 AAAA",
		Dir: "/srv/hubkit/nordjylland", Listen: ":443", BackupDest: "/var/backups/hubkit/nordjylland"}
	for _, dev := range []bool{false, true} {
		target.Dev = dev
		cfg.Targets.SSH = map[string]config.SSHTarget{"nordjylland": target}
		r := &Runner{Config: cfg, Target: TargetSSH}
		got, err := rootJSON(t, r, "nordjylland", filepath.Join(cwd, "state", "nordjylland"))
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Module struct {
				Site struct {
					Environment map[string]string `json:"environment"`
					BackupDest  string            `json:"backup_dest"`
				} `json:"site"`
			} `json:"module"`
		}
		if err := json.Unmarshal([]byte(got), &m); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"HUBKIT_OIDC_AALBORG_SECRET": "HUBKIT_OIDC_AALBORG_SECRET"}
		if dev {
			want[devidp.SecretEnv] = devidp.SecretEnv
		}
		if len(m.Module.Site.Environment) != len(want) {
			t.Errorf("dev %v: environment = %v, want %v", dev, m.Module.Site.Environment, want)
		}
		for k, v := range want {
			if m.Module.Site.Environment[k] != v {
				t.Errorf("dev %v: environment = %v, want %v", dev, m.Module.Site.Environment, want)
			}
		}
		if m.Module.Site.BackupDest != target.BackupDest {
			t.Errorf("dev %v: backup_dest = %q", dev, m.Module.Site.BackupDest)
		}
		if strings.Contains(got, "must-not-leak") {
			t.Errorf("the root module holds a secret's value:\n%s", got)
		}
	}
}
