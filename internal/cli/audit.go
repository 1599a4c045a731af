package cli

import (
	"fmt"
	"os"
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
				if acks, _ := audit.ReadAcknowledgements(path); len(acks) > 0 {
					for _, k := range acks {
						fmt.Fprintf(a.stdout, "  acknowledged %s by %s: %q (%d break(s))\n", k.Time.Format("2006-01-02 15:04"), k.By, k.Reason, len(k.Breaks))
					}
				}
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

	var reason string
	ack := &cobra.Command{
		Use:   "acknowledge",
		Short: "Accept the breaks in a hub's audit chain so that the hub starts again",
		Long: `A hub refuses to start when its audit chain is broken (a record edited, removed
or reordered), naming the line. Investigate first: keep a copy of audit.log and
audit.log.head, and restore them from backup if they were damaged by accident.
If the log is to stay as it is, acknowledge lists every break, records them with
your reason and your user name in audit.log.ack, and the hub's next start goes
on and writes the acknowledgement into the chain itself. A break found later is
not covered. Run it with the hub stopped.`,
		Example: `  hubctl audit acknowledge --data /var/lib/hubkit/nordjylland --reason "INC-4711: disk error, log kept for the investigation"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := filepath.Join(data, audit.FileName)
			breaks, err := audit.Acknowledge(path, operatorName(), reason)
			if err != nil {
				return err
			}
			if len(breaks) == 0 {
				fmt.Fprintf(a.stdout, "%s: no unacknowledged break; nothing to acknowledge\n", path)
				return nil
			}
			for _, b := range breaks {
				fmt.Fprintf(a.stdout, "acknowledged  %s:%d: %s\n", path, b.Line, b.Msg)
			}
			fmt.Fprintf(a.stdout, "%d break(s) acknowledged; the hub's next start records this in the chain\n", len(breaks))
			return nil
		},
	}
	ack.Flags().StringVar(&data, "data", "", "the hub's data directory (holding audit.log)")
	ack.Flags().StringVar(&reason, "reason", "", "why the breaks are accepted (incident or ticket number, what was checked)")
	_ = ack.MarkFlagRequired("data")
	_ = ack.MarkFlagRequired("reason")

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
	cmd.AddCommand(verify, ack, export)
	return cmd
}

// operatorName names who runs a command, for acknowledgements: the user
// behind sudo when there is one.
func operatorName() string {
	for _, k := range []string{"SUDO_USER", "USER", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}
