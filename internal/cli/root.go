// Package cli wires hubctl's cobra commands. Each command lives in its own
// file; the work itself is done by the packages they call.
package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

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
}

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
	root.AddCommand(
		a.validateCmd(),
		a.renderCmd(),
		a.serveCmd(),
		a.auditCmd(),
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
