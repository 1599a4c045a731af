// Package provider is hubkit's Terraform provider, "hubkit" (protocol 6,
// terraform-plugin-framework). It is compiled into hubctl: Terraform
// starts the hubctl executable under the provider's file name
// (terraform-provider-hubkit_v<version>), and cmd/hubctl then calls Serve
// instead of the command line interface.
//
//   - data source hubkit_bundle renders a region's bundle with the same
//     code as `hubctl render` (internal/bundle);
//   - resource hubkit_site deploys a bundle and a hubctl release onto a
//     local directory or an SSH host (internal/deploy) and detects drift.
//
// Terraform finds the provider without any network through a filesystem
// mirror that hubctl writes (WriteMirror, SyncLockFile).
package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/hubkit/hubkit/internal/config"
)

// TypeName is the provider's name in Terraform configurations.
const TypeName = "hubkit"

var _ provider.Provider = (*Provider)(nil)

var pathConfigFile = path.Root("config_file")

// Provider is the hubkit provider.
type Provider struct {
	version string
}

// New returns a constructor of the provider, as providerserver wants it.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &Provider{version: version} }
}

// providerModel is the provider block.
type providerModel struct {
	ConfigFile types.String `tfsdk:"config_file"`
	RegionsDir types.String `tfsdk:"regions_dir"`
}

// providerData is what the data sources and resources get from Configure.
type providerData struct {
	cfg        *config.Config
	regionsDir string
}

// Metadata implements provider.Provider.
func (p *Provider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = TypeName
	resp.Version = p.version
}

// Schema implements provider.Provider.
func (p *Provider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Provisions hubkit's regional hubs: renders a region's bundle from the region files " +
			"(data source `hubkit_bundle`) and deploys it with a hubctl release onto a target (resource `hubkit_site`). " +
			"The provider is built into hubctl and never downloaded: hubctl writes a filesystem mirror holding a copy of " +
			"itself and a Terraform CLI configuration (`terraform.rc`) that installs `hubkit/hubkit` from that mirror only; " +
			"point Terraform at it with `TF_CLI_CONFIG_FILE`. hubctl also keeps the hubkit entry of `.terraform.lock.hcl` " +
			"at the mirror's package hash, so a rebuilt hubctl needs no `terraform init -upgrade` (see modules/README.md).",
		Attributes: map[string]schema.Attribute{
			"config_file": schema.StringAttribute{
				Optional: true,
				Description: "hubkit's global configuration file. Default: `" + config.DefaultFile + "` when it exists, " +
					"else the built-in defaults. Relative paths are relative to Terraform's working directory. " +
					"`HUBKIT_*` environment variables override its keys, as for hubctl.",
			},
			"regions_dir": schema.StringAttribute{
				Optional:    true,
				Description: "Directory of the region files. Default: `regions_dir` of the configuration file (`regions`).",
			},
		},
	}
}

// Configure implements provider.Provider: it loads the global configuration.
func (p *Provider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	file, explicit := config.DefaultFile, false
	if !m.ConfigFile.IsNull() && !m.ConfigFile.IsUnknown() {
		file, explicit = m.ConfigFile.ValueString(), true
	}
	cfg, err := config.Load(file, explicit)
	if err != nil {
		resp.Diagnostics.AddAttributeError(pathConfigFile, "Cannot load hubkit's configuration", err.Error())
		return
	}
	data := &providerData{cfg: cfg, regionsDir: cfg.RegionsDir}
	if !m.RegionsDir.IsNull() && !m.RegionsDir.IsUnknown() {
		data.regionsDir = m.RegionsDir.ValueString()
	}
	resp.DataSourceData = data
	resp.ResourceData = data
}

// Resources implements provider.Provider.
func (p *Provider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewSiteResource}
}

// DataSources implements provider.Provider.
func (p *Provider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewBundleDataSource}
}

// dataFrom takes the provider's data out of a Configure request of a data
// source or resource; nil before the provider is configured.
func dataFrom(v any) (*providerData, error) {
	if v == nil {
		return nil, nil
	}
	d, ok := v.(*providerData)
	if !ok {
		return nil, fmt.Errorf("unexpected provider data %T (a bug in the hubkit provider)", v)
	}
	return d, nil
}
