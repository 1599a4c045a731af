package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hubkit/hubkit/internal/devidp"
	"github.com/hubkit/hubkit/internal/region"
	"github.com/hubkit/hubkit/internal/tf"
	"github.com/hubkit/hubkit/internal/version"
)

// provisionFlags are the flags plan, apply, destroy and status share.
type provisionFlags struct {
	regions     []string
	all         bool
	target      string
	autoApprove bool
	output      string
	verbose     bool
}

func (f *provisionFlags) register(cmd *cobra.Command, approve bool) {
	cmd.Flags().StringSliceVar(&f.regions, "region", nil, "region id (repeatable)")
	cmd.Flags().BoolVar(&f.all, "all", false, "all regions")
	cmd.Flags().StringVar(&f.target, "target", tf.TargetLocal, "where hubs run: local or ssh (see targets in config/hubkit.yaml)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "also show Terraform's own output, prefixed by region")
	if approve {
		cmd.Flags().BoolVar(&f.autoApprove, "auto-approve", false, "apply without asking")
	}
	_ = cmd.RegisterFlagCompletionFunc("region", completeRegions)
	_ = cmd.RegisterFlagCompletionFunc("target", cobra.FixedCompletions([]string{tf.TargetLocal, tf.TargetSSH}, cobra.ShellCompDirectiveNoFileComp))
}

// selection validates the regions (same errors as hubctl validate) and
// returns the ids to work on.
func (a *app) selection(f *provisionFlags) ([]string, *region.Set, error) {
	if f.output != "text" && f.output != "json" {
		return nil, nil, fmt.Errorf("-o %q: use text or json", f.output)
	}
	if f.all == (len(f.regions) > 0) {
		return nil, nil, fmt.Errorf("name the regions with --region ID (repeatable) or use --all")
	}
	set, err := a.validRegions(a.cfg.RegionsDir)
	if err != nil {
		return nil, nil, err
	}
	if f.all {
		var ids []string
		for _, r := range set.Regions {
			ids = append(ids, r.ID)
		}
		return ids, set, nil
	}
	for _, id := range f.regions {
		if set.Region(id) == nil {
			return nil, nil, unknownRegion(id, a.cfg.RegionsDir)
		}
	}
	return f.regions, set, nil
}

// unknownRegion is the one error for a --region that names no region:
// the nearest id, and the valid ones.
func unknownRegion(id, dir string) error {
	ids := region.IDs()
	msg := fmt.Sprintf("--region %s: no region with that id in %s", id, dir)
	if m := region.Closest(id, ids); m != "" {
		msg += fmt.Sprintf("; did you mean %s?", m)
	}
	return fmt.Errorf("%s (region ids: %s)", msg, strings.Join(ids, ", "))
}

// runner finds Terraform and writes the provider mirror.
func (a *app) runner(ctx context.Context, target string) (*tf.Runner, error) {
	if target != tf.TargetLocal && target != tf.TargetSSH {
		return nil, fmt.Errorf("--target %q: use local or ssh", target)
	}
	bin, err := tf.Find(ctx, a.cfg.Terraform.Binary, a.cfg.Terraform.MinVersion)
	if err != nil {
		return nil, err
	}
	cfgFile := ""
	if a.cfg.File != "" {
		if _, err := os.Stat(a.cfg.File); err == nil {
			cfgFile, _ = filepath.Abs(a.cfg.File)
		}
	}
	r := &tf.Runner{Binary: bin, Config: a.cfg, ConfigFile: cfgFile, Target: target, Stdout: a.stderr, Version: version.Version,
		Progress: a.progressPrinter()}
	if err := r.Prepare(); err != nil {
		return nil, err
	}
	return r, nil
}

func signalContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}

// startRun does what every Terraform command does first: validate and
// select the regions, make Ctrl-C cancel the run, find Terraform and write
// the provider mirror. done releases the run's locks and signal handling.
func (a *app) startRun(cmd *cobra.Command, f *provisionFlags) (context.Context, *tf.Runner, []string, func(), error) {
	ids, _, err := a.selection(f)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ctx, stop := signalContext(cmd)
	r, err := a.runner(ctx, f.target)
	if err != nil {
		stop()
		return nil, nil, nil, nil, err
	}
	r.Verbose = f.verbose
	return ctx, r, ids, func() { r.Close(); stop() }, nil
}

// checkSecrets fails, before Terraform runs, when a variable that apply
// would pass through to a hub (a client secret by name) is unset. Only
// names are printed, never values.
func checkSecrets(r *tf.Runner, ids []string) error {
	missing, err := r.MissingEnvironment(ids)
	if err != nil || len(missing) == 0 {
		return err
	}
	names := make([]string, 0, len(missing))
	for n := range missing {
		names = append(names, n)
	}
	sort.Strings(names)
	var lines []string
	for _, n := range names {
		hint := "export " + n + "=… (the value the hubs need; it is passed through at apply and never stored)"
		if n == devidp.SecretEnv {
			hint = "export " + n + "=$(head -c 32 /dev/urandom | base64)  (the development identity provider's client secret; hubctl up makes one)"
		}
		lines = append(lines, fmt.Sprintf("%s is not set; %s need%s it: %s", n, strings.Join(missing[n], ", "), plural1(len(missing[n])), hint))
	}
	return errors.New(strings.Join(lines, "\n"))
}

func plural1(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
}

// progressPrinter writes one line per step of each region to stderr:
// plain lines that read the same in a CI log, coloured on a terminal.
func (a *app) progressPrinter() func(region, phase, detail string) {
	var mu sync.Mutex
	on := a.colour(a.stderr)
	return func(region, phase, detail string) {
		code := cyan
		switch phase {
		case "done", "planned":
			code = green
		case "failed":
			code = red
		}
		line := fmt.Sprintf("%-12s %s", region, paint(on, code, phase))
		if detail != "" {
			line += "  " + detail
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(a.stderr, line)
	}
}

func (a *app) planCmd() *cobra.Command {
	var f provisionFlags
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change, per region and in hub terms",
		Long: `plan validates the regions, renders them and runs terraform plan for each
(in parallel, output prefixed by region), saves each plan and prints a
summary: resources to add, change and destroy, and the members, people,
partners and identity providers that change.

It shows each region's plan as Terraform's human-readable plan, with the
bundle's files named rather than printed, then the summary table. Progress
goes to stderr, one line per step. -o json prints the results for machines
instead; -v also shows Terraform's own output.

Before Terraform runs, plan checks that every variable apply would pass
through to a hub (such as HUBKIT_DEV_CLIENT_SECRET) is set.

Exit status as terraform plan -detailed-exitcode, combined over regions:
0 no changes, 2 changes, 1 error (1 wins over 2, 2 over 0).`,
		Example: "  hubctl plan --all\n  hubctl plan --region nordjylland -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, r, ids, done, err := a.startRun(cmd, &f)
			if err != nil {
				return err
			}
			defer done()
			if err := checkSecrets(r, ids); err != nil {
				return err
			}
			res := r.Plan(ctx, ids, false)
			a.report(f.output, "plan", res)
			return exitCode(tf.Combine(tf.Codes(res)...))
		},
	}
	f.register(cmd, false)
	return cmd
}

func (a *app) applyCmd(destroy bool) *cobra.Command {
	var f provisionFlags
	use, short := "apply", "Plan, confirm and apply exactly that plan, per region"
	long := `Plans every chosen region (as hubctl plan), shows the plans and the summary,
asks for confirmation (--auto-approve skips it) and applies exactly the saved
plans, then asks each hub's /readyz. Progress goes to stderr, one line per
step (planning, applying, health check, done).

Exit status: 0 when every region is applied (or had nothing to change),
1 on any error, as terraform apply. Ctrl-C cancels Terraform cleanly; the
state lock is released.`
	if destroy {
		use, short = "destroy", "Plan the removal of hubs, confirm and remove them (data is kept)"
		long = `Plans the removal of every chosen region's hub, shows the plans, asks for
confirmation (--auto-approve skips it) and applies exactly those plans: the
hubs' services and releases are stopped and removed, their data directories
are kept.

Exit status: 0 when every hub is removed (or was not there), 1 on any
error. Ctrl-C cancels Terraform cleanly; the state lock is released.`
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Long:    long,
		Example: "  hubctl " + use + " --all\n  hubctl " + use + " --region nordjylland --auto-approve",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, r, ids, done, err := a.startRun(cmd, &f)
			if err != nil {
				return err
			}
			defer done()
			if !destroy {
				if err := checkSecrets(r, ids); err != nil {
					return err
				}
			}
			if code, _ := a.planAndApply(ctx, r, ids, destroy, f.autoApprove, f.output); code == tf.ExitError {
				return exitError{1}
			}
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}

// planAndApply plans, confirms and applies; it returns the combined code
// (0 nothing to do, 2 changes applied, 1 error).
func (a *app) planAndApply(ctx context.Context, r *tf.Runner, ids []string, destroy, autoApprove bool, output string) (int, []tf.Result) {
	planned := r.Plan(ctx, ids, destroy)
	a.report(output, "plan", planned)
	code := tf.Combine(tf.Codes(planned)...)
	if code != tf.ExitChanges {
		return code, planned
	}
	if !autoApprove {
		ok, err := a.confirm(destroy)
		if err != nil {
			fmt.Fprintln(a.stderr, "hubctl:", err)
			return tf.ExitError, planned
		}
		if !ok {
			fmt.Fprintln(a.stderr, "Nothing applied.")
			return tf.ExitError, planned
		}
	}
	applied := r.Apply(ctx, planned, destroy)
	phase := "apply"
	if destroy {
		phase = "destroy"
	}
	a.report(output, phase, applied)
	return tf.Combine(tf.Codes(applied)...), applied
}

func (a *app) confirm(destroy bool) (bool, error) {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return false, fmt.Errorf("not a terminal: pass --auto-approve to apply without confirmation")
	}
	verb := "apply these plans"
	if destroy {
		verb = "destroy these hubs (their data is kept)"
	}
	fmt.Fprintf(a.stderr, "\nDo you want to %s? Only 'yes' is accepted: ", verb)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(line) == "yes", nil
}

// report prints results: for plan each region's human-readable plan
// (not with output "summary", as hubctl up) and the summary table, for apply and destroy a line per region; or JSON.
func (a *app) report(output, phase string, res []tf.Result) {
	if output == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"phase": phase, "exit_code": tf.Combine(tf.Codes(res)...), "regions": res})
		return
	}
	on := a.colour(a.stdout)
	if phase == "plan" {
		var sums []tf.Summary
		for _, r := range res {
			if r.Err != nil {
				continue
			}
			sums = append(sums, r.Summary)
			if output == "summary" {
				continue
			}
			fmt.Fprintf(a.stdout, "\n%s\n", paint(on, bold, "── "+r.Region+" "+strings.Repeat("─", max(3, 60-len(r.Region)))))
			fmt.Fprintln(a.stdout, colourPlan(on, strings.TrimSpace(r.PlanText)))
		}
		if len(sums) > 0 {
			fmt.Fprintln(a.stdout)
			table := tf.Table(sums)
			head, rest, _ := strings.Cut(table, "\n")
			fmt.Fprintln(a.stdout, paint(on, bold, head))
			fmt.Fprint(a.stdout, rest)
		}
	}
	for _, r := range res {
		switch {
		case r.Err != nil:
			fmt.Fprintf(a.stdout, "%-12s %s %v\n", r.Region, paint(on, red, phase+" failed:"), r.Err)
		case phase == "apply" && r.Ready:
			fmt.Fprintf(a.stdout, "%-12s %s\n", r.Region, paint(on, green, "applied, ready"))
		case phase == "apply":
			fmt.Fprintf(a.stdout, "%-12s %s\n", r.Region, paint(on, yellow, "applied, /readyz not answering yet (hubctl status shows it)"))
		case phase == "destroy":
			fmt.Fprintf(a.stdout, "%-12s %s\n", r.Region, paint(on, green, "destroyed (data kept)"))
		}
	}
}

// colourPlan colours a human-readable plan's +, ~ and - lines.
func colourPlan(on bool, text string) string {
	if !on {
		return text
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		t := strings.TrimLeft(l, " ")
		switch {
		case strings.HasPrefix(t, "-/+"), strings.HasPrefix(t, "+/-"):
			lines[i] = paint(on, yellow, l)
		case strings.HasPrefix(t, "+ "):
			lines[i] = paint(on, green, l)
		case strings.HasPrefix(t, "~ "):
			lines[i] = paint(on, yellow, l)
		case strings.HasPrefix(t, "- "):
			lines[i] = paint(on, red, l)
		case strings.HasPrefix(t, "Plan:"), strings.HasPrefix(t, "No changes."):
			lines[i] = paint(on, bold, l)
		}
	}
	return strings.Join(lines, "\n")
}

func exitCode(code int) error {
	if code == 0 {
		return nil
	}
	return exitError{code}
}

func (a *app) statusCmd() *cobra.Command {
	var f provisionFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each region's deployed release, bundle hash, health and drift",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, r, ids, done, err := a.startRun(cmd, &f)
			if err != nil {
				return err
			}
			defer done()
			sts := r.Status(ctx, ids)
			if f.output == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(sts)
			}
			on := a.colour(a.stdout)
			fmt.Fprintln(a.stdout, paint(on, bold, fmt.Sprintf("%-12s %-18s %-18s %-8s %-6s %s", "REGION", "RELEASE", "BUNDLE", "HEALTH", "DRIFT", "URL")))
			failed := false
			for _, s := range sts {
				switch {
				case s.Error != "":
					failed = true
					fmt.Fprintf(a.stdout, "%-12s error: %s\n", s.Region, s.Error)
				case !s.Deployed:
					fmt.Fprintf(a.stdout, "%-12s %s\n", s.Region, "not deployed")
				default:
					health, drift := "down", "no"
					if s.Healthy {
						health = "ready"
					}
					if s.Drift {
						drift = "YES"
					}
					_, port, _ := strings.Cut(s.Listen, ":")
					fmt.Fprintf(a.stdout, "%-12s %-18s %-18.16s %-8s %-6s https://%s:%s/\n", s.Region, s.ReleaseID, s.BundleHash, health, drift, s.Domain, port)
				}
			}
			if failed {
				return exitError{1}
			}
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}
