package provider_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/deploy/deploytest"
)

func TestAccBundleDataSource(t *testing.T) {
	accEnv(t)
	regions := deploytest.CopyRegions(t)
	// The same bytes as `hubctl render`: internal/bundle with hubctl's version.
	want := deploytest.Render(t, regions, "nordjylland", bundle.Options{Dev: true, Version: "dev", Port: 9443})
	config := func(region string) string {
		return fmt.Sprintf(`
provider "hubkit" {
  config_file = %q
  regions_dir = %q
}

data "hubkit_bundle" "nj" {
  region = %q
  dev    = true
  port   = 9443
}
`, deploytest.ConfigFile(t), regions, region)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{
			{
				Config: config("nordjylland"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("data.hubkit_bundle.nj", "bundle_hash", want.Manifest.BundleHash),
					resource.TestCheckResourceAttr("data.hubkit_bundle.nj", "domain", "nordjylland.hub.localhost"),
					resource.TestCheckResourceAttr("data.hubkit_bundle.nj", "files.%", "3"),
					resource.TestCheckResourceAttr("data.hubkit_bundle.nj", "files.site.json", string(want.Files[bundle.SiteFile])),
					resource.TestCheckResourceAttr("data.hubkit_bundle.nj", "members.#", "11"),
					resource.TestCheckTypeSetElemAttr("data.hubkit_bundle.nj", "members.*", "Læsø"),
					resource.TestCheckTypeSetElemAttr("data.hubkit_bundle.nj", "resource_persons.*", "Maja Nørgaard <maja.noergaard@aalborg.example>"),
					resource.TestCheckResourceAttrSet("data.hubkit_bundle.nj", "partners.0"),
					resource.TestCheckTypeSetElemAttr("data.hubkit_bundle.nj", "identity_providers.*", "Aalborg"),
				),
			},
			{
				Config:      config("atlantis"),
				ExpectError: regexp.MustCompile(`region "atlantis" is not loaded`),
			},
		},
	})
}

func TestAccBundleDataSourceInvalidRegions(t *testing.T) {
	accEnv(t)
	regions := deploytest.CopyRegions(t)
	deploytest.EditRegion(t, regions, "nordjylland", "  - Læsø\n", "  - Atlantis\n")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: protoV6,
		Steps: []resource.TestStep{{
			Config: fmt.Sprintf(`
provider "hubkit" {
  regions_dir = %q
}

data "hubkit_bundle" "nj" {
  region = "nordjylland"
}
`, regions),
			// Every problem with its file:line:col, as hubctl validate prints it.
			ExpectError: regexp.MustCompile(`(?s)are invalid.*nordjylland\.yaml:\d+:\d+:\s+unknown\s+municipality\s+"Atlantis"`),
		}},
	})
}
