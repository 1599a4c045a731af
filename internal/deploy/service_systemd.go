package deploy

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"path"
	"strings"
	"text/template"
)

//go:embed systemd.service.tmpl
var unitTemplate string

var unitTmpl = template.Must(template.New("unit").Parse(unitTemplate))

// UnitName is the systemd unit of a region's hub.
func UnitName(region string) string { return "hubkit-" + region + ".service" }

// ServiceUser is the dedicated system user a region's hub runs as under
// systemd. One user per region keeps two hubs on one host apart.
func ServiceUser(region string) string { return "hubkit-" + region }

// SystemdUnit renders the hardened unit of a region's hub installed in dir.
func SystemdUnit(region, dir string) ([]byte, error) {
	if !validRegionID(region) {
		return nil, fmt.Errorf("region %q is not a region id", region)
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	if strings.ContainsAny(dir, " %") {
		return nil, fmt.Errorf("target directory %q holds a space or %%, which a systemd unit cannot take unescaped", dir)
	}
	// The unit hides these from the hub (ProtectHome=, PrivateTmp=).
	for _, hidden := range []string{"/home", "/root", "/run/user", "/tmp", "/var/tmp"} {
		if strings.HasPrefix(dir+"/", hidden+"/") {
			return nil, fmt.Errorf("target directory %q is below %s, which the hardened unit hides from the hub: use e.g. /srv/hubkit/%s", dir, hidden, region)
		}
	}
	var b bytes.Buffer
	err := unitTmpl.Execute(&b, struct{ Region, Dir, User string }{region, dir, ServiceUser(region)})
	return b.Bytes(), err
}

// systemdService runs the hub as a hardened systemd unit under a
// dedicated user. Installing it needs root on the target.
type systemdService struct {
	h      host
	dir    string
	region string
}

func (s *systemdService) String() string { return "systemd" }

func (s *systemdService) unit() string     { return UnitName(s.region) }
func (s *systemdService) unitPath() string { return path.Join("/etc/systemd/system", s.unit()) }

func (s *systemdService) install(ctx context.Context) error {
	unit, err := SystemdUnit(s.region, s.dir)
	if err != nil {
		return err
	}
	user := ServiceUser(s.region)
	tmp := path.Join("/etc/systemd/system", "."+s.unit()+".tmp")
	_, err = s.h.sh(ctx, script(
		"umask 022",
		fmt.Sprintf("id -u %s >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir %s --shell /usr/sbin/nologin %s",
			quote(user), quote(path.Join(s.dir, "data")), quote(user)),
		ensureDataScript(s.dir, user),
		fmt.Sprintf("cat > %s", quote(tmp)),
		fmt.Sprintf("if cmp -s %s %s; then rm -f %s; else mv -f %s %s; systemctl daemon-reload; fi",
			quote(tmp), quote(s.unitPath()), quote(tmp), quote(tmp), quote(s.unitPath())),
		fmt.Sprintf("systemctl enable --quiet %s", quote(s.unit())),
	), bytes.NewReader(unit))
	if err != nil {
		return fmt.Errorf("install the systemd unit %s: %w", s.unitPath(), err)
	}
	return nil
}

func (s *systemdService) restart(ctx context.Context) error {
	if _, err := s.h.sh(ctx, "systemctl restart "+quote(s.unit()), nil); err != nil {
		return fmt.Errorf("systemctl restart %s: %w", s.unit(), err)
	}
	return nil
}

func (s *systemdService) stop(ctx context.Context) error {
	if s.region == "" {
		return nil // no unit serves this directory
	}
	if _, err := s.h.sh(ctx, "systemctl stop "+quote(s.unit())+" 2>/dev/null || true", nil); err != nil {
		return fmt.Errorf("systemctl stop %s: %w", s.unit(), err)
	}
	return nil
}

func (s *systemdService) running(ctx context.Context) (bool, error) {
	if s.region == "" {
		return false, nil
	}
	out, err := s.h.sh(ctx, fmt.Sprintf("if systemctl is-active --quiet %s; then echo yes; else echo no; fi", quote(s.unit())), nil)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(out)) == "yes", nil
}

// logMark is the time on the target, in seconds since the epoch.
func (s *systemdService) logMark(ctx context.Context) string {
	out, err := s.h.sh(ctx, "date +%s", nil)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func (s *systemdService) logSince(ctx context.Context, mark string, n int) string {
	since := ""
	if mark != "" && strings.Trim(mark, "0123456789") == "" {
		since = " --since @" + mark
	}
	out, _ := s.h.sh(ctx, fmt.Sprintf("journalctl --no-pager --quiet -o cat -n %d -u %s%s 2>/dev/null || true", n, quote(s.unit()), since), nil)
	return string(out)
}

func (s *systemdService) uninstall(ctx context.Context, purge bool) error {
	if s.region == "" {
		return nil
	}
	lines := []string{
		fmt.Sprintf("systemctl disable --now --quiet %s 2>/dev/null || true", quote(s.unit())),
		fmt.Sprintf("rm -f %s", quote(s.unitPath())),
		"systemctl daemon-reload",
	}
	if purge {
		lines = append(lines, fmt.Sprintf("if id -u %s >/dev/null 2>&1; then userdel %s; fi", quote(ServiceUser(s.region)), quote(ServiceUser(s.region))))
	}
	if _, err := s.h.sh(ctx, script(lines...), nil); err != nil {
		return fmt.Errorf("remove the systemd unit %s: %w", s.unitPath(), err)
	}
	return nil
}
