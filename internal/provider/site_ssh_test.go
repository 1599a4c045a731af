package provider_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/hubkit/hubkit/internal/deploy/deploytest"
	"github.com/hubkit/hubkit/internal/testenv"
)

// TestAccSiteSSH deploys through Terraform onto the SSH test host (a real
// sshd in a network namespace with its own address), and shows that a
// host key other than the pinned one stops Terraform before it touches
// anything. internal/deploy's TestSSHEndToEnd covers updates and rollback
// over SSH in detail.
func TestAccSiteSSH(t *testing.T) {
	accEnv(t)
	host := deploytest.StartSSHHost(t)
	const domain = "nordjylland.hub.test"
	issuer := host.StartOIDCProvider(t, testenv.OS2faktorLikeConfig(
		testenv.OIDCClient{ClientID: "hub-test", ClientSecret: "acc-ssh", RedirectURIs: []string{"https://" + domain + ":8443/auth/callback"}},
		testenv.OIDCAccount{AccountID: "konsulent", Claims: map[string]any{"roles": []string{"sikkerhedskonsulent"}}},
	))
	t.Setenv("ACC_SSH_OIDC_SECRET", "acc-ssh")
	regions := deploytest.TestRegions(t, issuer, domain)
	dir := filepath.Join(t.TempDir(), "srv", "nordjylland")
	bin := deploytest.Hubctl(t)
	config := func(hostKey string) string {
		return fmt.Sprintf(`
provider "hubkit" {
  config_file = %q
  regions_dir = %q
}

data "hubkit_bundle" "nj" {
  region = "nordjylland"
  port   = 8443
}

resource "hubkit_site" "nj" {
  region        = "nordjylland"
  bundle_hash   = data.hubkit_bundle.nj.bundle_hash
  files         = data.hubkit_bundle.nj.files
  listen        = "%s:8443"
  environment   = { HUBKIT_OIDC_AALBORG_SECRET = "ACC_SSH_OIDC_SECRET" }
  hubctl_binary = %q

  target {
    ssh {
      host             = %q
      port             = %d
      user             = %q
      private_key_file = %q
      host_key         = %q
      dir              = %q
    }
  }
}
`, deploytest.ConfigFile(t), regions, host.Addr, bin, host.Addr, host.Port, host.User, host.KeyFile, hostKey, dir)
	}
	ready := func(*terraform.State) error { return deploytest.Readyz(host.Addr+":8443", domain) }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy: func(*terraform.State) error {
			if ready(nil) == nil {
				return fmt.Errorf("the hub on the test host still answers after destroy")
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: config(host.HostKey),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttrPair("hubkit_site.nj", "deployed_bundle_hash", "data.hubkit_bundle.nj", "bundle_hash"),
					ready,
				),
			},
			{
				Config:      config(host.OtherHostKey),
				ExpectError: regexp.MustCompile(`(?s)host\s+key\s+mismatch,\s+refusing\s+to\s+connect`),
			},
			{
				// Back to the right key: nothing changed on the host.
				Config:   config(host.HostKey),
				PlanOnly: true,
			},
		},
	})
}
