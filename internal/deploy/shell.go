package deploy

import (
	"context"
	"fmt"
	"io"
	"net"
	"path"
	"strconv"
	"strings"
)

// host runs shell scripts on a target machine: this one, or one reached
// over SSH. Everything deploy does on a target goes through it.
type host interface {
	// sh runs script with /bin/sh on the target, feeding it stdin (may be
	// nil), and returns its standard output. A failing script's error
	// carries its standard error.
	sh(ctx context.Context, script string, stdin io.Reader) ([]byte, error)
	// probeDialer returns how the health check reaches the hub listening
	// on listen (host:port), and the address to dial.
	probeDialer(listen string) (dial dialFunc, addr string)
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// quote quotes s for a POSIX shell: single quotes, with embedded single
// quotes closed, escaped with a backslash and reopened.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// script joins lines into a script that stops at the first failing command.
func script(lines ...string) string {
	return "set -eu\n" + strings.Join(lines, "\n") + "\n"
}

// checkDir makes sure a target directory is absolute, clean and not a
// system directory, before any script removes things below it.
func checkDir(dir string) error {
	switch {
	case dir == "":
		return fmt.Errorf("no target directory given")
	case !path.IsAbs(dir):
		return fmt.Errorf("target directory %q is not an absolute path", dir)
	case path.Clean(dir) != dir:
		return fmt.Errorf("target directory %q is not clean (write it as %q)", dir, path.Clean(dir))
	case strings.ContainsAny(dir, "\x00\n\r'\"\\$`"):
		return fmt.Errorf("target directory %q contains quotes, backslashes, $, ` or control characters", dir)
	}
	for _, sys := range []string{"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib"} {
		if dir == sys {
			return fmt.Errorf("target directory %q is a system directory: use a directory of its own, e.g. %s/hubkit/<region>", dir, strings.TrimSuffix(sys, "/"))
		}
	}
	return nil
}

// splitListen checks a listen address and returns its host and port.
func splitListen(listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q is not host:port (e.g. 127.0.0.1:8443 or :443)", listen)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("listen address %q: port %q is not a number from 1 to 65535", listen, p)
	}
	if strings.ContainsAny(host, "\x00\n\r'\"\\$` ") {
		return "", 0, fmt.Errorf("listen address %q: bad host", listen)
	}
	return host, port, nil
}

// firstLine returns the first non-empty line of s, trimmed.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}
