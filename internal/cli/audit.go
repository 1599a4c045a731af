package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hubkit/hubkit/internal/audit"
)

func (a *app) auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check and export a hub's audit log",
	}
	var data string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the hash chain of a hub's audit log",
		Long: `verify recomputes every record's hash and checks the chain and the head file,
so any edited, reordered or deleted record is found. Exit status 0 when the
log is intact, 1 when not (the line of the first break is printed).`,
		Example: "  hubctl audit verify --data /var/lib/hubkit/nordjylland",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := filepath.Join(data, audit.FileName)
			sum, err := audit.Verify(path)
			if err != nil {
				fmt.Fprintln(a.stdout, "BROKEN:", err)
				return exitError{1}
			}
			fmt.Fprintf(a.stdout, "ok  %s: %d records intact", path, sum.Records)
			if sum.Records > 0 {
				fmt.Fprintf(a.stdout, " (%s to %s), head %s", sum.First.Format("2006-01-02 15:04"), sum.Last.Format("2006-01-02 15:04"), sum.Head[:16])
			}
			fmt.Fprintln(a.stdout)
			return nil
		},
	}
	verify.Flags().StringVar(&data, "data", "", "the hub's data directory (holding audit.log)")
	_ = verify.MarkFlagRequired("data")

	var caseRef, person string
	export := &cobra.Command{
		Use:   "export",
		Short: "Export the audit records of one case or one person (data-protection requests)",
		Long: `export verifies the audit log's chain and writes, as JSON lines, every record
of one case (--case) or one person (--person, the user key as in the log,
e.g. 851:sub or tid:oid). Nothing is written when the chain is broken.`,
		Example: `  hubctl audit export --data /var/lib/hubkit/nordjylland --case 2026-0042
  hubctl audit export --data /var/lib/hubkit/nordjylland --person 851:a1b2c3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (caseRef == "") == (person == "") {
				return fmt.Errorf("give exactly one of --case and --person")
			}
			match := func(r audit.Record) bool {
				if caseRef != "" {
					return r.Case == caseRef
				}
				return r.Actor == person || r.Subject == person
			}
			n, err := audit.Export(filepath.Join(data, audit.FileName), match, a.stdout)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "%d record(s) exported\n", n)
			return nil
		},
	}
	export.Flags().StringVar(&data, "data", "", "the hub's data directory (holding audit.log)")
	export.Flags().StringVar(&caseRef, "case", "", "case reference")
	export.Flags().StringVar(&person, "person", "", "person (user key)")
	_ = export.MarkFlagRequired("data")
	cmd.AddCommand(verify, export)
	return cmd
}
