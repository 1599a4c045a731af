package cli

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/devidp"
	"github.com/hubkit/hubkit/internal/serve"
	"github.com/hubkit/hubkit/internal/version"
)

func (a *app) serveCmd() *cobra.Command {
	var (
		opt     serve.Options
		dev     bool
		all     bool
		regions []string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve one or more rendered hub bundles with Caddy",
		Long: `serve runs Caddy with hubkit's modules for the given bundles, each hub on its
own host name, until interrupted.

With --dev it renders development bundles of the chosen regions itself and
serves them on https://<region>.hub.localhost:8443 with Caddy's internal CA
and an embedded development identity provider with demo users. Development
mode listens on loopback only.`,
		Example: `  hubctl serve --bundle /srv/hubkit/current --data /var/lib/hubkit
  hubctl serve --dev --all
  hubctl serve --dev --region nordjylland`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dev {
				if len(opt.Bundles) > 0 {
					return fmt.Errorf("--dev renders its own bundles; drop --bundle")
				}
				if err := a.devBundles(&opt, regions, all); err != nil {
					return err
				}
			} else if len(opt.Bundles) == 0 {
				return fmt.Errorf("nothing to serve: give --bundle DIR, or --dev")
			}
			cfg, hubs, err := serve.Config(opt)
			if err != nil {
				return err
			}
			a.printHubs(hubs, true)
			return serve.RunUntilSignal(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringSliceVar(&opt.Bundles, "bundle", nil, "bundle directory to serve (repeatable)")
	cmd.Flags().StringVar(&opt.DataDir, "data", "", "data directory (sessions, audit log); per region below it when serving several")
	cmd.Flags().DurationVar(&opt.GracePeriod, "grace-period", serve.DefaultGracePeriod, "on SIGTERM, how long requests in flight (uploads) may take to finish before they are cut")
	cmd.Flags().StringVar(&opt.MetricsListen, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics on a listener of their own (loopback or an admin network), e.g. 127.0.0.1:9464")
	cmd.Flags().StringVar(&opt.Listen, "listen", "", "listen address host:port (default from the bundle: :443, or 127.0.0.1:8443 in dev)")
	cmd.Flags().BoolVar(&dev, "dev", false, "development mode: local HTTPS and the development identity provider")
	cmd.Flags().BoolVar(&all, "all", false, "with --dev: serve all five regions")
	cmd.Flags().StringSliceVar(&regions, "region", nil, "with --dev: serve this region (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("region", completeRegions)
	return cmd
}

// devBundles renders development bundles under .hubkit/dev and points opt at them.
func (a *app) devBundles(opt *serve.Options, ids []string, all bool) error {
	set, err := a.validRegions(a.cfg.RegionsDir)
	if err != nil {
		return err
	}
	if all || len(ids) == 0 {
		ids = nil
		for _, r := range set.Regions {
			ids = append(ids, r.ID)
		}
	}
	base := filepath.Join(filepath.Dir(a.cfg.StateDir), "dev")
	port := bundle.DevPort
	if opt.Listen != "" {
		_, p, err := net.SplitHostPort(opt.Listen)
		if port, err = strconv.Atoi(p); err != nil {
			return fmt.Errorf("--listen %q: want host:port, e.g. 127.0.0.1:8443", opt.Listen)
		}
	}
	for _, id := range ids {
		// The development identity provider is served on the hubs' port,
		// so the bundle must name the port they listen on.
		b, err := bundle.Render(set, id, a.cfg, bundle.Options{Dev: true, Version: version.Version, Port: port})
		if err != nil {
			return err
		}
		dir := filepath.Join(base, "bundles", id)
		if err := b.Write(dir); err != nil {
			return err
		}
		opt.Bundles = append(opt.Bundles, dir)
	}
	if opt.DataDir == "" {
		opt.DataDir = filepath.Join(base, "data")
	}
	if opt.Listen == "" {
		opt.Listen = fmt.Sprintf("127.0.0.1:%d", bundle.DevPort)
	}
	if os.Getenv(devidp.SecretEnv) == "" {
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return err
		}
		os.Setenv(devidp.SecretEnv, base64.RawURLEncoding.EncodeToString(secret))
	}
	return nil
}

func (a *app) printHubs(hubs []serve.Hub, foreground bool) {
	dev := false
	for _, h := range hubs {
		dev = dev || h.Dev
	}
	if dev {
		fmt.Fprintln(a.stdout, "*** DEVELOPMENT MODE: demo data and demo logins, never for real cases ***")
	}
	fmt.Fprintf(a.stdout, "%d hub(s):\n", len(hubs))
	for _, h := range hubs {
		fmt.Fprintf(a.stdout, "  %-12s %s\n", h.Region, h.URL)
	}
	if dev {
		fmt.Fprintf(a.stdout, "\nDemo logins (password %q), e.g. for the host municipality of each region:\n", devidp.Password)
		for _, h := range hubs {
			codes := make([]int, 0, len(h.Providers))
			for c := range h.Providers {
				codes = append(codes, c)
			}
			sort.Ints(codes)
			for _, c := range codes {
				if users := devidp.Users(c); len(users) > 1 {
					fmt.Fprintf(a.stdout, "  %-12s %-16s %s (consultant), %s (professional)\n", h.Region, h.Providers[c], users[0].Username, users[1].Username)
				}
			}
		}
		fmt.Fprintln(a.stdout, "\nThe browser will warn about Caddy's local certificate authority; accept it for *.hub.localhost.")
	}
	if foreground {
		fmt.Fprintln(a.stdout, "Press Ctrl-C to stop.")
	}
}
