package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hubkit/hubkit/internal/verify"
	"github.com/hubkit/hubkit/internal/version"
)

func (a *app) verifyCmd() *cobra.Command {
	var o verify.Options
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check a live hub from its host as an auditor would; exit 1 on any finding",
		Long: `verify runs on the hub's host and checks what an auditor would: the data
directory is whole and its files are the hub's alone (0700 directories, 0600
files, keys plain files), the audit chain is intact, the hub serves a
certificate valid for --min-days more with HSTS, CSP and nosniff and without
a Server header, answers /readyz, serves no development login, its systemd
unit's systemd-analyze security exposure is at most --max-exposure, and the
deployed bundle was rendered by this hubctl. Each check prints one line;
the exit status is 1 when any check fails.`,
		Example: `  hubctl verify --data /srv/hubkit/nordjylland/data --url https://sikkerhed.nordjylland.dk \
    --unit hubkit-nordjylland.service --bundle /srv/hubkit/nordjylland/current`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.DataDir == "" && o.URL == "" && o.Unit == "" && o.Bundle == "" {
				return fmt.Errorf("nothing to check: give --data, --url, --unit and/or --bundle")
			}
			o.Version = version.Version
			rs := verify.Run(cmd.Context(), o)
			for _, r := range rs {
				mark := "ok  "
				if !r.OK {
					mark = "FAIL"
				}
				fmt.Fprintf(a.stdout, "%s %-22s %s\n", mark, r.Check, r.Detail)
			}
			if n := verify.Findings(rs); n > 0 {
				fmt.Fprintf(a.stdout, "%d finding(s)\n", n)
				return exitError{1}
			}
			fmt.Fprintln(a.stdout, "no findings")
			return nil
		},
	}
	cmd.Flags().StringVar(&o.DataDir, "data", "", "the hub's data directory")
	cmd.Flags().StringVar(&o.URL, "url", "", "the hub's address, https://domain[:port]")
	cmd.Flags().StringVar(&o.CAFile, "ca", "", "PEM file of the roots to trust for --url instead of the system's")
	cmd.Flags().StringVar(&o.Connect, "connect", "", "connect to this host:port for --url instead of resolving its name (e.g. 127.0.0.1:443 on the hub's host)")
	cmd.Flags().StringVar(&o.Unit, "unit", "", "the hub's systemd unit, e.g. hubkit-nordjylland.service")
	cmd.Flags().Float64Var(&o.MaxScore, "max-exposure", 1.5, "highest acceptable systemd-analyze security exposure")
	cmd.Flags().IntVar(&o.MinDays, "min-days", 14, "the certificate must be valid at least this many more days")
	cmd.Flags().StringVar(&o.Bundle, "bundle", "", "the deployed bundle (current) whose hubctl version must be this one")
	return cmd
}
