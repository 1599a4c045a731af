package tf

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

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
	Stdout     io.Writer // notes while waiting, and Terraform's output when Verbose, prefixed per region
	Version    string    // hubctl version, for the provider's version
	// Verbose streams all of Terraform's own output to Stdout. Without it
	// only apply's is (a few lines per region); init's and plan's are
	// dropped, their errors reported: the plan is shown as PlanText,
	// progress through Progress.
	Verbose bool
	// Progress, when set, is told each step of each region: preparing,
	// planning, planned, applying, destroying, health check, done, failed.
	Progress func(region, phase, detail string)

	mirrorCLIConfig string
	outMu           sync.Mutex
	initMu          sync.Mutex // the pg backend cannot create schemas in parallel
	dirMu           sync.Mutex
	dirLocks        map[string]*os.File // by region: held working directory locks
}

// dirLockFile is the lock file in a region's working directory.
const dirLockFile = ".hubctl.lock"

// lockDir takes a region's working directory for the rest of this run
// (until Close or the process exits). hubctl writes main.tf.json and the
// saved plan there, and `apply` applies the plan its own `plan` step
// saved: Terraform's state lock covers neither, so without this a second
// hubctl in the same state directory overwrites the first one's plan
// ("Invalid plan file", "no saved plan"). Like Terraform's state lock it
// waits up to terraform.lock_timeout.
func (r *Runner) lockDir(ctx context.Context, region, dir string) error {
	r.dirMu.Lock()
	_, held := r.dirLocks[region]
	r.dirMu.Unlock()
	if held {
		return nil
	}
	name := filepath.Join(dir, dirLockFile)
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	timeout := r.Config.Terraform.LockTimeout
	deadline := time.Now().Add(timeout)
	waiting := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return fmt.Errorf("lock %s: %w", name, err)
		}
		if !time.Now().Before(deadline) {
			holder, _ := os.ReadFile(name)
			f.Close()
			who := "another hubctl"
			if pid := strings.TrimSpace(string(holder)); pid != "" {
				who += " (pid " + pid + ")"
			}
			return fmt.Errorf("%s is working on region %s in %s and still holds its lock %s after %s (terraform.lock_timeout): wait for it to finish and run again",
				who, region, dir, name, timeout)
		}
		if !waiting {
			waiting = true
			out := newPrefixWriter(&r.outMu, r.Stdout, region)
			fmt.Fprintf(out, "Waiting up to %s for another hubctl working in %s (lock %s) ...\n", timeout, dir, dirLockFile)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Who holds it, for the error message of the next one waiting.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%d\n", os.Getpid())
	}
	r.dirMu.Lock()
	if r.dirLocks == nil {
		r.dirLocks = map[string]*os.File{}
	}
	r.dirLocks[region] = f
	r.dirMu.Unlock()
	return nil
}

// Close releases the working directories this run has locked.
func (r *Runner) Close() error {
	r.dirMu.Lock()
	defer r.dirMu.Unlock()
	for region, f := range r.dirLocks {
		f.Close()
		delete(r.dirLocks, region)
	}
	return nil
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

// progress reports a step of a region to Progress.
func (r *Runner) progress(region, phase, detail string) {
	if r.Progress != nil {
		r.Progress(region, phase, detail)
	}
}

// workspace is one region's working directory.
type workspace struct {
	region string
	dir    string
	tf     *tfexec.Terraform
	out    io.Writer     // where Terraform's output goes
	pw     *prefixWriter // out when Verbose
}

// quiet sends Terraform's output of the next commands nowhere (show -json
// and state pull print what they return) until the returned func runs.
func (w *workspace) quiet() func() {
	w.tf.SetStdout(io.Discard)
	return func() { w.tf.SetStdout(w.out) }
}

// stream shows Terraform's output of this workspace from now on, prefixed
// by region (apply's few lines of progress: Creating..., complete).
func (w *workspace) stream(r *Runner) {
	if w.pw == nil && r.Stdout != nil {
		w.pw = newPrefixWriter(&r.outMu, r.Stdout, w.region)
		w.out = w.pw
		w.tf.SetStdout(w.out)
		w.tf.SetStderr(w.out)
	}
}

func (w *workspace) flush() {
	if w.pw != nil {
		w.pw.Flush()
	}
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
	if err := r.lockDir(ctx, region, dir); err != nil {
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
	w := &workspace{region: region, dir: dir, tf: t, out: io.Discard}
	if r.Verbose && r.Stdout != nil {
		w.pw = newPrefixWriter(&r.outMu, r.Stdout, region)
		w.out = w.pw
	}
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
// schema) is created one region at a time, and so is its first, empty
// state (see ensureState).
func (r *Runner) init(ctx context.Context, w *workspace) error {
	if r.Config.Terraform.Backend == "pg" {
		r.initMu.Lock()
		defer r.initMu.Unlock()
	}
	err := w.tf.Init(ctx, tfexec.Upgrade(false))
	if err != nil {
		return fmt.Errorf("terraform init: %w", err)
	}
	if r.Config.Terraform.Backend == "pg" {
		if err := r.ensureState(ctx, w); err != nil {
			return fmt.Errorf("create the region's empty state in PostgreSQL: %w", err)
		}
	}
	return nil
}

// ensureState stores an empty state for a region that has none yet.
//
// Terraform's pg backend locks a state that does not exist yet with one
// advisory lock for the whole database (key -1, "workspace creation"),
// and holds it for the whole plan or apply that first writes the state;
// every other lock attempt in the database, for any region, also takes
// that key for a moment. So the first apply of several new regions in
// parallel would wait for each other and fail after lock_timeout with
// "Already locked for workspace creation". Once a state exists, its own
// lock (key: the state's id) is used and regions run in parallel.
func (r *Runner) ensureState(ctx context.Context, w *workspace) error {
	exists := func() (bool, error) {
		// state pull copies the state to the command's output as well.
		defer w.quiet()()
		raw, err := w.tf.StatePull(ctx)
		if err != nil {
			return false, err
		}
		var st struct {
			Lineage string `json:"lineage"`
		}
		if strings.TrimSpace(raw) == "" {
			return false, nil
		}
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			return false, fmt.Errorf("terraform state pull: %w", err)
		}
		// Without a stored state Terraform prints an empty one without lineage.
		return st.Lineage != "", nil
	}
	ok, err := exists()
	if err != nil || ok {
		return err
	}
	lineage := make([]byte, 16)
	if _, err := rand.Read(lineage); err != nil {
		return err
	}
	empty, err := json.Marshal(map[string]any{
		"version": 4, "terraform_version": r.Binary.Version.String(), "serial": 0,
		"lineage": fmt.Sprintf("%x-%x-%x-%x-%x", lineage[0:4], lineage[4:6], lineage[6:8], lineage[8:10], lineage[10:]),
		"outputs": map[string]any{}, "resources": []any{},
	})
	if err != nil {
		return err
	}
	file := filepath.Join(w.dir, ".hubctl-empty.tfstate")
	if err := os.WriteFile(file, empty, 0o600); err != nil {
		return err
	}
	defer os.Remove(file)
	pushErr := w.tf.StatePush(ctx, file, tfexec.Lock(true), tfexec.LockTimeout(lockTimeout(r.Config)))
	if pushErr == nil {
		return nil
	}
	// Another hubctl may have stored the state first: then all is well.
	if ok, err := exists(); err == nil && ok {
		return nil
	}
	return pushErr
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
		peers := map[string]int{}
		for _, o := range kommune.Regions() {
			if o.ID != region {
				peers[o.ID] = LocalPort(r.Config, o.ID)
			}
		}
		hub["peer_ports"] = peers
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
		env, err := secretEnv(r.Config, region)
		if err != nil {
			return nil, err
		}
		if st.Dev {
			env[devidp.SecretEnv] = devidp.SecretEnv
		}
		if len(env) > 0 {
			site["environment"] = env
		}
		if st.BackupDest != "" {
			site["backup_dest"] = st.BackupDest
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
			r.progress(region, "preparing", "")
			w, err := r.workspace(ctx, region)
			if err == nil {
				defer w.flush()
				res[i].Code, err = f(ctx, w)
			}
			if err != nil {
				res[i].Code, res[i].Err = ExitError, err
				if errors.Is(ctx.Err(), context.Canceled) {
					res[i].Err = fmt.Errorf("cancelled: %w", err)
				}
				r.progress(region, "failed", errorLine(res[i].Err.Error()))
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
	// PlanText is Terraform's human-readable plan with the bundle's
	// files summarised (ElideFiles).
	PlanText string `json:"-"`
	// Ready says whether the hub answered /readyz after apply.
	Ready bool `json:"ready,omitempty"`
}

// errorLine is the line of a Terraform error that says what is wrong
// (its first "Error: …"), else its first line: terraform-exec's errors
// begin with "exit status 1".
func errorLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "Error: ") {
			return l
		}
	}
	return firstLine(s)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Codes returns the exit codes of results.
func Codes(rs []Result) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Code
	}
	return out
}

// MissingEnvironment lists the variables of this process that apply would
// pass through to the regions' hubs (the site's environment map, e.g. the
// development identity provider's client secret) but that are unset or
// empty, each with the regions that need it. plan checks this first, so a
// missing secret is found before anything runs, not at apply. Values are
// never read into the result.
func (r *Runner) MissingEnvironment(regions []string) (map[string][]string, error) {
	missing := map[string][]string{}
	for _, region := range regions {
		root, err := r.rootModule(region, filepath.Join(r.Config.StateDir, region))
		if err != nil {
			return nil, err
		}
		site, _ := root["module"].(map[string]any)["site"].(map[string]any)
		env, _ := site["environment"].(map[string]string)
		for _, from := range env {
			if os.Getenv(from) == "" {
				missing[from] = append(missing[from], region)
			}
		}
	}
	return missing, nil
}
