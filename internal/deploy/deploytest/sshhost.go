package deploytest

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/hubkit/hubkit/internal/testenv"
)

// The test host's network: a veth pair between this machine (HostSideAddr)
// and a network namespace (HostAddr). These are the only non-loopback
// addresses the tests send anything to.
const (
	HostSideAddr = "10.203.0.1"
	HostAddr     = "10.203.0.2"
	prefixLen    = "/24"
)

// SSHHost is a test host: a network namespace with its own address, in
// which a real OpenSSH sshd runs. Processes started over SSH (the hub)
// run inside the namespace and listen on HostAddr.
type SSHHost struct {
	NS   string // network namespace name
	Addr string // HostAddr
	Port int    // sshd's port (22)
	User string // root
	// KeyFile is the private key of User, authorised by sshd.
	KeyFile string
	// HostKey is sshd's host public key (authorized_keys format), to pin.
	HostKey string
	// OtherHostKey is a valid ed25519 key that is not sshd's: pinning it
	// must make connections fail.
	OtherHostKey string

	dir string
}

// StartSSHHost creates the network namespace and starts sshd in it; both
// go away when the test ends. Only one test host exists at a time on the
// machine (the addresses are fixed): a file lock serialises test
// processes. It needs root, ip (iproute2) and sshd (openssh-server); a
// missing package is installed with apt-get, as .ci/install-deps does.
func StartSSHHost(t testing.TB) *SSHHost {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("deploytest: the SSH test host needs root (ip netns add, sshd); run the tests as root")
	}
	requirePackages(t)
	unlock := lockNetwork(t)
	t.Cleanup(unlock)

	h := &SSHHost{Addr: HostAddr, Port: 22, User: "root", dir: t.TempDir()}
	h.NS = startNetwork(t)
	hostKey := h.writeKey(t, "ssh_host_ed25519_key")
	userKey := h.writeKey(t, "id_ed25519")
	other := h.writeKey(t, "other_host_key")
	h.HostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostKey)))
	h.OtherHostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other)))
	h.KeyFile = filepath.Join(h.dir, "id_ed25519")
	if err := os.WriteFile(filepath.Join(h.dir, "authorized_keys"), ssh.MarshalAuthorizedKey(userKey), 0o600); err != nil {
		t.Fatal(err)
	}
	h.startSSHD(t)
	return h
}

// startNetwork creates the test network: a network namespace holding
// HostAddr, joined by a veth pair to HostSideAddr on this machine. It is
// removed when the test ends, after every process left in it is killed.
// The caller holds lockNetwork.
func startNetwork(t testing.TB) string {
	t.Helper()
	id := strconv.Itoa(os.Getpid())
	ns := "hubkit-e2e-" + id
	vethHost, vethNS := "hk"+id+"h", "hk"+id+"n"
	removeStaleLinks(t)
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() {
		killNamespaceProcesses(t, ns)
		_ = exec.Command("ip", "link", "del", vethHost).Run()
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("deploytest: ip netns del %s: %v %s", ns, err, out)
		}
	})
	run(t, "ip", "link", "add", vethHost, "type", "veth", "peer", "name", vethNS)
	run(t, "ip", "link", "set", vethNS, "netns", ns)
	run(t, "ip", "addr", "add", HostSideAddr+prefixLen, "dev", vethHost)
	run(t, "ip", "link", "set", vethHost, "up")
	run(t, "ip", "-n", ns, "addr", "add", HostAddr+prefixLen, "dev", vethNS)
	run(t, "ip", "-n", ns, "link", "set", vethNS, "up")
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}

// sshdConfig allows exactly key logins of root, on the namespace's address.
const sshdConfig = `ListenAddress %[1]s:22
HostKey %[2]s/ssh_host_ed25519_key
PidFile %[2]s/sshd.pid
AuthorizedKeysFile %[2]s/authorized_keys
PermitRootLogin prohibit-password
AllowUsers root
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding local
X11Forwarding no
PrintMotd no
PrintLastLog no
MaxSessions 30
LogLevel VERBOSE
`

func (h *SSHHost) startSSHD(t testing.TB) {
	t.Helper()
	cfg := filepath.Join(h.dir, "sshd_config")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, sshdConfig, h.Addr, h.dir), 0o600); err != nil {
		t.Fatal(err)
	}
	// sshd's privilege separation directory, normally made by systemd-tmpfiles.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", h.NS, "/usr/sbin/sshd", "-D", "-e", "-f", cfg)
	logw := &lineLogger{t: t, prefix: "sshd: "}
	cmd.Stdout, cmd.Stderr = logw, logw
	if err := cmd.Start(); err != nil {
		t.Fatalf("deploytest: start sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logw.close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(h.Addr, "22"), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("deploytest: sshd exited at start (see its log above)")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("deploytest: sshd does not accept connections on %s:22: %v", h.Addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeKey writes a new ed25519 private key into the host's directory and
// returns its public key.
func (h *SSHHost) writeKey(t testing.TB, name string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// Exec runs a command inside the namespace and returns its combined output.
func (h *SSHHost) Exec(name string, args ...string) ([]byte, error) {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...).CombinedOutput()
}

// killNamespaceProcesses ends what the tests started inside the namespace
// and left running (a hub whose target a failed test did not remove).
func killNamespaceProcesses(t testing.TB, ns string) {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			t.Logf("deploytest: killing pid %d left in namespace %s", pid, ns)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// StartOIDCProvider runs the test OpenID Provider (testdata/oidcprovider,
// see testenv.StartOIDCProvider) inside the namespace, on its loopback,
// and returns its issuer: a hub on the test host reaches it, nothing else does.
func (h *SSHHost) StartOIDCProvider(t testing.TB, cfg testenv.OIDCConfig) string {
	t.Helper()
	return startOIDCProviderIn(t, h.NS, cfg)
}

// startOIDCProviderIn runs the test OpenID Provider inside network
// namespace ns and returns its issuer.
func startOIDCProviderIn(t testing.TB, ns string, cfg testenv.OIDCConfig) string {
	t.Helper()
	node := testenv.RequireNode(t)
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "oidcprovider.json")
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, node, "server.mjs", cfgPath)
	cmd.Dir = filepath.Join(testenv.RepoRoot(t), testenv.OIDCProviderDir)
	cmd.Env = append(os.Environ(), "OIDC_TEST_EXIT_ON_STDIN_EOF=1", "NODE_ENV=test")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logw := &lineLogger{t: t, prefix: "oidcprovider: "}
	cmd.Stderr = logw
	if err := cmd.Start(); err != nil {
		t.Fatalf("deploytest: start the OpenID Provider: %v", err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if issuer, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- issuer
			}
		}
		close(ready)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		stdin.Close()
		_ = cmd.Wait()
		logw.close()
	})
	select {
	case issuer, ok := <-ready:
		if !ok {
			t.Fatalf("deploytest: the OpenID Provider exited before it was ready (see its log above)")
		}
		return issuer
	case <-time.After(30 * time.Second):
		t.Fatalf("deploytest: the OpenID Provider did not start within 30s")
	}
	return ""
}

// lockNetwork takes the machine-wide lock of the test network.
func lockNetwork(t testing.TB) func() {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "hubkit-deploytest-netns.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// removeStaleLinks deletes veth links of earlier test processes that died
// before their cleanup (their address would clash with ours). Only our own
// naming pattern is touched: hk<pid>h holding HostSideAddr.
func removeStaleLinks(t testing.TB) {
	out, err := exec.Command("ip", "-o", "addr", "show", "to", HostSideAddr+"/32").Output()
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(f[1], "@")
		if strings.HasPrefix(name, "hk") && strings.HasSuffix(name, "h") {
			t.Logf("deploytest: removing stale test link %s", name)
			_ = exec.Command("ip", "link", "del", name).Run()
			pid := strings.TrimSuffix(strings.TrimPrefix(name, "hk"), "h")
			_ = exec.Command("ip", "netns", "del", "hubkit-e2e-"+pid).Run()
		}
	}
}

var installMu sync.Mutex

// requirePackages installs iproute2 and openssh-server when missing.
func requirePackages(t testing.TB) {
	t.Helper()
	requireTools(t, map[string]string{"ip": "iproute2", "/usr/sbin/sshd": "openssh-server"})
}

// requireTools installs the Debian package of every missing tool (a
// name on PATH or an absolute path => package) with apt-get, as
// .ci/install-deps does, and fails the test naming them when it cannot.
func requireTools(t testing.TB, tools map[string]string) {
	t.Helper()
	installMu.Lock()
	defer installMu.Unlock()
	var missing []string
	for tool, pkg := range tools {
		if _, err := exec.LookPath(tool); err != nil && !slices.Contains(missing, pkg) {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return
	}
	sort.Strings(missing)
	t.Logf("deploytest: installing %s with apt-get", strings.Join(missing, " "))
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	upd := exec.Command("apt-get", "-q", "update")
	upd.Env = env
	err := error(nil)
	if out, e := upd.CombinedOutput(); e != nil {
		err = fmt.Errorf("apt-get update: %v\n%s", e, out)
	} else {
		inst := exec.Command("apt-get", append([]string{"-q", "install", "-y", "--no-install-recommends"}, missing...)...)
		inst.Env = env
		if out, e := inst.CombinedOutput(); e != nil {
			err = fmt.Errorf("apt-get install: %v\n%s", e, out)
		}
	}
	if err != nil {
		t.Fatalf("deploytest: %s missing and could not be installed (run .ci/install-deps as root): %v", strings.Join(missing, " "), err)
	}
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("deploytest: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// lineLogger writes a process's output to the test log, line by line,
// and stops when the test is over.
type lineLogger struct {
	mu     sync.Mutex
	t      testing.TB
	prefix string
	buf    bytes.Buffer
	done   bool
}

var _ io.Writer = (*lineLogger)(nil)

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return len(p), nil
	}
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line)
			break
		}
		l.t.Log(l.prefix + strings.TrimRight(line, "\n"))
	}
	return len(p), nil
}

func (l *lineLogger) close() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}
