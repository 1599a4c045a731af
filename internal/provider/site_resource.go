package provider

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/objectvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/hubkit/hubkit/internal/deploy"
)

var (
	_ resource.Resource                     = (*siteResource)(nil)
	_ resource.ResourceWithConfigure        = (*siteResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*siteResource)(nil)
	_ resource.ResourceWithImportState      = (*siteResource)(nil)
	_ resource.ResourceWithConfigValidators = (*siteResource)(nil)
)

// Attribute paths used in diagnostics.
var (
	pathFiles         = path.Root("files")
	pathBundleHash    = path.Root("bundle_hash")
	pathHubctlBinary  = path.Root("hubctl_binary")
	pathHealthTimeout = path.Root("health_timeout")
	pathEnvironment   = path.Root("environment")
)

// NewSiteResource returns the resource hubkit_site.
func NewSiteResource() resource.Resource { return &siteResource{} }

// siteResource is a deployed hub: a bundle and a hubctl release running
// on a target (internal/deploy does the work).
type siteResource struct{}

var (
	regionIDRe = regexp.MustCompile(`^[a-z0-9-]+$`)
	envNameRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	sha256Re   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Metadata implements resource.Resource.
func (r *siteResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_site"
}

// Schema implements resource.Resource.
func (r *siteResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	terms := func(what string) schema.ListAttribute {
		return schema.ListAttribute{Optional: true, ElementType: types.StringType,
			Description: what + " Pass the data source's attribute through: it is not deployed separately (the bundle holds it), but makes `terraform plan` show changes in the hub's terms."}
	}
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, Description: desc}
	}
	resp.Schema = schema.Schema{
		Description: "A hub deployed on a target: the bundle of a `hubkit_bundle` data source and a hubctl release, " +
			"in `releases/<release-id>/` below the target directory, with `current` switched atomically, the service " +
			"(re)started and `/readyz` awaited. A release that does not become ready is rolled back automatically and the " +
			"apply fails. Refresh detects drift: a deployed manifest that changed or went missing, a release switched by " +
			"hand, or a hub that is not running, so that `terraform plan` shows an update that repairs it. " +
			"Destroy stops and removes the service and the releases, and keeps the hub's data unless `purge_data` is set.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, Description: "The region id.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"region": schema.StringAttribute{Required: true, Description: "Region id of the bundle; names the service (`hubkit-<region>`).",
				Validators:    []validator.String{stringvalidator.RegexMatches(regionIDRe, "must be a region id (lower-case letters, digits, -)")},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}},
			"bundle_hash": schema.StringAttribute{Required: true, Description: "The data source's `bundle_hash`. After a refresh it holds the hash of " +
				"the bundle actually deployed (empty when it is missing or was changed on the target), so a drifted target plans an update.",
				Validators: []validator.String{stringvalidator.RegexMatches(sha256Re, "must be a bundle hash (64 hex digits) from hubkit_bundle")}},
			"files": schema.MapAttribute{Required: true, ElementType: types.StringType,
				Description: "The data source's `files`: the bundle to deploy."},
			"members":            terms("Member municipalities."),
			"resource_persons":   terms("Resource persons."),
			"partners":           terms("Partner organisations."),
			"identity_providers": terms("Municipalities with an identity provider."),
			"listen": schema.StringAttribute{Required: true, Description: "Listen address of the hub, `host:port`, e.g. `:443`, or " +
				"`127.0.0.1:8443` for a development bundle (those listen on loopback only). The health check dials this port " +
				"on 127.0.0.1 (local target) or the SSH host (or through the SSH connection when the hub listens on loopback)."},
			"environment": schema.MapAttribute{Optional: true, ElementType: types.StringType,
				Description: "Environment of the hub, by reference: each key is a variable set for the hub, each value the name of a " +
					"variable of the process running Terraform whose value is passed through at apply time, e.g. " +
					"`{ HUBKIT_DEV_CLIENT_SECRET = \"HUBKIT_DEV_CLIENT_SECRET\" }`. Values are never stored in the state; on the " +
					"target they are systemd credentials where the hub runs under systemd (root-only files in `/etc/hubkit/credentials/<region>/`, " +
					"loaded with `LoadCredential=`; the hub reads them in `$CREDENTIALS_DIRECTORY`, not in its environment), else in `hub.env` " +
					"(mode 0600). A rotated value is rolled out by the next deploy (`terraform apply -replace`).",
				Validators: []validator.Map{
					mapvalidator.KeysAre(stringvalidator.RegexMatches(envNameRe, "must be an environment variable name")),
					mapvalidator.ValueStringsAre(stringvalidator.RegexMatches(envNameRe, "must be the name of an environment variable of the process running Terraform")),
				}},
			"backup_dest": schema.StringAttribute{Optional: true,
				Description: "Where the nightly backup of the hub's data goes, passed to `hubctl backup --to`: an absolute directory on the host " +
					"(created 0700 for the hub's user when missing, never emptied) or a URL. Installs `hubkit-backup-<region>.service` " +
					"(oneshot, the hub's sandbox) and its timer (daily, persistent, randomised by up to an hour); a failed backup is a failed unit. " +
					"Only for SSH targets running systemd. Empty or unset: no backup timer (an existing one is removed)."},
			"purge_data": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				Description: "Whether destroy also removes the hub's data directory (sessions, audit log, files). Default false: data outlives the site. " +
					"Destroy uses the value in the state: set it to true and apply before destroying."},
			"health_timeout": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(deploy.DefaultHealthTimeout.String()),
				Description: "How long a restarted hub may take to answer `/readyz` with 200 before the release is rolled back, as a Go duration. Default `1m0s`.",
				Validators:  []validator.String{durationValidator{}}},
			"hubctl_binary": schema.StringAttribute{Optional: true,
				Description: "Path of the hubctl executable to deploy. Default: the provider's own executable, i.e. the hubctl running Terraform."},
			"hubctl_sha256": computed("sha256 of the hubctl deployed; a new hubctl build plans an update."),
			"release_id": computed("The deployed release: the first 16 hex digits of sha256(bundle hash + sha256 of hubctl). " +
				"Empty after a refresh that found the hub not running or another release current."),
			"deployed_bundle_hash": computed("Hash of the bundle the target serves, read back from its `current/manifest.json`."),
		},
		Blocks: map[string]schema.Block{
			"target": schema.SingleNestedBlock{
				Description:   "Required. Where the hub runs: exactly one of `local` and `ssh`. Moving a site to another machine or directory replaces it.",
				Validators:    []validator.Object{objectvalidator.IsRequired()},
				PlanModifiers: []planmodifier.Object{targetMoved{}},
				Blocks: map[string]schema.Block{
					// Attributes of nested blocks are Optional for the framework
					// (it would demand them even when the block is absent) and
					// required by AlsoRequires when the block is present.
					"local": schema.SingleNestedBlock{
						Description: "A directory on the machine running Terraform. The hub runs under start-stop-daemon (or hubctl's built-in supervisor) as the user running Terraform.",
						Validators:  []validator.Object{objectvalidator.AlsoRequires(path.MatchRelative().AtName("dir"))},
						Attributes: map[string]schema.Attribute{
							"dir": schema.StringAttribute{Optional: true, Description: "Required. Target directory, an absolute path (use `abspath()`).",
								Validators: []validator.String{absPathValidator{}}},
						},
					},
					"ssh": schema.SingleNestedBlock{
						Description: "A host reached over SSH with a key, its host key pinned. The hub runs as a hardened systemd unit " +
							"(`hubkit-<region>.service`, dedicated user; `user` must be root) where systemd runs, else under start-stop-daemon.",
						Validators: []validator.Object{objectvalidator.AlsoRequires(path.MatchRelative().AtName("host"),
							path.MatchRelative().AtName("private_key_file"), path.MatchRelative().AtName("host_key"), path.MatchRelative().AtName("dir"))},
						Attributes: map[string]schema.Attribute{
							"host": schema.StringAttribute{Optional: true, Description: "Required. Host name or address."},
							"port": schema.Int64Attribute{Optional: true, Description: "SSH port. Default 22.",
								Validators: []validator.Int64{int64validator.Between(1, 65535)}},
							"user":             schema.StringAttribute{Optional: true, Description: "Login user. Default root."},
							"private_key_file": schema.StringAttribute{Optional: true, Description: "Required. Path of the unencrypted private key to log in with."},
							"host_key": schema.StringAttribute{Optional: true, Description: "Required. The host's public key, pinned: an authorized_keys line " +
								"(`ssh-ed25519 AAAA…`, the content of `/etc/ssh/ssh_host_ed25519_key.pub`) or a known_hosts line. A host presenting " +
								"another key is refused; keys are never trusted on first use."},
							"dir": schema.StringAttribute{Optional: true, Description: "Required. Target directory on the host, an absolute path.",
								Validators: []validator.String{absPathValidator{}}},
						},
					},
				},
			},
		},
	}
}

// ConfigValidators implements resource.ResourceWithConfigValidators.
func (r *siteResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.ExactlyOneOf(path.MatchRoot("target").AtName("local"), path.MatchRoot("target").AtName("ssh")),
	}
}

// Configure implements resource.ResourceWithConfigure. The resource
// needs nothing from the provider's configuration.
func (r *siteResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if _, err := dataFrom(req.ProviderData); err != nil {
		resp.Diagnostics.AddError("hubkit provider", err.Error())
	}
}

// ModifyPlan implements resource.ResourceWithModifyPlan: it plans the
// computed attributes exactly, so that a new hubctl build, and drift
// found by Read, show as an update.
func (r *siteResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var plan siteModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.Region.IsUnknown() {
		plan.ID = plan.Region
	}
	if plan.HubctlBinary.IsUnknown() {
		plan.HubctlSHA256 = types.StringUnknown()
	} else {
		bin, err := plan.binary()
		if err == nil {
			var sum string
			if sum, err = deploy.FileSHA256(bin); err == nil {
				plan.HubctlSHA256 = types.StringValue(sum)
			}
		}
		if err != nil {
			resp.Diagnostics.AddAttributeError(pathHubctlBinary, "Cannot read the hubctl to deploy", err.Error())
			return
		}
	}
	if plan.BundleHash.IsUnknown() || plan.HubctlSHA256.IsUnknown() {
		plan.ReleaseID, plan.DeployedBundleHash = types.StringUnknown(), types.StringUnknown()
	} else {
		plan.ReleaseID = types.StringValue(deploy.ReleaseID(plan.BundleHash.ValueString(), plan.HubctlSHA256.ValueString()))
		plan.DeployedBundleHash = plan.BundleHash
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// Create implements resource.Resource.
func (r *siteResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan siteModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.deploy(ctx, &plan, resp.Diagnostics.Append) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
}

// Update implements resource.Resource. When only attributes that inform
// the plan changed (hub terms, purge_data, health_timeout) nothing is
// deployed. When the deploy fails the state stays as it was: the
// previous release is what serves after the rollback.
func (r *siteResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state siteModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	switch {
	case deployedSettingsChanged(&plan, &state):
		if !r.deploy(ctx, &plan, resp.Diagnostics.Append) {
			return
		}
	case !reflect.DeepEqual(plan.Target, state.Target):
		// New connection settings (a rotated host key, another user or
		// key) are only saved once they work.
		if !r.checkTarget(ctx, &plan, resp.Diagnostics.Append) {
			return
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// checkTarget connects to the planned target and checks that it serves
// the release in the state.
func (r *siteResource) checkTarget(ctx context.Context, plan *siteModel, report func(...diagnostic)) bool {
	target, err := plan.Target.deployTarget()
	if err != nil {
		report(attributeError(path.Root("target"), "Invalid target", err.Error()))
		return false
	}
	st, err := target.Status(ctx)
	if err != nil {
		report(errorDiag(deployErrorSummary(err), err.Error()))
		return false
	}
	if st.ReleaseID != plan.ReleaseID.ValueString() {
		report(errorDiag("The target serves another release",
			fmt.Sprintf("%s serves release %q, not %s: check the new target settings", target, st.ReleaseID, plan.ReleaseID.ValueString())))
		return false
	}
	return true
}

// deploy deploys the planned site and fills in its computed attributes;
// false when it failed (the diagnostics say why).
func (r *siteResource) deploy(ctx context.Context, plan *siteModel, report func(...diagnostic)) bool {
	rel, diags := plan.release(ctx)
	report(diags...)
	if diags.HasError() {
		return false
	}
	sum, err := deploy.FileSHA256(rel.Binary)
	if err != nil {
		report(attributeError(pathHubctlBinary, "Cannot read the hubctl to deploy", err.Error()))
		return false
	}
	if !plan.HubctlSHA256.IsUnknown() && plan.HubctlSHA256.ValueString() != sum {
		report(attributeError(pathHubctlBinary, "hubctl changed since the plan",
			fmt.Sprintf("%s has sha256 %s now, but %s when the plan was made: run the plan again", rel.Binary, sum, plan.HubctlSHA256.ValueString())))
		return false
	}
	target, err := plan.Target.deployTarget()
	if err != nil {
		report(attributeError(path.Root("target"), "Invalid target", err.Error()))
		return false
	}
	tflogInfo(ctx, "deploying hub", map[string]any{"region": rel.Region, "target": target.String(), "bundle_hash": plan.BundleHash.ValueString()})
	res, err := target.Deploy(ctx, rel)
	if err != nil {
		report(errorDiag(deployErrorSummary(err), err.Error()))
		return false
	}
	plan.ID = plan.Region
	plan.HubctlSHA256 = types.StringValue(sum)
	plan.ReleaseID = types.StringValue(res.ReleaseID)
	plan.DeployedBundleHash = plan.BundleHash
	return true
}

func deployErrorSummary(err error) string {
	var rb *deploy.RollbackError
	var he *deploy.HealthError
	var hk *deploy.HostKeyError
	switch {
	case errors.As(err, &rb) && rb.RollbackErr == nil:
		return "The new release failed its health check and was rolled back"
	case errors.As(err, &rb):
		return "The new release failed its health check, and the rollback failed too"
	case errors.As(err, &he):
		return "The release failed its health check"
	case errors.As(err, &hk):
		return "SSH host key mismatch"
	}
	return "Cannot deploy the site"
}

// Read implements resource.Resource: it compares the target with the
// state and writes what it finds into the state, so that drift plans an
// update, and a target that is gone plans a create.
func (r *siteResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state siteModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	target, err := state.Target.deployTarget()
	if err != nil {
		resp.Diagnostics.AddError("Invalid target in the state", err.Error())
		return
	}
	st, err := target.Status(ctx)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read the site's status", err.Error())
		return
	}
	if !st.Exists {
		resp.Diagnostics.AddWarning("Site removed outside Terraform",
			fmt.Sprintf("%s does not exist any more; the next apply deploys the site again.", target))
		resp.State.RemoveResource(ctx)
		return
	}
	deployed := ""
	if st.Manifest != nil && st.Problem == "" {
		deployed = st.Manifest.BundleHash
	}
	switch {
	case st.Problem != "":
		resp.Diagnostics.AddWarning("The deployed release was changed outside Terraform",
			fmt.Sprintf("%s: %s. The next apply deploys the release again.", target, st.Problem))
	case state.BundleHash.ValueString() != "" && deployed != state.BundleHash.ValueString():
		resp.Diagnostics.AddWarning("Another bundle is deployed",
			fmt.Sprintf("%s serves bundle %s, not %s as Terraform deployed. The next apply deploys the configured bundle.", target, deployed, state.BundleHash.ValueString()))
	}
	releaseID := st.ReleaseID
	if st.Problem != "" {
		releaseID = ""
	} else if !st.Running {
		resp.Diagnostics.AddWarning("The hub is not running",
			fmt.Sprintf("%s: release %s is deployed but its service is not running. The next apply starts it again.", target, st.ReleaseID))
		releaseID = ""
	}
	state.BundleHash = types.StringValue(deployed)
	state.DeployedBundleHash = types.StringValue(deployed)
	state.ReleaseID = types.StringValue(releaseID)
	if st.HubctlSHA256 != "" {
		state.HubctlSHA256 = types.StringValue(st.HubctlSHA256)
	}
	fillImported(ctx, &state, st, resp.Diagnostics.Append)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// fillImported fills in what an import leaves unknown from the target:
// the deployed files, the listen address and the environment's names
// (passed through under the same name).
func fillImported(ctx context.Context, state *siteModel, st *deploy.Status, report func(...diagnostic)) {
	if state.Files.IsNull() && st.Files != nil {
		files := map[string]string{}
		for k, v := range st.Files {
			files[k] = string(v)
		}
		m, d := types.MapValueFrom(ctx, types.StringType, files)
		report(d...)
		state.Files = m
	}
	if state.Listen.IsNull() && st.Listen != "" {
		state.Listen = types.StringValue(st.Listen)
	}
	if state.Environment.IsNull() && len(st.EnvNames) > 0 {
		env := map[string]string{}
		for _, n := range st.EnvNames {
			env[n] = n
		}
		m, d := types.MapValueFrom(ctx, types.StringType, env)
		report(d...)
		state.Environment = m
	}
	if state.PurgeData.IsNull() {
		state.PurgeData = types.BoolValue(false)
	}
	if state.HealthTimeout.IsNull() {
		state.HealthTimeout = types.StringValue(deploy.DefaultHealthTimeout.String())
	}
}

// Delete implements resource.Resource.
func (r *siteResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state siteModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	target, err := state.Target.deployTarget()
	if err != nil {
		resp.Diagnostics.AddError("Invalid target in the state", err.Error())
		return
	}
	if err := target.Remove(ctx, state.PurgeData.ValueBool()); err != nil {
		resp.Diagnostics.AddError("Cannot remove the site", err.Error())
	}
}

// ImportState implements resource.ResourceWithImportState for local
// targets: `terraform import hubkit_site.NAME <region>:<absolute dir>`.
// Read then fills in what is deployed there.
func (r *siteResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	region, dir, ok := strings.Cut(req.ID, ":")
	if !ok || !regionIDRe.MatchString(region) || !filepath.IsAbs(dir) {
		resp.Diagnostics.AddError("Invalid import id",
			fmt.Sprintf("got %q; want <region>:<absolute directory> of a local target, e.g. nordjylland:/srv/hubkit/nordjylland (SSH targets cannot be imported: their keys are not in the id)", req.ID))
		return
	}
	state := siteModel{
		ID: types.StringValue(region), Region: types.StringValue(region),
		BundleHash: types.StringNull(), Files: types.MapNull(types.StringType),
		Members: types.ListNull(types.StringType), ResourcePersons: types.ListNull(types.StringType),
		Partners: types.ListNull(types.StringType), IdentityProviders: types.ListNull(types.StringType),
		Listen: types.StringNull(), Environment: types.MapNull(types.StringType), BackupDest: types.StringNull(),
		PurgeData: types.BoolNull(), HealthTimeout: types.StringNull(),
		HubctlBinary: types.StringNull(), HubctlSHA256: types.StringNull(),
		ReleaseID: types.StringNull(), DeployedBundleHash: types.StringNull(),
		Target: &targetModel{Local: &localModel{Dir: types.StringValue(dir)}},
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}
