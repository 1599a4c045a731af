package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/site"
	"github.com/hubkit/hubkit/internal/version"
)

var (
	_ datasource.DataSource              = (*bundleDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*bundleDataSource)(nil)
)

// NewBundleDataSource returns the data source hubkit_bundle.
func NewBundleDataSource() datasource.DataSource { return &bundleDataSource{} }

// bundleDataSource renders a region's bundle, as `hubctl render` does.
// Besides the files it lists the region's hub terms (members, resource
// persons, partners, identity providers), so that `terraform plan` shows
// what changes for the people who use the hub, not only a new hash.
type bundleDataSource struct {
	data *providerData
}

type bundleModel struct {
	Region            types.String `tfsdk:"region"`
	Dev               types.Bool   `tfsdk:"dev"`
	Port              types.Int64  `tfsdk:"port"`
	PeerPorts         types.Map    `tfsdk:"peer_ports"`
	BundleHash        types.String `tfsdk:"bundle_hash"`
	Domain            types.String `tfsdk:"domain"`
	Files             types.Map    `tfsdk:"files"`
	Members           types.List   `tfsdk:"members"`
	ResourcePersons   types.List   `tfsdk:"resource_persons"`
	Partners          types.List   `tfsdk:"partners"`
	IdentityProviders types.List   `tfsdk:"identity_providers"`
}

// Metadata implements datasource.DataSource.
func (d *bundleDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_bundle"
}

// Schema implements datasource.DataSource.
func (d *bundleDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	list := func(desc string) schema.ListAttribute {
		return schema.ListAttribute{Computed: true, ElementType: types.StringType, Description: desc}
	}
	resp.Schema = schema.Schema{
		Description: "Renders a region's hub bundle (caddy.json, site.json, manifest.json) from the region files, " +
			"with the same code and the same bytes as `hubctl render`. The bundle holds no secrets.",
		Attributes: map[string]schema.Attribute{
			"region": schema.StringAttribute{Required: true, Description: "Region id, e.g. `nordjylland` (the name of its file in the regions directory)."},
			"dev": schema.BoolAttribute{Optional: true, Description: "Render a development bundle: the hub on `<region>.hub.localhost` with Caddy's " +
				"internal CA and the development identity provider in place of the municipalities' own. Development hubs listen on loopback only."},
			"port": schema.Int64Attribute{Optional: true, Validators: []validator.Int64{int64validator.Between(1, 65535)},
				Description: "HTTPS port the hub is rendered for: 443 by default, 8443 for development bundles. " +
					"A development bundle must be served on the port it was rendered for (its identity provider's URLs name it)."},
			"peer_ports": schema.MapAttribute{Optional: true, ElementType: types.Int64Type,
				Description: "HTTPS ports of the other regions' hubs by region id, where they differ from `port` (local hubs side by side, " +
					"each on its own port). The file drop delivers drops for those regions' users there. Default: the same port as this hub."},
			"bundle_hash": schema.StringAttribute{Computed: true, Description: "sha256 of the bundle's content; it changes exactly when the bundle does."},
			"domain":      schema.StringAttribute{Computed: true, Description: "Host name the hub is served on."},
			"files": schema.MapAttribute{Computed: true, ElementType: types.StringType,
				Description: "The bundle's files by name: `caddy.json`, `site.json`, `manifest.json`."},
			"members":            list("Names of the region's member municipalities (kommuner)."),
			"resource_persons":   list("The region's resource persons as `Name <email>`."),
			"partners":           list("Names of the region's partner organisations."),
			"identity_providers": list("Municipalities whose users can log in, one per identity provider."),
		},
	}
}

// Configure implements datasource.DataSourceWithConfigure.
func (d *bundleDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	data, err := dataFrom(req.ProviderData)
	if err != nil {
		resp.Diagnostics.AddError("hubkit provider", err.Error())
		return
	}
	d.data = data
}

// Read implements datasource.DataSource: it loads and validates the
// region files and renders the region's bundle.
func (d *bundleDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m bundleModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if d.data == nil {
		resp.Diagnostics.AddError("hubkit provider not configured", "the provider block was not configured before hubkit_bundle was read (a bug in Terraform or the provider)")
		return
	}
	set, err := region.LoadDir(d.data.regionsDir, d.data.cfg.Defaults)
	if err != nil {
		resp.Diagnostics.AddError("Cannot load the region files", err.Error())
		return
	}
	if len(set.Errors) > 0 {
		var b strings.Builder
		for _, e := range set.Errors {
			b.WriteString(e.String() + "\n")
		}
		resp.Diagnostics.AddError(fmt.Sprintf("The region files in %s are invalid (%d error(s))", d.data.regionsDir, len(set.Errors)),
			b.String()+"Fix them and run `hubctl validate` to check.")
		return
	}
	id := m.Region.ValueString()
	opt := bundle.Options{Dev: m.Dev.ValueBool(), Version: version.Version, Port: int(m.Port.ValueInt64())}
	if !m.PeerPorts.IsNull() && !m.PeerPorts.IsUnknown() {
		var ports map[string]int64
		resp.Diagnostics.Append(m.PeerPorts.ElementsAs(ctx, &ports, false)...)
		if resp.Diagnostics.HasError() {
			return
		}
		opt.PeerPorts = map[string]int{}
		for id, p := range ports {
			if p < 1 || p > 65535 {
				resp.Diagnostics.AddAttributeError(path.Root("peer_ports").AtMapKey(id), "Not a port", fmt.Sprintf("%d is not a TCP port", p))
				return
			}
			opt.PeerPorts[id] = int(p)
		}
	}
	b, err := bundle.Render(set, id, d.data.cfg, opt)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("region"), "Cannot render the bundle", err.Error())
		return
	}
	var st site.Site
	if err := json.Unmarshal(b.Files[bundle.SiteFile], &st); err != nil {
		resp.Diagnostics.AddError("Cannot read the rendered site.json", err.Error())
		return
	}
	files := map[string]string{}
	for name, data := range b.Files {
		files[name] = string(data)
	}
	terms := hubTermsOf(&st)
	m.BundleHash = types.StringValue(b.Manifest.BundleHash)
	m.Domain = types.StringValue(b.Manifest.Domain)
	fileMap, diags := types.MapValueFrom(ctx, types.StringType, files)
	resp.Diagnostics.Append(diags...)
	m.Files = fileMap
	m.Members = stringList(terms.members)
	m.ResourcePersons = stringList(terms.resourcePersons)
	m.Partners = stringList(terms.partners)
	m.IdentityProviders = stringList(terms.identityProviders)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// hubTerms are the parts of a region that its users see.
type hubTerms struct {
	members, resourcePersons, partners, identityProviders []string
}

func hubTermsOf(st *site.Site) hubTerms {
	var t hubTerms
	r := st.Region
	for _, k := range r.Kommuner {
		t.members = append(t.members, k.Name)
	}
	for _, p := range r.ResourcePersons {
		t.resourcePersons = append(t.resourcePersons, fmt.Sprintf("%s <%s>", p.Name, p.Email))
	}
	for _, p := range r.Partners {
		t.partners = append(t.partners, p.Name)
	}
	for _, p := range r.IdentityProviders {
		t.identityProviders = append(t.identityProviders, p.Kommune)
	}
	sort.Strings(t.members)
	sort.Strings(t.identityProviders)
	return t
}

func stringList(vs []string) types.List {
	elems := make([]attr.Value, len(vs))
	for i, v := range vs {
		elems[i] = types.StringValue(v)
	}
	l, _ := types.ListValue(types.StringType, elems)
	return l
}
