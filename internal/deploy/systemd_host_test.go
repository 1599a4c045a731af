package deploy_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/deploy"
	"github.com/hubkit/hubkit/internal/deploy/deploytest"
	"github.com/hubkit/hubkit/internal/testenv"
)

// TestSystemdRollbackRestoresCredentials deploys onto the booted systemd
// test host and shows that the secrets follow the release: a release that
// fails its health check with new secrets is rolled back together with
// them (files, unit and what the running hub reads), and a non-root login
// is refused before anything is touched.
func TestSystemdRollbackRestoresCredentials(t *testing.T) {
	ctx := context.Background()
	host := deploytest.StartSystemdHost(t)
	const domain = "nordjylland.hub.test"
	issuer := host.StartOIDCProvider(t, testenv.OS2faktorLikeConfig(testenv.OIDCClient{
		ClientID: "hub-test", ClientSecret: "v1", RedirectURIs: []string{"https://" + domain + "/auth/callback"},
	}, testenv.OIDCAccount{AccountID: "konsulent", Claims: map[string]any{"roles": []string{"sikkerhedskonsulent"}, testenv.NSISLoAClaim: "Substantial"}}))
	regions := deploytest.TestRegions(t, issuer, domain)
	bin := deploytest.Hubctl(t)
	release := func(timeout time.Duration, env map[string]string) deploy.Release {
		b := deploytest.Render(t, regions, "nordjylland", bundle.Options{Version: "test", Port: 443})
		return deploy.Release{Files: b.Files, Binary: bin, Listen: ":443", Domain: b.Manifest.Domain, Region: "nordjylland",
			Env: env, HealthTimeout: timeout}
	}
	const dir = "/srv/hubkit/nordjylland"
	target := &deploy.SSH{Host: host.Addr, Port: host.Port, User: "root", PrivateKeyFile: host.KeyFile, HostKey: host.HostKey, Dir: dir}

	asDeployUser := *target
	asDeployUser.User, asDeployUser.PrivateKeyFile = deploytest.DeployUser, host.DeployKeyFile
	if _, err := asDeployUser.Deploy(ctx, release(time.Minute, nil)); err == nil || !strings.Contains(err.Error(), "needs root") {
		t.Fatalf("deploy as %s: %v, want an error saying it needs root", deploytest.DeployUser, err)
	}
	if out, _ := host.Run("ls -A " + dir + " /etc/systemd/system | grep -c hubkit || true"); strings.TrimSpace(out) != "0" {
		t.Fatalf("the refused deploy left something on the host: %s", out)
	}

	first, err := target.Deploy(ctx, release(time.Minute, map[string]string{"HUBKIT_OIDC_AALBORG_SECRET": "v1"}))
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimSuffix(issuer, "/oauth2"), "http://"))
	deploytest.EditRegion(t, regions, "nordjylland", "127.0.0.1:"+port, "127.0.0.1:1")
	_, err = target.Deploy(ctx, release(4*time.Second, map[string]string{"HUBKIT_OIDC_AALBORG_SECRET": "v2", "HUBKIT_OTHER_SECRET": "x"}))
	var rb *deploy.RollbackError
	if !errors.As(err, &rb) || rb.RollbackErr != nil || rb.Previous != first.ReleaseID {
		t.Fatalf("got %v, want a rollback to %s", err, first.ReleaseID)
	}
	creds := deploy.CredentialDir("nordjylland")
	if got := host.MustRun(t, "ls -A "+creds); strings.TrimSpace(got) != "HUBKIT_OIDC_AALBORG_SECRET" {
		t.Errorf("credentials after the rollback: %q", got)
	}
	if got := host.MustRun(t, "cat /run/credentials/"+deploy.UnitName("nordjylland")+"/HUBKIT_OIDC_AALBORG_SECRET"); got != "v1" {
		t.Errorf("the running hub reads the secret %q, want the previous v1", got)
	}
	if unit := host.MustRun(t, "systemctl cat "+deploy.UnitName("nordjylland")); strings.Contains(unit, "HUBKIT_OTHER_SECRET") {
		t.Errorf("the unit still loads the failed release's credential:\n%s", unit)
	}
	st, err := target.Status(ctx)
	if err != nil || st.ReleaseID != first.ReleaseID || !st.Healthy || strings.Join(st.EnvNames, ",") != "HUBKIT_OIDC_AALBORG_SECRET" {
		t.Fatalf("status after the rollback: %+v, %v", st, err)
	}

	if err := target.Remove(ctx, true); err != nil {
		t.Fatal(err)
	}
	if out := host.MustRun(t, "ls -A /srv/hubkit /etc/hubkit/credentials; id -u hubkit-nordjylland 2>/dev/null || true"); strings.TrimSpace(out) != "/etc/hubkit/credentials:\n\n/srv/hubkit:" {
		t.Errorf("after a purge the host holds:\n%s", out)
	}
}
