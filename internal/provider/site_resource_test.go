package provider_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/deploy"
	"github.com/hubkit/hubkit/internal/deploy/deploytest"
)

const siteAddr = "hubkit_site.nj"

// localSite is a hubkit_site of Nordjylland's development bundle in a
// temporary directory, served on a free loopback port.
type localSite struct {
	t       *testing.T
	regions string
	dir     string
	port    int
	bin     string
}

func newLocalSite(t *testing.T) *localSite {
	accEnv(t)
	t.Setenv("HUBKIT_DEV_CLIENT_SECRET", "acc-test-secret")
	s := &localSite{
		t: t, regions: deploytest.CopyRegions(t), dir: filepath.Join(t.TempDir(), "nordjylland"),
		port: deploytest.FreePort(t), bin: deploytest.Hubctl(t),
	}
	// Whatever a failing test leaves running is stopped.
	t.Cleanup(func() { _ = (&deploy.Local{Dir: s.dir}).Remove(t.Context(), true) })
	return s
}

// config renders the hub for bundlePort and serves it on s.port; another
// bundlePort makes a release that fails its health check (its
// development identity provider's issuer names a port nobody serves).
func (s *localSite) config(bundlePort int, extra string) string {
	timeout := "30s"
	if bundlePort != s.port {
		timeout = "4s" // it never gets ready: fail fast
	}
	return fmt.Sprintf(`
provider "hubkit" {
  config_file = %q
  regions_dir = %q
}

data "hubkit_bundle" "nj" {
  region = "nordjylland"
  dev    = true
  port   = %d
}

resource "hubkit_site" "nj" {
  region             = "nordjylland"
  bundle_hash        = data.hubkit_bundle.nj.bundle_hash
  files              = data.hubkit_bundle.nj.files
  members            = data.hubkit_bundle.nj.members
  resource_persons   = data.hubkit_bundle.nj.resource_persons
  partners           = data.hubkit_bundle.nj.partners
  identity_providers = data.hubkit_bundle.nj.identity_providers

  listen         = "127.0.0.1:%d"
  environment    = { HUBKIT_DEV_CLIENT_SECRET = "HUBKIT_DEV_CLIENT_SECRET" }
  health_timeout = %q
  hubctl_binary  = %q
  %s

  target {
    local {
      dir = %q
    }
  }
}
`, deploytest.ConfigFile(s.t), s.regions, bundlePort, s.port, timeout, s.bin, extra, s.dir)
}

func (s *localSite) good() string { return s.config(s.port, "") }

// ready checks that the hub answers /readyz.
func (s *localSite) ready(*terraform.State) error {
	return deploytest.Readyz(deploytest.Listen(s.port), bundle.DevDomain("nordjylland"))
}

func (s *localSite) current() string {
	l, _ := os.Readlink(filepath.Join(s.dir, "current"))
	return strings.TrimPrefix(l, "releases/")
}

// siteFileHas checks the deployed site.json.
func (s *localSite) siteFileHas(text string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		b, err := os.ReadFile(filepath.Join(s.dir, "current", bundle.SiteFile))
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), text) {
			return fmt.Errorf("the deployed site.json does not contain %q", text)
		}
		return nil
	}
}

// TestAccSiteLocal goes through a local site's life: create, update when
// a resource person changes, drift (edited manifest, missing current, a
// stopped hub) detected and repaired, a release that fails its health
// check rolled back while the previous one keeps serving, import, and a
// destroy that keeps the hub's data.
func TestAccSiteLocal(t *testing.T) {
	s := newLocalSite(t)
	var released string
	expectUpdate := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(siteAddr, plancheck.ResourceActionUpdate)}}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy: func(*terraform.State) error {
			if _, err := os.Stat(filepath.Join(s.dir, "data", "hub.db")); err != nil {
				return fmt.Errorf("destroy lost the hub's data: %v", err)
			}
			if _, err := os.Stat(filepath.Join(s.dir, "releases")); !os.IsNotExist(err) {
				return fmt.Errorf("destroy left the releases behind (%v)", err)
			}
			if s.ready(nil) == nil {
				return fmt.Errorf("the hub still answers after destroy")
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				// Create.
				Config: s.good(),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(siteAddr, "id", "nordjylland"),
					resource.TestMatchResourceAttr(siteAddr, "release_id", regexp.MustCompile(`^[0-9a-f]{16}$`)),
					resource.TestCheckResourceAttrPair(siteAddr, "deployed_bundle_hash", "data.hubkit_bundle.nj", "bundle_hash"),
					resource.TestCheckResourceAttr(siteAddr, "purge_data", "false"),
					resource.TestCheckNoResourceAttr(siteAddr, "environment.HUBKIT_DEV_CLIENT_SECRET_VALUE"),
					s.ready,
					func(st *terraform.State) error {
						released = st.RootModule().Resources[siteAddr].Primary.Attributes["release_id"]
						if s.current() != released {
							return fmt.Errorf("current -> %s, state says %s", s.current(), released)
						}
						return nil
					},
				),
			},
			{
				// Update: a resource person changes; the plan shows it.
				PreConfig: func() {
					deploytest.EditRegion(t, s.regions, "nordjylland", "name: Maja Nørgaard", "name: Maja Nørgaard Holm")
				},
				Config: s.good(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(siteAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(siteAddr, tfjsonpath.New("resource_persons").AtSliceIndex(0),
						knownvalue.StringExact("Maja Nørgaard Holm <maja.noergaard@aalborg.example>")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttrPair(siteAddr, "deployed_bundle_hash", "data.hubkit_bundle.nj", "bundle_hash"),
					s.siteFileHas("Maja Nørgaard Holm"),
					s.ready,
					func(st *terraform.State) error {
						id := st.RootModule().Resources[siteAddr].Primary.Attributes["release_id"]
						if id == released {
							return fmt.Errorf("release_id did not change")
						}
						released = id
						return nil
					},
				),
			},
			{
				// Drift: the deployed manifest was edited on the host.
				PreConfig: func() {
					f := filepath.Join(s.dir, "current", bundle.ManifestFile)
					b, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					edited := regexp.MustCompile(`"bundle_hash": "[0-9a-f]+"`).ReplaceAll(b, []byte(`"bundle_hash": "`+strings.Repeat("0", 64)+`"`))
					if err := os.WriteFile(f, edited, 0o644); err != nil {
						t.Fatal(err)
					}
				},
				Config:           s.good(),
				ConfigPlanChecks: expectUpdate,
				Check:            resource.ComposeAggregateTestCheckFunc(s.ready, s.siteFileHas("Maja Nørgaard Holm"), manifestMatches(s)),
			},
			{
				// Drift: current was deleted on the host.
				PreConfig: func() {
					if err := os.Remove(filepath.Join(s.dir, "current")); err != nil {
						t.Fatal(err)
					}
				},
				Config:           s.good(),
				ConfigPlanChecks: expectUpdate,
				Check:            resource.ComposeAggregateTestCheckFunc(s.ready, manifestMatches(s)),
			},
			{
				// Drift: the hub was stopped.
				PreConfig: func() {
					if err := stopHub(s.dir); err != nil {
						t.Fatal(err)
					}
				},
				Config:           s.good(),
				ConfigPlanChecks: expectUpdate,
				Check:            s.ready,
			},
			{
				// A refresh-only plan shows drift too: terraform plan is not empty.
				PreConfig: func() {
					if err := os.Remove(filepath.Join(s.dir, "current")); err != nil {
						t.Fatal(err)
					}
				},
				Config:             s.good(),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				// ... and apply repairs it.
				Config: s.good(),
				Check:  s.ready,
			},
			{
				// A release that fails its health check is rolled back.
				Config:      s.config(deploytest.FreePort(t), ""),
				ExpectError: regexp.MustCompile(`(?s)failed its health check.*rolled\s+back\s+to\s+release\s+[0-9a-f]{16},\s+which\s+is\s+serving\s+again`),
			},
			{
				// The previous release kept serving, and the state still says so.
				PreConfig: func() {
					if err := s.ready(nil); err != nil {
						t.Fatalf("the previous release does not serve after the rollback: %v", err)
					}
					if s.current() != released {
						t.Fatalf("current -> %s after the rollback, want %s", s.current(), released)
					}
				},
				Config:   s.good(),
				PlanOnly: true,
			},
			{
				// Import of a local site.
				ResourceName:      siteAddr,
				ImportState:       true,
				ImportStateId:     "nordjylland:" + s.dir,
				ImportStateVerify: true,
				// Not on the target: the hub terms only inform plans, and
				// which hubctl file was deployed from.
				ImportStateVerifyIgnore: []string{"members", "resource_persons", "partners", "identity_providers", "hubctl_binary", "health_timeout"},
			},
		},
	})
}

// TestAccSitePurgeData: with purge_data, destroy removes everything.
func TestAccSitePurgeData(t *testing.T) {
	s := newLocalSite(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		CheckDestroy: func(*terraform.State) error {
			if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
				return fmt.Errorf("destroy with purge_data left %s (%v)", s.dir, err)
			}
			return nil
		},
		Steps: []resource.TestStep{{
			Config: s.config(s.port, "purge_data = true"),
			Check:  s.ready,
		}},
	})
}

// TestAccSiteMissingSecret: a referenced variable that is not set fails
// the plan's apply with a message that names it, before anything is deployed.
func TestAccSiteMissingSecret(t *testing.T) {
	s := newLocalSite(t)
	t.Setenv("HUBKIT_DEV_CLIENT_SECRET", "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config:      s.good(),
			ExpectError: regexp.MustCompile(`(?s)HUBKIT_DEV_CLIENT_SECRET,\s+which\s+is\s+not\s+set`),
		}},
	})
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Errorf("a failed apply created %s", s.dir)
	}
}

// manifestMatches checks that the deployed manifest is the state's bundle.
func manifestMatches(s *localSite) resource.TestCheckFunc {
	return func(st *terraform.State) error {
		m, err := bundle.Verify(filepath.Join(s.dir, "current"))
		if err != nil {
			return err
		}
		if want := st.RootModule().Resources[siteAddr].Primary.Attributes["bundle_hash"]; m.BundleHash != want {
			return fmt.Errorf("deployed bundle %s, state %s", m.BundleHash, want)
		}
		return nil
	}
}

// stopHub stops the hub behind Terraform's back, as a crash would, and
// waits until its port is closed.
func stopHub(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "hub.pid"))
	if err != nil {
		return err
	}
	p, err := os.FindProcess(atoi(strings.TrimSpace(string(b))))
	if err != nil {
		return err
	}
	if err := p.Kill(); err != nil {
		return err
	}
	env, err := os.ReadFile(filepath.Join(dir, deploy.EnvFile))
	if err != nil {
		return err
	}
	listen := regexp.MustCompile(`HUBCTL_LISTEN='([^']+)'`).FindSubmatch(env)
	if listen == nil {
		return fmt.Errorf("no HUBCTL_LISTEN in hub.env")
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", string(listen[1]), time.Second)
		if err != nil {
			return nil
		}
		c.Close()
	}
	return fmt.Errorf("the hub still listens after SIGKILL")
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
