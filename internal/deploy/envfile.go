package deploy

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"
)

// EnvFile is the name of the service's environment file in a target
// directory. It is written with mode 0600 because it may hold secrets
// (client secrets passed through from the operator's environment): the
// service needs them on the host to start, also after a reboot, but they
// never go into bundles or Terraform state. Under systemd hub.env holds
// no secrets: they are systemd credentials (see CredentialDir).
//
// Its lines are NAME='value'. That is read the same way by a POSIX shell
// (`set -a; . ./hub.env`, for start-stop-daemon) and by systemd's
// EnvironmentFile=, as long as no value holds a single quote or a line
// break, which checkEnv refuses.
const EnvFile = "hub.env"

// listenVar carries the listen address from hub.env into the service
// command (--listen), so that a rollback restores it with the environment.
const listenVar = "HUBCTL_LISTEN"

// servicePath is the PATH of the hub process.
const servicePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// reservedEnv are set by deploy itself.
var reservedEnv = map[string]bool{
	"PATH": true, "HOME": true, "XDG_DATA_HOME": true, "XDG_CONFIG_HOME": true, listenVar: true,
}

// serviceSettings are the settings of the running service, kept in hub.env.
type serviceSettings struct {
	Listen string
	Env    map[string]string
}

// renderEnv writes hub.env. HOME and Caddy's storage (XDG_DATA_HOME,
// where its local CA and certificates live) point into the data
// directory, the only place the hardened service may write.
func renderEnv(dir string, s serviceSettings) []byte {
	data := path.Join(dir, "data")
	var b bytes.Buffer
	b.WriteString("# hubkit hub service environment, written by hubctl deploy. Mode 0600: it may hold secrets.\n")
	line := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, quote(v)) }
	line("PATH", servicePath)
	line("HOME", data)
	line("XDG_DATA_HOME", path.Join(data, "caddy"))
	line("XDG_CONFIG_HOME", path.Join(data, "caddy"))
	line(listenVar, s.Listen)
	names := make([]string, 0, len(s.Env))
	for k := range s.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		line(k, s.Env[k])
	}
	return b.Bytes()
}

// parseEnv reads hub.env back: the complete environment, and the
// settings (listen and the extra variables).
func parseEnv(b []byte) (all []string, s serviceSettings, err error) {
	s.Env = map[string]string{}
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok || !validEnvName(k) {
			return nil, s, fmt.Errorf("%s line %d: want NAME='value'", EnvFile, i+1)
		}
		if len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' || strings.Contains(v[1:len(v)-1], "'") {
			return nil, s, fmt.Errorf("%s line %d: the value of %s is not in single quotes", EnvFile, i+1, k)
		}
		v = v[1 : len(v)-1]
		all = append(all, k+"="+v)
		switch {
		case k == listenVar:
			s.Listen = v
		case !reservedEnv[k]:
			s.Env[k] = v
		}
	}
	return all, s, nil
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// checkEnv refuses environment that hub.env cannot hold or that would
// override what deploy sets.
func checkEnv(env map[string]string) error {
	var problems []string
	for k, v := range env {
		switch {
		case !validEnvName(k):
			problems = append(problems, fmt.Sprintf("environment variable name %q is not valid (letters, digits, _; not starting with a digit)", k))
		case reservedEnv[k]:
			problems = append(problems, fmt.Sprintf("environment variable %s is set by deploy itself", k))
		case strings.ContainsAny(v, "'\n\r\x00"):
			problems = append(problems, fmt.Sprintf("the value of environment variable %s holds a single quote or a line break, which %s cannot hold", k, EnvFile))
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// envNames lists the names of the extra variables, sorted.
func envNames(env map[string]string) []string {
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
