package deploy_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/hubkit/hubkit/internal/bundle"
	"github.com/hubkit/hubkit/internal/deploy"
	"github.com/hubkit/hubkit/internal/deploy/deploytest"
	"github.com/hubkit/hubkit/internal/testenv"
)

// sshHubPort is the hub's port on the test host (its own network namespace).
const sshHubPort = 8443

const sshDomain = "nordjylland.hub.test"

// TestSSHEndToEnd deploys through a real OpenSSH sshd onto a test host
// with its own address: a host key that is not the pinned one is refused;
// deploy, update, and a release that fails its health check is rolled
// back while the previous one keeps serving.
func TestSSHEndToEnd(t *testing.T) {
	ctx := context.Background()
	host := deploytest.StartSSHHost(t)
	provider := host.StartOIDCProvider(t, testenv.OS2faktorLikeConfig(testenv.OIDCClient{
		ClientID: "hub-ssh", ClientSecret: "ssh-secret",
		RedirectURIs: []string{"https://" + sshDomain + ":" + strconv.Itoa(sshHubPort) + "/auth/callback"},
	}, testenv.OIDCAccount{AccountID: "konsulent", Claims: map[string]any{"roles": []string{"sikkerhedskonsulent"}, testenv.NSISLoAClaim: "Substantial"}}))
	regions := deploytest.TestRegions(t, provider, sshDomain)
	dir := filepath.Join(t.TempDir(), "srv", "nordjylland")
	listen := net.JoinHostPort(host.Addr, strconv.Itoa(sshHubPort))
	bin := deploytest.Hubctl(t)
	release := func(healthTimeout time.Duration) deploy.Release {
		b := deploytest.Render(t, regions, "nordjylland", bundle.Options{Version: "test", Port: sshHubPort})
		return deploy.Release{Files: b.Files, Binary: bin, Listen: listen, Domain: b.Manifest.Domain, Region: "nordjylland",
			Env: map[string]string{"HUBKIT_OIDC_AALBORG_SECRET": "ssh-secret"}, HealthTimeout: healthTimeout}
	}
	target := &deploy.SSH{Host: host.Addr, Port: host.Port, User: host.User, PrivateKeyFile: host.KeyFile, HostKey: host.HostKey, Dir: dir}
	t.Cleanup(func() {
		if err := target.Remove(context.Background(), true); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	t.Run("wrong host key refused", func(t *testing.T) {
		wrong := *target
		wrong.HostKey = host.OtherHostKey
		_, err := wrong.Deploy(ctx, release(time.Minute))
		var hk *deploy.HostKeyError
		if !errors.As(err, &hk) {
			t.Fatalf("got %v, want a HostKeyError", err)
		}
		pinned, _ := deploy.ParseHostKey(host.OtherHostKey)
		real, _ := deploy.ParseHostKey(host.HostKey)
		for _, want := range []string{"mismatch", ssh.FingerprintSHA256(pinned), ssh.FingerprintSHA256(real)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q: %v", want, err)
			}
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("a refused connection still created %s", dir)
		}
	})

	var first *deploy.Result
	t.Run("deploy", func(t *testing.T) {
		var err error
		if first, err = target.Deploy(ctx, release(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := deploytest.Readyz(listen, sshDomain); err != nil {
			t.Fatalf("hub on the test host not ready: %v", err)
		}
		st, err := target.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.ReleaseID != first.ReleaseID || st.Problem != "" || !st.Running || !st.Healthy {
			t.Fatalf("status: %s", show(st))
		}
		// The secret reached the hub's environment, by reference.
		pid, err := os.ReadFile(filepath.Join(dir, "hub.pid"))
		if err != nil {
			t.Fatal(err)
		}
		environ, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/environ")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(environ), "HUBKIT_OIDC_AALBORG_SECRET=ssh-secret\x00") {
			t.Error("the hub does not have HUBKIT_OIDC_AALBORG_SECRET in its environment")
		}
	})
	if first == nil {
		t.FailNow()
	}

	var second *deploy.Result
	t.Run("update", func(t *testing.T) {
		deploytest.EditRegion(t, regions, "nordjylland", "name: Maja Nørgaard", "name: Maja Nørgaard Holm")
		var err error
		if second, err = target.Deploy(ctx, release(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if second.Previous != first.ReleaseID || second.ReleaseID == first.ReleaseID {
			t.Fatalf("update: %+v after %s", second, first.ReleaseID)
		}
		if err := deploytest.Readyz(listen, sshDomain); err != nil {
			t.Fatalf("hub not ready after update: %v", err)
		}
	})
	if second == nil {
		t.FailNow()
	}

	t.Run("failing release rolled back", func(t *testing.T) {
		// The host municipality mistypes its provider's port: discovery
		// fails, /readyz answers 503, the release must not stay.
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(provider, "http://"))
		deploytest.EditRegion(t, regions, "nordjylland", "127.0.0.1:"+port, "127.0.0.1:1")
		_, err := target.Deploy(ctx, release(4*time.Second))
		var rb *deploy.RollbackError
		if !errors.As(err, &rb) {
			t.Fatalf("got %v, want a RollbackError", err)
		}
		if rb.Previous != second.ReleaseID || rb.RollbackErr != nil {
			t.Fatalf("rolled back to %s (want %s), rollback error %v", rb.Previous, second.ReleaseID, rb.RollbackErr)
		}
		if !strings.Contains(err.Error(), "failed its health check") || !strings.Contains(err.Error(), "serving again") {
			t.Errorf("error: %v", err)
		}
		if err := deploytest.Readyz(listen, sshDomain); err != nil {
			t.Fatalf("the previous release does not serve after the rollback: %v", err)
		}
		st, err := target.Status(ctx)
		if err != nil || st.ReleaseID != second.ReleaseID || !st.Healthy {
			t.Fatalf("status after rollback: %s, %v", show(st), err)
		}
	})

	t.Run("remove keeps data", func(t *testing.T) {
		if err := target.Remove(ctx, false); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "data", "hub.db")); err != nil {
			t.Errorf("Remove lost the hub's data: %v", err)
		}
		if err := deploytest.Readyz(listen, sshDomain); err == nil {
			t.Error("the hub still answers after Remove")
		}
	})
}
