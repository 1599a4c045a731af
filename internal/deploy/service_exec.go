package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// execService is the built-in supervisor of local targets on machines
// without start-stop-daemon: it does what start-stop-daemon would, in Go.
// The hub runs in a session of its own (setsid), so it outlives the
// process that started it (Terraform stops its provider after an apply)
// and gets none of its terminal's signals.
type execService struct {
	fileLog
}

func newExecService(h host, dir string) *execService {
	return &execService{fileLog: fileLog{h: h, dir: dir}}
}

func (s *execService) String() string { return "built-in supervisor" }

func (s *execService) install(ctx context.Context) error {
	_, err := s.h.sh(ctx, script("umask 022", ensureDataScript(s.dir, "")), nil)
	return err
}

// pid returns the pid in hub.pid when that process is alive and is a
// hubctl, 0 otherwise.
func (s *execService) pid() int {
	b, err := os.ReadFile(filepath.Join(s.dir, pidFile))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	if !isHubProcess(pid) {
		return 0
	}
	return pid
}

// isHubProcess reports whether pid is a live (not zombie) process named
// hubctl, as start-stop-daemon --name hubctl checks.
func isHubProcess(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...; comm may hold spaces and parentheses.
	lp, rp := strings.IndexByte(string(stat), '('), strings.LastIndexByte(string(stat), ')')
	if lp < 0 || rp < lp || rp+2 >= len(stat) {
		return false
	}
	return string(stat[lp+1:rp]) == "hubctl" && stat[rp+2] != 'Z'
}

func (s *execService) running(context.Context) (bool, error) { return s.pid() != 0, nil }

func (s *execService) stop(ctx context.Context) error {
	pid := s.pid()
	if pid != 0 {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		if !waitGone(ctx, pid, 20*time.Second) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			if !waitGone(ctx, pid, 5*time.Second) {
				return fmt.Errorf("the hub (pid %d) did not exit after SIGKILL", pid)
			}
		}
	}
	if err := os.Remove(filepath.Join(s.dir, pidFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func waitGone(ctx context.Context, pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !isHubProcess(pid) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return !isHubProcess(pid)
}

func (s *execService) restart(ctx context.Context) error {
	if err := s.stop(ctx); err != nil {
		return err
	}
	if _, err := s.h.sh(ctx, rotateLogScript(s.dir), nil); err != nil {
		return err
	}
	envData, err := os.ReadFile(filepath.Join(s.dir, EnvFile))
	if err != nil {
		return err
	}
	env, settings, err := parseEnv(envData)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(s.dir, EnvFile), err)
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, logFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := append(serveArgs(s.dir), "--listen", settings.Listen)
	// Not CommandContext: the hub must outlive this call.
	cmd := exec.Command(filepath.Join(s.dir, "current", "hubctl"), args...)
	cmd.Dir = filepath.Join(s.dir, "data")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	// Reap the hub when it exits while we still run, so it does not linger
	// as a zombie that looks alive.
	go func() { _ = cmd.Wait() }()
	pidPath := filepath.Join(s.dir, pidFile)
	tmp := pidPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	if err := os.Rename(tmp, pidPath); err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	return nil
}

func (s *execService) uninstall(ctx context.Context, _ bool) error { return s.stop(ctx) }
