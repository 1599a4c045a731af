package cli

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/devidp"
	"github.com/hubkit/hubkit/internal/serve"
	"github.com/hubkit/hubkit/internal/site"
	"github.com/hubkit/hubkit/internal/tf"
)

func (a *app) upCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "up",
		Short: "Provision all five regional hubs locally through Terraform and start them",
		Long: `up is the README's main command: it validates the regions, provisions every
region's hub to the local target through Terraform (development bundles with
the development identity provider, each hub on its own port), waits until
each is ready and prints the URLs and demo logins. Running it again without
a change in the configuration changes nothing.

The hubs keep running in the background; hubctl status shows them and
hubctl destroy --all stops them (their data is kept).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Getenv(devidp.SecretEnv) == "" {
				secret := make([]byte, 32)
				if _, err := rand.Read(secret); err != nil {
					return err
				}
				os.Setenv(devidp.SecretEnv, base64.RawURLEncoding.EncodeToString(secret))
			}
			f := provisionFlags{all: true, target: tf.TargetLocal, output: "text"}
			ctx, r, ids, done, err := a.startRun(cmd, &f)
			if err != nil {
				return err
			}
			defer done()
			fmt.Fprintf(a.stderr, "Provisioning %d regional hubs through Terraform (local target) …\n", len(ids))
			if err := checkSecrets(r, ids); err != nil {
				return err
			}
			code, _ := a.planAndApply(ctx, r, ids, false, true, "summary")
			if code == tf.ExitError {
				return exitError{1}
			}
			if code == tf.ExitOK {
				fmt.Fprintln(a.stdout, "\nNo changes: every hub is as configured.")
			}
			var hubs []serve.Hub
			for _, id := range ids {
				dir, _ := filepath.Abs(filepath.Join(a.cfg.Targets.Local.Dir, id, "current"))
				st, err := site.Load(filepath.Join(dir, bundle.SiteFile))
				if err != nil {
					return fmt.Errorf("%s is not deployed: %w", id, err)
				}
				h := serve.Hub{Region: id, Dev: st.Dev != nil, Providers: map[int]string{},
					URL: fmt.Sprintf("https://%s:%d/", st.Region.Domain, tf.LocalPort(a.cfg, id))}
				for _, p := range st.Region.IdentityProviders {
					h.Providers[p.KommuneCode] = p.Kommune
				}
				hubs = append(hubs, h)
			}
			fmt.Fprintln(a.stdout)
			a.printHubs(hubs, false)
			fmt.Fprintln(a.stdout, "The hubs run in the background: hubctl status --all shows them, hubctl destroy --all --auto-approve stops them.")
			return nil
		},
	}
}
