package provider_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/hubkit/hubkit/internal/deploy/deploytest"
	"github.com/hubkit/hubkit/internal/provider"
)

func TestMain(m *testing.M) {
	code := m.Run()
	deploytest.Cleanup()
	os.Exit(code)
}

// terraformPath is the real Terraform the acceptance tests drive.
const terraformPath = "/usr/local/bin/terraform"

// protoV6 serves the provider in the test process; terraform-plugin-testing
// points the real Terraform at it (TF_REATTACH_PROVIDERS).
var protoV6 = map[string]func() (tfprotov6.ProviderServer, error){
	provider.TypeName: providerserver.NewProtocol6WithError(provider.New("test")()),
}

// accEnv makes terraform-plugin-testing run the acceptance tests in every
// `go test` (they are the provider's tests, not an opt-in extra) with the
// real Terraform, and gives Terraform a CLI configuration of our own:
// no checkpoint calls, and no provider installation from anywhere (the
// provider under test is reattached; nothing else is needed).
func accEnv(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(terraformPath); err != nil {
		t.Fatalf("Terraform is missing at %s: the acceptance tests need the real binary (%v)", terraformPath, err)
	}
	t.Setenv("TF_ACC", "1")
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Setenv("TF_ACC_TERRAFORM_PATH", terraformPath)
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "no-providers")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "terraform.rc")
	rc := fmt.Sprintf("disable_checkpoint = true\nprovider_installation {\n  filesystem_mirror {\n    path = %s\n  }\n}\n", strconv.Quote(empty))
	if err := os.WriteFile(cfg, []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", cfg)
	t.Setenv("CHECKPOINT_DISABLE", "1")
}
