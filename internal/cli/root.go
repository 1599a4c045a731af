// Package cli wires hubctl's cobra commands. Each command lives in its own
// file; the work itself is done by the packages they call.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hubkit/hubkit/internal/config"
	"github.com/hubkit/hubkit/internal/version"
)

// exitError carries a process exit code through cobra without printing
// anything more (the command already said what went wrong).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// app is the state shared by all commands of one invocation.
type app struct {
	configFile     string
	configExplicit bool
	cfg            *config.Config
	stdout, stderr io.Writer
	noColor        bool
}

// terminal reports whether w is a terminal. CLICOLOR_FORCE=1 makes any
// output count as one (for tests, and logs of tools that render colour).
func terminal(w io.Writer) bool {
	if v := os.Getenv("CLICOLOR_FORCE"); v != "" && v != "0" {
		return true
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// colour reports whether to colour what goes to w: only on a terminal,
// and never with --no-color, NO_COLOR (https://no-color.org) or TERM=dumb.
func (a *app) colour(w io.Writer) bool {
	return !a.noColor && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb" && terminal(w)
}

// paint wraps s in an ANSI colour when on is set.
func paint(on bool, code, s string) string {
	if !on || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// ANSI colours hubctl uses.
const (
	bold   = "1"
	red    = "31"
	green  = "32"
	yellow = "33"
	cyan   = "36"
)

// Main runs hubctl with args and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintln(stderr, "hubctl:", err)
		return 1
	}
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "hubctl",
		Short: "Validate, render, provision and serve the regional hubs of hubkit",
		Long: `hubctl is hubkit's single tool. It reads the region files (regions/*.yaml) and the
global configuration (config/hubkit.yaml, overridable with HUBKIT_* environment
variables), validates them, renders each region's hub bundle, provisions hubs
through Terraform and serves them.`,
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			a.configExplicit = cmd.Flags().Changed("config")
			cfg, err := config.Load(a.configFile, a.configExplicit)
			if err != nil {
				return err
			}
			a.cfg = cfg
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&a.configFile, "config", config.DefaultFile, "global configuration file")
	root.PersistentFlags().BoolVar(&a.noColor, "no-color", false, "no colour in the output (also with NO_COLOR set, or when not on a terminal)")
	root.AddCommand(
		a.validateCmd(),
		a.renderCmd(),
		a.serveCmd(),
		a.auditCmd(),
		a.verifyCmd(),
		a.dropsCmd(),
		a.backupCmd(), a.restoreCmd(),
		a.planCmd(),
		a.applyCmd(false),
		a.applyCmd(true),
		a.statusCmd(),
		a.upCmd(),
	)
	return root
}
