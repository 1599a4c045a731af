package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// When Terraform is killed (SIGKILL, so it cannot tell its plugins to
// stop) during a plan, hubctl's provider processes notice that their
// parent is gone and exit within seconds instead of lingering.
func TestKilledTerraformLeavesNoProvider(t *testing.T) {
	p := newProject(t)
	state := filepath.Join(p.dir, "state")
	r := p.start(nil, "plan", "--all")

	kind := func(proc string) (pid int, provider, terraform bool) {
		pid, _ = strconv.Atoi(proc[:strings.Index(proc, ":")])
		cmd := proc[strings.Index(proc, ":")+2:]
		provider = strings.Contains(cmd, "terraform-provider-hubkit")
		terraform = !provider && strings.Contains(strings.Fields(cmd)[0], "terraform")
		return
	}
	var providers, terraforms []int
	deadline := time.Now().Add(5 * time.Minute)
	for len(providers) == 0 || len(terraforms) == 0 {
		select {
		case <-r.done:
			t.Fatalf("hubctl plan ended before its providers could be seen:\n%s", tail(r.output(), 40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no provider process within 5 minutes:\n%s", tail(r.output(), 40))
		}
		providers, terraforms = nil, nil
		for _, proc := range processesIn(state) {
			pid, isProvider, isTerraform := kind(proc)
			switch {
			case isProvider:
				providers = append(providers, pid)
			case isTerraform:
				terraforms = append(terraforms, pid)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, pid := range terraforms {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	t.Logf("killed %d terraform process(es) while %d provider process(es) ran", len(terraforms), len(providers))
	r.wait(t, 2*time.Minute, "hubctl plan after its terraform was killed")

	deadline = time.Now().Add(10 * time.Second)
	for {
		var left []string
		for _, pid := range providers {
			if syscall.Kill(pid, 0) == nil && !zombie(pid) {
				left = append(left, strconv.Itoa(pid))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("provider processes %v still run 10 s after their terraform was killed", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// zombie reports whether pid has exited but not been reaped.
func zombie(pid int) bool {
	b, err := readFileString("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	f := strings.Fields(b[strings.LastIndex(b, ")")+1:])
	return len(f) > 0 && f[0] == "Z"
}

func readFileString(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
