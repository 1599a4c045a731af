package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"filippo.io/age"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/deploy"
	"github.com/hubkit/hubkit/internal/deploy/deploytest"
	"github.com/hubkit/hubkit/internal/testenv"
)

// maxRunningExposure bounds `systemd-analyze security` of the running
// hub unit on the booted host. 1.4 is what the unit scores; the goal of
// 1.2 needs PrivateUsers=, which cannot go with binding 443 through an
// ambient capability (see docs/operations.md, "Deploying to a server").
const maxRunningExposure = 1.4

// TestSystemdHostDeploy is an operator's SSH deploy onto a real systemd
// host (Debian 12 booted in systemd-nspawn): `hubctl apply --target ssh`
// through Terraform installs the hub as a hardened unit that serves TLS on
// 443, logs in through the test OpenID Provider with a secret taken from
// the operator's environment as a systemd credential, round-trips a drop,
// is restarted by systemd after a SIGKILL, has its nightly backup timer,
// and `hubctl destroy` leaves the host clean but for the hub's data.
func TestSystemdHostDeploy(t *testing.T) {
	host := deploytest.StartSystemdHost(t)
	const (
		domain  = "nordjylland.hub.test"
		secret  = "aalborg-e2e-systemd-Zq81vXw3" // distinctive, to grep for
		dir     = "/srv/hubkit/nordjylland"
		backups = "/var/backups/hubkit/nordjylland"
		unit    = "hubkit-nordjylland.service"
	)
	consultant := func(id, name string) testenv.OIDCAccount {
		return account(id, map[string]any{"sub": id, "email": id + "@aalborg.dk", "name": name,
			"roles": []string{"sikkerhedskonsulent"}, testenv.NSISLoAClaim: "Substantial"})
	}
	issuer := host.StartOIDCProvider(t, testenv.OS2faktorLikeConfig(testenv.OIDCClient{
		ClientID: "hub-test", ClientSecret: secret, RedirectURIs: []string{"https://" + domain + "/auth/callback"},
	}, consultant("konsulent", "Karen Konsulent"), consultant("kollega", "Kim Kollega")))
	regions := deploytest.TestRegions(t, issuer, domain)

	work := t.TempDir()
	operator, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(work, "hubkit.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `regions_dir: %s
state_dir: %s
modules_dir: %s
backup:
  recipients: [%s]
login:
  client_burst: 1000
  client_per_minute: 1000
targets:
  ssh:
    nordjylland:
      host: %s
      port: %d
      user: root
      private_key_file: %s
      host_key: %q
      dir: %s
      listen: ":443"
      backup_dest: %s
`, regions, filepath.Join(work, "state"), filepath.Join(testenv.RepoRoot(t), "modules"), operator.Recipient(),
		host.Addr, host.Port, host.KeyFile, host.HostKey, dir, backups), 0o600); err != nil {
		t.Fatal(err)
	}
	hubctl := func(args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(buildHubctl(t), append(args, "--config", cfg)...)
		cmd.Dir = work
		// The operator's machine holds the secret the region file names.
		cmd.Env = append(os.Environ(), "HUBKIT_OIDC_AALBORG_SECRET="+secret)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("hubctl %v: %v", args, err)
		}
		return code, string(out)
	}

	// The plan names the secret the region file refers to, never its value.
	code, out := hubctl("plan", "--region", "nordjylland", "--target", "ssh")
	if code == 1 || !strings.Contains(out, "HUBKIT_OIDC_AALBORG_SECRET") || strings.Contains(out, secret) {
		t.Fatalf("plan --target ssh: exit %d; want the secret's name and not its value in:\n%s", code, tail(out, 60))
	}
	start := time.Now()
	if code, out := hubctl("apply", "--region", "nordjylland", "--target", "ssh", "--auto-approve"); code == 1 {
		t.Fatalf("apply --target ssh: exit %d\n%s\njournal:\n%s", code, tail(out, 60), host.MustRun(t, "journalctl --no-pager -n 60 -u "+unit))
	}
	t.Logf("hubctl apply --target ssh took %s", time.Since(start).Round(time.Millisecond))
	// Nothing drifts: the deployed hub is what Terraform planned.
	if code, out := hubctl("plan", "--region", "nordjylland", "--target", "ssh"); code != 0 {
		t.Errorf("plan after apply: exit %d, want 0 (no changes)\n%s", code, tail(out, 60))
	}

	addr := net.JoinHostPort(host.Addr, "443")
	if err := deploytest.Readyz(addr, domain); err != nil {
		t.Fatalf("the hub does not answer at %s: %v", addr, err)
	}
	mainPID := func() int {
		t.Helper()
		pid, err := strconv.Atoi(strings.TrimSpace(host.MustRun(t, "systemctl show -p MainPID --value "+unit)))
		if err != nil || pid == 0 {
			t.Fatalf("%s has no main process (%v)", unit, err)
		}
		return pid
	}
	pid := mainPID()

	t.Run("the hub runs sandboxed under systemd", func(t *testing.T) {
		status := host.MustRun(t, fmt.Sprintf("cat /proc/%d/status", pid))
		for _, want := range []string{"NoNewPrivs:\t1", "CapEff:\t0000000000000400", "CapBnd:\t0000000000000400"} {
			if !strings.Contains(status, want+"\n") {
				t.Errorf("/proc/%d/status lacks %q (CAP_NET_BIND_SERVICE only):\n%s", pid, want, status)
			}
		}
		if user := strings.TrimSpace(host.MustRun(t, fmt.Sprintf("ps -o user= -p %d", pid))); user != deploy.ServiceUser("nordjylland") {
			t.Errorf("the hub runs as %q, want %s", user, deploy.ServiceUser("nordjylland"))
		}
		ns := fmt.Sprintf("nsenter -t %d -m ", pid)
		if opts := host.MustRun(t, ns+"findmnt -no OPTIONS -T /usr"); !regexp.MustCompile(`(^|,)ro(,|$)`).MatchString(strings.TrimSpace(opts)) {
			t.Errorf("/usr is not read-only for the hub: %s", opts)
		}
		if opts := host.MustRun(t, ns+"findmnt -no OPTIONS -T "+dir+"/data"); !regexp.MustCompile(`(^|,)rw(,|$)`).MatchString(strings.TrimSpace(opts)) {
			t.Errorf("the data directory is not writable for the hub: %s", opts)
		}
		// The deploy user's home exists on the host and is hidden from the hub.
		host.MustRun(t, "test -d /home/"+deploytest.DeployUser)
		if home, err := host.Run(ns + "ls -A /home"); err == nil && strings.TrimSpace(home) != "" {
			t.Errorf("/home is visible to the hub: %q", home)
		}
		if got := strings.TrimSpace(host.MustRun(t, "systemctl show -p Restart --value "+unit)); got != "on-failure" {
			t.Errorf("Restart=%s", got)
		}
		if j := host.MustRun(t, "journalctl --no-pager -o cat -u "+unit); !strings.Contains(j, "Started "+unit) || len(strings.Split(j, "\n")) < 3 {
			t.Errorf("the hub's journal shows no start and log:\n%s", j)
		}
		outp := host.MustRun(t, "systemd-analyze security --no-pager "+unit)
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindStringSubmatch(outp)
		if m == nil {
			t.Fatalf("systemd-analyze security printed no exposure:\n%s", outp)
		}
		exposure, _ := strconv.ParseFloat(m[1], 64)
		t.Logf("systemd-analyze security %s (running): exposure %.1f", unit, exposure)
		if exposure > maxRunningExposure {
			t.Errorf("exposure %.1f > %.1f:\n%s", exposure, maxRunningExposure, outp)
		}
	})

	t.Run("the secret is a credential and nowhere else", func(t *testing.T) {
		cred := deploy.CredentialDir("nordjylland") + "/HUBKIT_OIDC_AALBORG_SECRET"
		if got, err := host.Run("stat -c '%a %U' " + cred + " " + deploy.CredentialDir("nordjylland")); strings.TrimSpace(got) != "600 root\n700 root" {
			t.Errorf("credential file and directory: %q %v, want 600 root / 700 root", got, err)
		}
		if got, err := host.Run("cat " + cred); got != secret {
			t.Errorf("the credential file holds %q (%v)", got, err)
		}
		environ := host.MustRun(t, fmt.Sprintf("tr '\\0' '\\n' < /proc/%d/environ", pid))
		if strings.Contains(environ, secret) || strings.Contains(environ, "HUBKIT_OIDC_AALBORG_SECRET") {
			t.Errorf("the secret is in the hub's environment:\n%s", environ)
		}
		if !strings.Contains(environ, "CREDENTIALS_DIRECTORY=") {
			t.Errorf("the hub got no credentials directory:\n%s", environ)
		}
		// Everywhere on the host but the credential file (and the
		// credential systemd mounted for the running unit).
		found, _ := host.Run(fmt.Sprintf("grep -rlF %q /etc/systemd /srv /var/backups /var/log /run/systemd/system 2>/dev/null || true", secret))
		if strings.TrimSpace(found) != "" {
			t.Errorf("the secret's value is in files on the host:\n%s", found)
		}
		if unitText := host.MustRun(t, "systemctl cat "+unit); !strings.Contains(unitText, "LoadCredential=HUBKIT_OIDC_AALBORG_SECRET:"+cred) || strings.Contains(unitText, secret) {
			t.Errorf("the unit does not load the credential by name only:\n%s", unitText)
		}
		if files := grepTree(t, work, []byte(secret)); len(files) > 0 {
			t.Errorf("the secret's value is in the Terraform working directory or state: %v", files)
		}
	})

	t.Run("login through the identity provider and a drop round trip", func(t *testing.T) {
		h := &hub{t: t, base: "https://" + domain, caRoots: x509.NewCertPool()}
		root := host.MustRun(t, "cat $(find "+dir+"/data -path '*authorities/local/root.crt' | head -n 1)")
		if !h.caRoots.AppendCertsFromPEM([]byte(root)) {
			t.Fatalf("no CA root in the hub's data directory")
		}
		client := func() *http.Client {
			jar, _ := cookiejar.New(nil)
			return &http.Client{Jar: jar, Timeout: 20 * time.Second,
				Transport: &http.Transport{
					DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
						// The hub at its domain, the identity provider on the host's loopback.
						if h, p, _ := net.SplitHostPort(a); h == domain {
							a = net.JoinHostPort(host.Addr, p)
						}
						a = host.DialLoopback(a)
						return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, a)
					},
					TLSClientConfig: &tls.Config{RootCAs: h.caRoots},
				},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		}
		login := func(user string) (*http.Client, string) {
			c := client()
			if resp, body := get(t, c, h.loginToCallback(t, c, 851, user, "/")); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login as %s: %s\n%s", user, resp.Status, body)
			}
			return c, h.csrf(t, c)
		}
		sender, csrf := login("konsulent")
		data := randomBytes(100_000)
		id := h.sendDrop(t, sender, csrf, "SAG-2026/42", "", []mpart{mfile("notat.pdf", data)}, "kollega@aalborg.dk")
		recipient, _ := login("kollega")
		_, page := get(t, recipient, h.base+"/drops/"+id)
		m := fileLinkRe.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("the recipient's drop page has no download link:\n%s", page)
		}
		if resp, body := get(t, recipient, h.base+m[1]); resp.StatusCode != 200 || sum([]byte(body)) != sum(data) {
			t.Fatalf("download: %s, SHA-256 %s, want %s", resp.Status, sum([]byte(body)), sum(data))
		}
	})

	t.Run("systemd restarts the hub after SIGKILL", func(t *testing.T) {
		host.MustRun(t, fmt.Sprintf("kill -KILL %d", pid))
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, _ := host.Run("systemctl show -p MainPID --value " + unit)
			n, _ := strconv.Atoi(strings.TrimSpace(out))
			if n != 0 && n != pid && deploytest.Readyz(addr, domain) == nil {
				t.Logf("restarted: main PID %d -> %d", pid, n)
				pid = n
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no restart within 30s:\n%s", host.MustRun(t, "systemctl status --no-pager "+unit+"; journalctl --no-pager -n 30 -u "+unit))
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("the nightly backup timer", func(t *testing.T) {
		timer, svc := deploy.BackupTimerName("nordjylland"), deploy.BackupUnitName("nordjylland")
		if got := strings.TrimSpace(host.MustRun(t, "systemctl is-enabled "+timer)); got != "enabled" {
			t.Errorf("%s is %s", timer, got)
		}
		if got := host.MustRun(t, "systemctl list-timers --all --no-legend --no-pager "+timer); !strings.Contains(got, timer) {
			t.Errorf("list-timers does not show %s:\n%s", timer, got)
		}
		exec := host.MustRun(t, "systemctl show -p ExecStart --value "+svc)
		if want := "argv[]=" + dir + "/current/hubctl backup --data " + dir + "/data --to " + backups + " --bundle " + dir + "/current --prune ;"; !strings.Contains(exec, want) {
			t.Errorf("ExecStart of %s = %s, want %s", svc, exec, want)
		}
		_, startErr := host.Run("systemctl start " + svc)
		journal := host.MustRun(t, "journalctl --no-pager -o cat -u "+svc)
		state := strings.TrimSpace(host.MustRun(t, "systemctl show -p Result --value "+svc))
		// hubctl ran: the journal holds its own output about the command.
		if !strings.Contains(journal, "backup") || !strings.Contains(journal, "hubkit backup of region nordjylland") {
			t.Errorf("the journal does not show hubctl backup running:\n%s", journal)
		}
		// The unit backs up with the operators' keys from the bundle and
		// prunes; the snapshot is complete and the status file says so.
		if startErr != nil || state != "success" {
			t.Errorf("the backup unit failed: start %v, result %s", startErr, state)
		}
		if !strings.Contains(journal, "snapshot ") || !strings.Contains(journal, "snapshot(s) kept") {
			t.Errorf("the journal does not show a snapshot taken and the destination pruned:\n%s", journal)
		}
		if out := host.MustRun(t, "ls "+backups+"/snapshots/*/manifest.json"); !strings.Contains(out, "manifest.json") {
			t.Errorf("no complete snapshot in %s: %s", backups, out)
		}
		if st := host.MustRun(t, "cat "+dir+"/data/backup-status.json"); !strings.Contains(st, `"ok": true`) {
			t.Errorf("backup-status.json after the nightly backup:\n%s", st)
		}
		t.Logf("backup run: result %s; journal:\n%s", state, journal)
	})

	t.Run("hubctl verify on the host finds nothing", func(t *testing.T) {
		out, err := host.Run(dir + "/current/hubctl verify --data " + dir + "/data --url https://" + domain +
			" --connect 127.0.0.1:443 --ca $(find " + dir + "/data -path '*authorities/local/root.crt' | head -n 1)" +
			" --unit " + unit + " --bundle " + dir + "/current --min-days 0")
		if err != nil || !strings.Contains(out, "no findings") {
			t.Errorf("hubctl verify on the systemd host: %v\n%s", err, out)
		}
		t.Logf("hubctl verify:\n%s", out)
	})

	t.Run("a non-root deploy user is told to log in as root", func(t *testing.T) {
		err := (&deploy.SSH{Host: host.Addr, Port: host.Port, User: deploytest.DeployUser, PrivateKeyFile: host.DeployKeyFile,
			HostKey: host.HostKey, Dir: dir}).Remove(context.Background(), false)
		if err == nil || !strings.Contains(err.Error(), "needs root") {
			t.Errorf("remove as %s: %v, want an error saying it needs root", deploytest.DeployUser, err)
		}
		host.MustRun(t, "systemctl is-active --quiet "+unit)
	})

	marker := "kept-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	host.MustRun(t, fmt.Sprintf("echo %s > %s/data/operator-note && chown hubkit-nordjylland: %s/data/operator-note", marker, dir, dir))
	if code, out := hubctl("destroy", "--region", "nordjylland", "--target", "ssh", "--auto-approve"); code == 1 {
		t.Fatalf("destroy: exit %d\n%s", code, tail(out, 40))
	}
	if err := deploytest.Readyz(addr, domain); err == nil {
		t.Error("the hub still answers after destroy")
	}
	left := host.MustRun(t, "ls -A /etc/systemd/system /etc/systemd/system/*.wants | grep hubkit || true; ls -A "+dir+"; test -e /etc/hubkit/credentials/nordjylland && echo credentials-left || true; systemctl list-units --all --no-legend 'hubkit*' | cat")
	if strings.TrimSpace(left) != "data" {
		t.Errorf("after destroy the host holds more than the data directory:\n%s", left)
	}
	if got := strings.TrimSpace(host.MustRun(t, "cat "+dir+"/data/operator-note")); got != marker {
		t.Errorf("destroy touched the data: %q", got)
	}
	if audit := host.MustRun(t, "ls "+dir+"/data"); !bytes.Contains([]byte(audit), []byte("audit")) {
		t.Errorf("the audit log is gone after destroy: %s", audit)
	}
}
