package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/hubkit/hubkit/internal/datadir"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/region"
	// The file drop's Caddy module, for `hubctl serve` and `hubctl up`.
	// It belongs with the other hubkit modules in internal/serve's import
	// list; until it is there, this import registers it in hubctl.
)

func (a *app) dropsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drops",
		Short: "Maintain a hub's secure file drop",
	}
	var data string
	purge := &cobra.Command{
		Use:   "purge",
		Short: "Delete expired and abandoned drops and links of a stopped hub now",
		Long: `purge runs the file drop's sweeper once on a hub's data directory: drops past
their retention date and drafts abandoned for a day end, their encrypted
files are deleted and their metadata reduced to a tombstone; interrupted
uploads and expired upload links are removed. Everything is audited.

A running hub does this itself every minute and holds the data directory
locked; stop it first (purge says so if it is running). Use purge when a hub
stays stopped past retention dates, e.g. before a backup or a hand-over.`,
		Example: "  hubctl drops purge --data /var/lib/hubkit/nordjylland",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := os.Stat(filepath.Join(data, filedrop.StoreFile)); err != nil {
				return fmt.Errorf("%s holds no hub database (%s): give the data directory of a hub (--data)", data, filedrop.StoreFile)
			}
			if err := datadir.Preflight(data); err != nil {
				return err
			}
			pol, err := purgePolicy(a.cfg.Defaults)
			if err != nil {
				return err
			}
			res, err := filedrop.PurgeDataDir(cmd.Context(), data, filedrop.Options{Policy: pol}, time.Now())
			if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) {
				return fmt.Errorf("the data directory %s is in use by a running hub; stop the hub first (it sweeps every minute by itself): %w", data, err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: %d drop(s) expired, %d draft(s) abandoned; %d drop(s) purged (%d file(s), %s); %d interrupted upload(s) and %d expired link(s) removed\n",
				data, res.Expired, res.Abandoned, res.Purged, res.Files, humanize.IBytes(uint64(res.Bytes)), res.Uploads, res.Links)
			return nil
		},
	}
	purge.Flags().StringVar(&data, "data", "", "the hub's data directory (holding hub.db, audit.log and blobs/)")
	_ = purge.MarkFlagRequired("data")
	cmd.AddCommand(purge)
	return cmd
}

// purgePolicy is a valid policy for PurgeDataDir, from the global
// defaults. A purge does not depend on it: every drop's retention date was
// fixed when it was created.
func purgePolicy(d region.Defaults) (region.FileDropPolicy, error) {
	n, err := humanize.ParseBytes(d.MaxFileSize)
	if err != nil || n == 0 {
		return region.FileDropPolicy{}, fmt.Errorf("defaults.max_file_size %q is not a size (e.g. 2 GiB)", d.MaxFileSize)
	}
	files, deflt, max := d.MaxFilesPerDrop, d.DefaultRetentionDays, d.MaxRetentionDays
	return region.FileDropPolicy{MaxFileBytes: int64(n), MaxFilesPerDrop: &files, DefaultRetentionDays: &deflt, MaxRetentionDays: &max}, nil
}
