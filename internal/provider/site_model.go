package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/deploy"
)

// siteModel is the state and plan of a hubkit_site.
type siteModel struct {
	ID                 types.String `tfsdk:"id"`
	Region             types.String `tfsdk:"region"`
	BundleHash         types.String `tfsdk:"bundle_hash"`
	Files              types.Map    `tfsdk:"files"`
	Members            types.List   `tfsdk:"members"`
	ResourcePersons    types.List   `tfsdk:"resource_persons"`
	Partners           types.List   `tfsdk:"partners"`
	IdentityProviders  types.List   `tfsdk:"identity_providers"`
	Listen             types.String `tfsdk:"listen"`
	Environment        types.Map    `tfsdk:"environment"`
	BackupDest         types.String `tfsdk:"backup_dest"`
	PurgeData          types.Bool   `tfsdk:"purge_data"`
	HealthTimeout      types.String `tfsdk:"health_timeout"`
	HubctlBinary       types.String `tfsdk:"hubctl_binary"`
	HubctlSHA256       types.String `tfsdk:"hubctl_sha256"`
	ReleaseID          types.String `tfsdk:"release_id"`
	DeployedBundleHash types.String `tfsdk:"deployed_bundle_hash"`
	Target             *targetModel `tfsdk:"target"`
}

// targetModel is the target block: exactly one of local and ssh.
type targetModel struct {
	Local *localModel `tfsdk:"local"`
	SSH   *sshModel   `tfsdk:"ssh"`
}

type localModel struct {
	Dir types.String `tfsdk:"dir"`
}

type sshModel struct {
	Host           types.String `tfsdk:"host"`
	Port           types.Int64  `tfsdk:"port"`
	User           types.String `tfsdk:"user"`
	PrivateKeyFile types.String `tfsdk:"private_key_file"`
	HostKey        types.String `tfsdk:"host_key"`
	Dir            types.String `tfsdk:"dir"`
}

// deployTarget builds the deploy target of the block.
func (t *targetModel) deployTarget() (deploy.Target, error) {
	switch {
	case t == nil:
		return nil, fmt.Errorf("the target block is missing: give target { local { dir = ... } } or target { ssh { ... } }")
	case t.Local != nil:
		return &deploy.Local{Dir: t.Local.Dir.ValueString()}, nil
	case t.SSH != nil:
		return &deploy.SSH{
			Host: t.SSH.Host.ValueString(), Port: int(t.SSH.Port.ValueInt64()), User: t.SSH.User.ValueString(),
			PrivateKeyFile: t.SSH.PrivateKeyFile.ValueString(), HostKey: t.SSH.HostKey.ValueString(), Dir: t.SSH.Dir.ValueString(),
		}, nil
	}
	return nil, fmt.Errorf("the target block needs one of local { } or ssh { }")
}

// binary is the hubctl executable to deploy: hubctl_binary, or the
// running provider itself (Terraform runs hubctl as the provider).
func (m *siteModel) binary() (string, error) {
	if p := m.HubctlBinary.ValueString(); p != "" {
		return p, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find the provider's own executable to deploy (set hubctl_binary): %w", err)
	}
	return exe, nil
}

func (m *siteModel) healthTimeout() (time.Duration, error) {
	if m.HealthTimeout.IsNull() || m.HealthTimeout.ValueString() == "" {
		return deploy.DefaultHealthTimeout, nil
	}
	return time.ParseDuration(m.HealthTimeout.ValueString())
}

// release builds what deploy installs. The environment's values are read
// now, from the environment of the process running Terraform.
func (m *siteModel) release(ctx context.Context) (deploy.Release, diag.Diagnostics) {
	var diags diag.Diagnostics
	rel := deploy.Release{Region: m.Region.ValueString(), Listen: m.Listen.ValueString(), Files: map[string][]byte{}}
	files := map[string]string{}
	diags.Append(m.Files.ElementsAs(ctx, &files, false)...)
	for name, content := range files {
		rel.Files[name] = []byte(content)
	}
	var man bundle.Manifest
	if err := json.Unmarshal(rel.Files[bundle.ManifestFile], &man); err != nil {
		diags.AddAttributeError(pathFiles, "files has no valid manifest.json",
			"files must be the files attribute of a hubkit_bundle data source: "+err.Error())
		return rel, diags
	}
	if man.BundleHash != m.BundleHash.ValueString() {
		diags.AddAttributeError(pathBundleHash, "bundle_hash does not match files",
			fmt.Sprintf("bundle_hash is %q, but files holds bundle %q: take both from the same hubkit_bundle data source", m.BundleHash.ValueString(), man.BundleHash))
	}
	rel.Domain = man.Domain
	var err error
	if rel.Binary, err = m.binary(); err != nil {
		diags.AddAttributeError(pathHubctlBinary, "No hubctl to deploy", err.Error())
	}
	if rel.HealthTimeout, err = m.healthTimeout(); err != nil {
		diags.AddAttributeError(pathHealthTimeout, "Invalid health_timeout", err.Error())
	}
	env, d := m.environment(ctx)
	diags.Append(d...)
	rel.Env = env
	rel.BackupDest = m.BackupDest.ValueString()
	return rel, diags
}

// environment resolves the environment map: hub variable name → the
// name of a variable of this process whose value is passed through.
func (m *siteModel) environment(ctx context.Context) (map[string]string, diag.Diagnostics) {
	var diags diag.Diagnostics
	names := map[string]string{}
	if m.Environment.IsNull() || m.Environment.IsUnknown() {
		return nil, diags
	}
	diags.Append(m.Environment.ElementsAs(ctx, &names, false)...)
	env := map[string]string{}
	var missing []string
	for hubVar, from := range names {
		v, ok := os.LookupEnv(from)
		if !ok || v == "" {
			missing = append(missing, from)
			continue
		}
		env[hubVar] = v
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		diags.AddAttributeError(pathEnvironment, "Environment variables not set",
			fmt.Sprintf("environment passes through %s, which %s not set (or empty) in the environment of the process running Terraform: export %s before terraform apply (or hubctl apply). Their values are never stored in the Terraform state.",
				strings.Join(missing, ", "), map[bool]string{true: "is", false: "are"}[len(missing) == 1], strings.Join(missing, ", ")))
	}
	return env, diags
}

// deployedSettingsChanged reports whether the plan changes something that
// needs a deploy, as opposed to the attributes that only inform the plan
// (hub terms, purge_data, health_timeout).
func deployedSettingsChanged(plan, state *siteModel) bool {
	return !plan.BundleHash.Equal(state.BundleHash) || !plan.Files.Equal(state.Files) ||
		!plan.Listen.Equal(state.Listen) || !plan.Environment.Equal(state.Environment) ||
		plan.BackupDest.ValueString() != state.BackupDest.ValueString() ||
		!plan.HubctlSHA256.Equal(state.HubctlSHA256) || !plan.ReleaseID.Equal(state.ReleaseID) ||
		!plan.DeployedBundleHash.Equal(state.DeployedBundleHash)
}
