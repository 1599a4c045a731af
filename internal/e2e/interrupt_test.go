package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hubkit/hubkit/internal/devidp"
)

// regionIDs are the five regions in their fixed order.
var regionIDs = []string{"nordjylland", "midtjylland", "syddanmark", "hovedstaden", "sjaelland"}

// running is a hubctl started in the background whose combined output is
// collected line by line.
type running struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	seen chan string // receives the first line matching the watch list
	done chan struct{}
	err  error
}

// start starts hubctl in the project without waiting for it. The first
// output line containing any of watch is sent on r.seen.
func (p *project) start(watch []string, args ...string) *running {
	p.t.Helper()
	bin := buildHubctl(p.t)
	cmd := exec.Command(bin, append(args, "--config", p.cfg)...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), devidp.SecretEnv+"=e2e-dev-secret")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	r := &running{cmd: cmd, seen: make(chan string, 1), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start hubctl %v: %v", args, err)
	}
	go func() {
		s := bufio.NewScanner(pr)
		s.Buffer(make([]byte, 64*1024), 1024*1024)
		sent := false
		for s.Scan() {
			line := s.Text()
			r.mu.Lock()
			r.out.WriteString(line + "\n")
			r.mu.Unlock()
			if sent {
				continue
			}
			for _, w := range watch {
				if strings.Contains(line, w) {
					r.seen <- line
					sent = true
					break
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		r.err = cmd.Wait()
		pw.Close()
		close(r.done)
	}()
	p.t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// output is what the process has printed so far.
func (r *running) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// wait waits up to d for the process to exit and returns its exit code;
// on timeout it kills the process and fails the test.
func (r *running) wait(t *testing.T, d time.Duration, what string) int {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(d):
		r.cmd.Process.Kill()
		<-r.done
		t.Fatalf("%s did not exit within %s; killed it. Output:\n%s", what, d, tail(r.output(), 60))
	}
	// The output goroutine may still be copying the last lines.
	time.Sleep(50 * time.Millisecond)
	if ee, ok := r.err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("%s was killed by signal %s instead of exiting; output:\n%s", what, ws.Signal(), tail(r.output(), 60))
		}
		return ee.ExitCode()
	}
	if r.err != nil {
		t.Fatalf("%s: %v", what, r.err)
	}
	return 0
}

// processesIn lists the processes (pid: command line) whose working
// directory is dir or below it: Terraform and the provider plugins it
// starts run in a region's working directory below the state directory.
func processesIn(dir string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", pid, "cwd"))
		if err != nil || (cwd != dir && !strings.HasPrefix(cwd, dir+"/")) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
		out = append(out, fmt.Sprintf("%s: %s (in %s)", pid, strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " "), cwd))
	}
	return out
}

// TestInterruptApply presses Ctrl-C (SIGINT to hubctl) while Terraform is
// creating the hubs: hubctl must pass the interrupt on to every Terraform
// it runs, wait for them to stop gracefully and exit non-zero, leaving no
// state lock and no Terraform or provider process behind; the next apply
// then finishes the job and a plan finds nothing left to do.
func TestInterruptApply(t *testing.T) {
	var p *project
	stopLeftoverHubs(t, func() string {
		if p == nil {
			return ""
		}
		return p.dir
	})
	p = newProject(t)
	state := filepath.Join(p.dir, "state")

	r := p.start([]string{"Creating...", "Refreshing"}, "apply", "--all", "--auto-approve")
	select {
	case line := <-r.seen:
		t.Logf("interrupting at: %s", line)
	case <-r.done:
		t.Fatalf("hubctl apply exited before Terraform started creating anything:\n%s", tail(r.output(), 60))
	case <-time.After(5 * time.Minute):
		t.Fatalf("no Terraform progress (\"Creating...\") within 5 minutes:\n%s", tail(r.output(), 60))
	}
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("SIGINT to hubctl: %v", err)
	}
	t0 := time.Now()
	code := r.wait(t, 3*time.Minute, "interrupted hubctl apply")
	t.Logf("hubctl exited %d, %s after SIGINT", code, time.Since(t0).Round(time.Millisecond))
	out := r.output()
	t.Logf("what the interrupted apply said about it:\n%s", grepLines(out, "Interrupt", "interrupt", "cancel", "Stopping", "failed", "Error:"))
	if code != 1 {
		t.Fatalf("interrupted hubctl apply exited %d, want 1 (an interrupted apply is not a success):\n%s", code, tail(out, 60))
	}
	if code != 1 {
		t.Errorf("interrupted hubctl apply exited %d, want 1", code)
	}
	// Terraform saw the interrupt and shut down gracefully (it says so),
	// rather than being killed.
	if !strings.Contains(out, "Interrupt received") || !strings.Contains(out, "Stopping operation...") {
		t.Errorf("Terraform did not report a graceful shutdown (\"Interrupt received\", \"Stopping operation...\"):\n%s", tail(out, 60))
	}
	if !strings.Contains(out, "cancelled") {
		t.Errorf("hubctl does not report the regions as cancelled:\n%s", tail(out, 40))
	}

	for _, region := range regionIDs {
		lock := filepath.Join(state, region, ".terraform.tfstate.lock.info")
		if b, err := os.ReadFile(lock); err == nil {
			t.Errorf("%s: the state lock is left behind after Ctrl-C: %s\n%s", region, lock, b)
		} else if !os.IsNotExist(err) {
			t.Errorf("%s: %v", region, err)
		}
	}
	// Nothing may keep running in the working directories: a Terraform or
	// provider left behind would hold (or later take) the lock.
	if procs := processesIn(state); len(procs) > 0 {
		t.Errorf("processes left running in the state directory after hubctl exited:\n%s", strings.Join(procs, "\n"))
	}
	if t.Failed() {
		t.Logf("output of the interrupted apply:\n%s", tail(out, 80))
	}

	code, stdout, stderr := p.hubctl("apply", "--all", "--auto-approve")
	if code != 2 && code != 0 {
		if strings.Contains(stdout, "deleting site folder because key is empty") && strings.Contains(stdout, "failed to create temp file") {
			t.Errorf("known cause: the hub's Caddy (certmagic) cleans its certificate storage at start while it obtains " +
				"its first certificate, deletes the site folder it is writing to and retries only after 60s, past the health check; " +
				"an interrupted first start leaves the storage such that the cleaning runs at the next start")
		}
		t.Fatalf("apply after the interrupt: exit %d, want 2 or 0\n%s\n%s", code, stdout, tail(stderr, 60))
	}
	if strings.Contains(stderr, "Error acquiring the state lock") {
		t.Errorf("apply after the interrupt had to wait for a lock:\n%s", tail(stderr, 40))
	}
	code, stdout, stderr = p.hubctl("plan", "--all")
	if code != 0 {
		t.Fatalf("plan after the interrupt and re-apply: exit %d, want 0\n%s\n%s", code, stdout, tail(stderr, 60))
	}
	code, stdout, _ = p.hubctl("status", "--all")
	if code != 0 || strings.Count(stdout, " ready ") != 5 {
		t.Errorf("status after recovery: exit %d, want all five ready\n%s", code, stdout)
	}
}

// hubsUnder lists the hub processes (hubctl serve) deployed below dir.
func hubsUnder(dir string) map[int]string {
	out := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) > 1 && strings.HasPrefix(args[0], dir+"/") && args[1] == "serve" {
			out[pid] = strings.Join(args, " ")
		}
	}
	return out
}

// stopLeftoverHubs registers a clean-up that runs after the ones
// registered later (such as newProject's destroy): hubs still running
// below the directory dir() names then are a failure, and are stopped so
// that they do not outlive the test.
func stopLeftoverHubs(tb testing.TB, dir func() string) {
	tb.Cleanup(func() {
		d := dir()
		if d == "" {
			return
		}
		left := hubsUnder(d)
		if len(left) == 0 {
			return
		}
		var list []string
		for pid, cmd := range left {
			list = append(list, fmt.Sprintf("%d: %s", pid, cmd))
			syscall.Kill(pid, syscall.SIGTERM)
		}
		tb.Errorf("hubs still running after the clean-up's destroy (stopped now):\n%s", strings.Join(list, "\n"))
		deadline := time.Now().Add(10 * time.Second)
		for len(hubsUnder(d)) > 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		for pid := range hubsUnder(d) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}
