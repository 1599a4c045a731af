package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/version"
)

func (a *app) renderCmd() *cobra.Command {
	var (
		dir, id, out string
		dev          bool
	)
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Render a region's hub bundle (caddy.json, site.json, manifest.json)",
		Long: `render writes a region's site bundle: the hardened Caddy configuration, the
normalised region with the national directory, and a manifest with hashes.
The same input gives the same bytes; the bundle holds no secrets.`,
		Example: "  hubctl render --region nordjylland --out /tmp/nordjylland",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				dir = a.cfg.RegionsDir
			}
			set, err := a.validRegions(dir)
			if err != nil {
				return err
			}
			b, err := bundle.Render(set, id, a.cfg, bundle.Options{Dev: dev, Version: version.Version})
			if err != nil {
				return err
			}
			if err := b.Write(out); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "rendered %s into %s (bundle %s)\n", id, out, b.Manifest.BundleHash[:16])
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "regions", "", "directory of region files (default from config: regions_dir)")
	cmd.Flags().StringVar(&id, "region", "", "region id (required)")
	cmd.Flags().StringVar(&out, "out", "", "output directory (required)")
	cmd.Flags().BoolVar(&dev, "dev", false, "render a development bundle (*.hub.localhost, internal CA, development identity provider)")
	_ = cmd.MarkFlagRequired("region")
	_ = cmd.MarkFlagRequired("out")
	_ = cmd.RegisterFlagCompletionFunc("region", completeRegions)
	return cmd
}
