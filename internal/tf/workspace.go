package tf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/devidp"
	"github.com/hubkit/hubkit/internal/kommune"
	"github.com/hubkit/hubkit/internal/provider"
)

// Targets hubctl deploys to.
const (
	TargetLocal = "local"
	TargetSSH   = "ssh"
)

// Runner runs Terraform for regions. It owns the working directories
// below the state directory: <state_dir>/<region> with a generated root
// module (main.tf.json) that calls modules/hub and a target module.
type Runner struct {
	Binary     *Binary
	Config     *config.Config
	ConfigFile string // absolute; "" when the built-in defaults are used
	Target     string
	Stdout     io.Writer // live Terraform output, prefixed per region
	Version    string    // hubctl version, for the provider's version

	mirrorCLIConfig string
	outMu           sync.Mutex
	initMu          sync.Mutex // the pg backend cannot create schemas in parallel
}

// Prepare writes the provider mirror (a copy of this hubctl) once per run.
func (r *Runner) Prepare() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	state, err := filepath.Abs(r.Config.StateDir)
	if err != nil {
		return err
	}
	r.mirrorCLIConfig, err = provider.WriteMirror(filepath.Join(state, ".provider"), exe, provider.Version(r.Version))
	return err
}

// workspace is one region's working directory.
type workspace struct {
	region string
	dir    string
	tf     *tfexec.Terraform
	out    *prefixWriter
}

func (r *Runner) workspace(ctx context.Context, region string) (*workspace, error) {
	state, err := filepath.Abs(r.Config.StateDir)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(state, region)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	root, err := r.rootModule(region, dir)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf.json"), append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	t, err := tfexec.NewTerraform(dir, r.Binary.Path)
	if err != nil {
		return nil, err
	}
	env := map[string]string{"TF_CLI_CONFIG_FILE": r.mirrorCLIConfig, "CHECKPOINT_DISABLE": "1"}
	if r.Config.Terraform.Backend == "pg" {
		conn := os.Getenv(r.Config.Terraform.PGConnEnv)
		if conn == "" {
			return nil, fmt.Errorf("terraform.backend is pg but %s is empty: set it to the PostgreSQL connection string", r.Config.Terraform.PGConnEnv)
		}
		env["PG_CONN_STR"] = conn
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if _, set := env[k]; !set && len(tfexec.ProhibitedEnv(map[string]string{k: v})) == 0 {
			env[k] = v
		}
	}
	if err := t.SetEnv(env); err != nil {
		return nil, err
	}
	// tfexec checks the version before the first command and would print
	// it; ask now, before output is wired, and it is cached.
	if _, _, err := t.Version(ctx, false); err != nil {
		return nil, err
	}
	w := &workspace{region: region, dir: dir, tf: t, out: newPrefixWriter(&r.outMu, r.Stdout, region)}
	t.SetStdout(w.out)
	t.SetStderr(w.out)
	if _, err := provider.SyncLockFile(dir, filepath.Dir(r.mirrorCLIConfig), provider.Version(r.Version)); err != nil {
		return nil, err
	}
	if err := r.init(ctx, w); err != nil {
		return nil, err
	}
	return w, nil
}

// init runs terraform init. With the pg backend a new region's state (its
// schema) is created one region at a time.
func (r *Runner) init(ctx context.Context, w *workspace) error {
	if r.Config.Terraform.Backend == "pg" {
		r.initMu.Lock()
		defer r.initMu.Unlock()
	}
	err := w.tf.Init(ctx, tfexec.Upgrade(false))
	if err != nil {
		return fmt.Errorf("terraform init: %w", err)
	}
	return nil
}

func lockTimeout(c *config.Config) string { return c.Terraform.LockTimeout.String() }

// regionIndex is a region's position in the fixed order of regions, which
// gives each local hub its port.
func regionIndex(id string) int {
	for i, r := range kommune.Regions() {
		if r.ID == id {
			return i
		}
	}
	return -1
}

// LocalPort is the port of a region's hub on the local target.
func LocalPort(c *config.Config, region string) int {
	return c.Targets.Local.BasePort + regionIndex(region)
}

// rootModule is the generated root module of a region.
func (r *Runner) rootModule(region, dir string) (map[string]any, error) {
	modules, err := filepath.Abs(r.Config.ModulesDir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(modules, "hub", "main.tf")); err != nil {
		return nil, fmt.Errorf("modules_dir %s has no hub module (run hubctl from the hubkit repository, or set modules_dir in config/hubkit.yaml)", modules)
	}
	regions, err := filepath.Abs(r.Config.RegionsDir)
	if err != nil {
		return nil, err
	}
	hub := map[string]any{"source": filepath.Join(modules, "hub"), "region": region, "regions_dir": regions}
	if r.ConfigFile != "" {
		hub["config_file"] = r.ConfigFile
	}
	site := map[string]any{"hub": "${module.hub}"}
	switch r.Target {
	case TargetLocal:
		lt := r.Config.Targets.Local
		base, err := filepath.Abs(lt.Dir)
		if err != nil {
			return nil, err
		}
		port := LocalPort(r.Config, region)
		hub["dev"], hub["port"] = lt.Dev, port
		site["source"] = filepath.Join(modules, "target-local")
		site["dir"] = filepath.Join(base, region)
		site["listen"] = fmt.Sprintf("127.0.0.1:%d", port)
		if lt.Dev {
			site["environment"] = map[string]string{devidp.SecretEnv: devidp.SecretEnv}
		}
	case TargetSSH:
		st, ok := r.Config.Targets.SSH[region]
		if !ok {
			return nil, fmt.Errorf("--target ssh: config has no targets.ssh.%s (host, port, user, private_key_file, host_key, dir, listen)", region)
		}
		hub["dev"] = st.Dev
		site["source"] = filepath.Join(modules, "target-ssh")
		for k, v := range map[string]any{"host": st.Host, "port": st.Port, "user": st.User, "private_key_file": st.PrivateKeyFile,
			"host_key": st.HostKey, "dir": st.Dir, "listen": st.Listen} {
			site[k] = v
		}
		if st.Dev {
			site["environment"] = map[string]string{devidp.SecretEnv: devidp.SecretEnv}
		}
	default:
		return nil, fmt.Errorf("unknown target %q: use local or ssh", r.Target)
	}
	backend := map[string]any{"local": map[string]any{"path": filepath.Join(dir, "terraform.tfstate")}}
	if r.Config.Terraform.Backend == "pg" {
		backend = map[string]any{"pg": map[string]any{"schema_name": "hubkit_" + region}}
	}
	return map[string]any{
		"terraform": map[string]any{"backend": backend},
		"module":    map[string]any{"hub": hub, "site": site},
		"output": map[string]any{
			"domain":     map[string]any{"value": "${module.hub.domain}"},
			"release_id": map[string]any{"value": "${module.site.release_id}"},
		},
	}, nil
}

// forEach runs f for every region, at most Parallelism at once, and
// returns each region's result in order.
func (r *Runner) forEach(ctx context.Context, regions []string, f func(context.Context, *workspace) (int, error)) []Result {
	res := make([]Result, len(regions))
	sem := make(chan struct{}, r.Config.Terraform.Parallelism)
	var wg sync.WaitGroup
	for i, region := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res[i].Region = region
			w, err := r.workspace(ctx, region)
			if err != nil {
				res[i].Code, res[i].Err = ExitError, err
				return
			}
			defer w.out.Flush()
			res[i].Code, res[i].Err = f(ctx, w)
			if res[i].Err != nil {
				res[i].Code = ExitError
				if errors.Is(ctx.Err(), context.Canceled) {
					res[i].Err = fmt.Errorf("cancelled: %w", res[i].Err)
				}
			}
		}()
	}
	wg.Wait()
	return res
}

// Result is one region's outcome.
type Result struct {
	Region  string  `json:"region"`
	Code    int     `json:"exit_code"`
	Err     error   `json:"-"`
	Error   string  `json:"error,omitempty"`
	Summary Summary `json:"summary"`
}

// Codes returns the exit codes of results.
func Codes(rs []Result) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Code
	}
	return out
}
