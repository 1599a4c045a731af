package deploy

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"text/template"
)

//go:embed systemd.service.tmpl
var unitTemplate string

var unitTmpl = template.Must(template.New("units").Parse(unitTemplate))

// UnitName is the systemd unit of a region's hub.
func UnitName(region string) string { return "hubkit-" + region + ".service" }

// BackupUnitName is the oneshot unit of a region's nightly backup;
// BackupTimerName the timer that starts it.
func BackupUnitName(region string) string  { return "hubkit-backup-" + region + ".service" }
func BackupTimerName(region string) string { return "hubkit-backup-" + region + ".timer" }

// ServiceUser is the dedicated system user a region's hub runs as under
// systemd. One user per region keeps two hubs on one host apart.
func ServiceUser(region string) string { return "hubkit-" + region }

// CredentialDir is where a region's secrets live on a systemd host: one
// file per secret, named like the variable, owned by root with mode 0600
// in a 0700 directory. The unit loads them as systemd credentials
// (LoadCredential=), so the hub reads them in $CREDENTIALS_DIRECTORY and
// they are never in its environment, the bundle or the Terraform state.
func CredentialDir(region string) string { return path.Join("/etc/hubkit/credentials", region) }

// unitData is what the templates of systemd.service.tmpl are rendered from.
type unitData struct {
	Region, Dir, User, CredDir string
	Credentials                []string
	BackupDest, BackupPath     string
}

func newUnitData(region, dir string) (unitData, error) {
	if !validRegionID(region) {
		return unitData{}, fmt.Errorf("region %q is not a region id", region)
	}
	if err := checkDir(dir); err != nil {
		return unitData{}, err
	}
	if strings.ContainsAny(dir, " %") {
		return unitData{}, fmt.Errorf("target directory %q holds a space or %%, which a systemd unit cannot take unescaped", dir)
	}
	if err := checkVisible(dir, "target directory"); err != nil {
		return unitData{}, fmt.Errorf("%w: use e.g. /srv/hubkit/%s", err, region)
	}
	return unitData{Region: region, Dir: dir, User: ServiceUser(region), CredDir: CredentialDir(region)}, nil
}

// checkVisible refuses a path the hardened units hide (ProtectHome=, PrivateTmp=).
func checkVisible(p, what string) error {
	for _, hidden := range []string{"/home", "/root", "/run/user", "/tmp", "/var/tmp"} {
		if strings.HasPrefix(p+"/", hidden+"/") {
			return fmt.Errorf("%s %q is below %s, which the hardened unit hides from the hub", what, p, hidden)
		}
	}
	return nil
}

func (d unitData) render(name string) ([]byte, error) {
	var b bytes.Buffer
	err := unitTmpl.ExecuteTemplate(&b, name, d)
	return b.Bytes(), err
}

// SystemdUnit renders the hardened unit of a region's hub installed in
// dir, loading the named secrets as systemd credentials from CredentialDir.
func SystemdUnit(region, dir string, credentials ...string) ([]byte, error) {
	d, err := newUnitData(region, dir)
	if err != nil {
		return nil, err
	}
	for _, c := range credentials {
		if !validEnvName(c) {
			return nil, fmt.Errorf("credential name %q is not a variable name (letters, digits, _)", c)
		}
	}
	d.Credentials = append([]string(nil), credentials...)
	sort.Strings(d.Credentials)
	return d.render("hub")
}

// urlDest is a backup destination that is a URL rather than a directory.
var urlDest = regexp.MustCompile(`^[a-z][a-z0-9+.-]*://[A-Za-z0-9._~:/?#@!&()*+,;=\[\]-]+$`)

// BackupUnits renders the nightly backup of a region's hub: a oneshot
// service running `hubctl backup --data <dir>/data --to <dest>` with the
// hub's sandbox, and a daily timer. dest is an absolute directory on the
// host (made writable for the backup) or a URL.
func BackupUnits(region, dir, dest string) (service, timer []byte, err error) {
	d, err := newUnitData(region, dir)
	if err != nil {
		return nil, nil, err
	}
	if err := checkBackupDest(dest); err != nil {
		return nil, nil, err
	}
	d.BackupDest = dest
	if path.IsAbs(dest) {
		d.BackupPath = dest
	}
	if service, err = d.render("backup"); err != nil {
		return nil, nil, err
	}
	timer, err = d.render("timer")
	return service, timer, err
}

// checkBackupDest accepts an absolute directory the unit can write, or a URL.
func checkBackupDest(dest string) error {
	switch {
	case dest == "":
		return fmt.Errorf("no backup destination given")
	case path.IsAbs(dest):
		if err := checkDir(dest); err != nil {
			return fmt.Errorf("backup_dest: %w", err)
		}
		if strings.ContainsAny(dest, " %") {
			return fmt.Errorf("backup_dest %q holds a space or %%, which a systemd unit cannot take unescaped", dest)
		}
		if err := checkVisible(dest, "backup_dest"); err != nil {
			return err
		}
		return nil
	case urlDest.MatchString(dest):
		return nil
	}
	return fmt.Errorf("backup_dest %q is neither an absolute directory (e.g. /var/backups/hubkit/nordjylland) nor a URL without spaces, quotes, %% or $", dest)
}

// systemdService runs the hub as a hardened systemd unit under a
// dedicated user. Installing it needs root on the target.
type systemdService struct {
	h          host
	dir        string
	region     string
	backupDest string
}

func (s *systemdService) String() string { return "systemd" }

func (s *systemdService) unit() string     { return UnitName(s.region) }
func (s *systemdService) unitPath() string { return path.Join("/etc/systemd/system", s.unit()) }

func (s *systemdService) install(ctx context.Context) error {
	user := ServiceUser(s.region)
	lines := []string{
		"umask 022",
		fmt.Sprintf("id -u %s >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir %s --shell /usr/sbin/nologin %s",
			quote(user), quote(path.Join(s.dir, "data")), quote(user)),
		ensureDataScript(s.dir, user),
	}
	if s.backupDest != "" && path.IsAbs(s.backupDest) {
		// Like the data directory, an existing backup directory is left alone.
		d := quote(s.backupDest)
		lines = append(lines, fmt.Sprintf("[ -d %s ] || install -d -m 0700 -o %s -g %s %s", d, quote(user), quote(user), d))
	}
	if _, err := s.h.sh(ctx, script(lines...), nil); err != nil {
		return fmt.Errorf("prepare the systemd unit %s: %w", s.unitPath(), err)
	}
	names, err := s.credentialNames(ctx)
	if err != nil {
		return err
	}
	if err := s.writeUnit(ctx, names); err != nil {
		return err
	}
	return s.installBackup(ctx)
}

// putUnit installs a unit file when it changed, then reloads systemd.
func (s *systemdService) putUnit(ctx context.Context, name string, content []byte) error {
	file := path.Join("/etc/systemd/system", name)
	tmp := path.Join("/etc/systemd/system", "."+name+".tmp")
	_, err := s.h.sh(ctx, script(
		"umask 022",
		fmt.Sprintf("cat > %s", quote(tmp)),
		fmt.Sprintf("if cmp -s %s %s; then rm -f %s; else mv -f %s %s; systemctl daemon-reload; fi",
			quote(tmp), quote(file), quote(tmp), quote(tmp), quote(file)),
	), bytes.NewReader(content))
	if err != nil {
		return fmt.Errorf("install the systemd unit %s: %w", file, err)
	}
	return nil
}

// writeUnit installs and enables the hub's unit loading the named credentials.
func (s *systemdService) writeUnit(ctx context.Context, credentials []string) error {
	unit, err := SystemdUnit(s.region, s.dir, credentials...)
	if err != nil {
		return err
	}
	if err := s.putUnit(ctx, s.unit(), unit); err != nil {
		return err
	}
	if _, err := s.h.sh(ctx, fmt.Sprintf("systemctl enable --quiet %s", quote(s.unit())), nil); err != nil {
		return fmt.Errorf("systemctl enable %s: %w", s.unit(), err)
	}
	return nil
}

// installBackup installs and enables the backup timer when a destination
// is set, and removes it when not.
func (s *systemdService) installBackup(ctx context.Context) error {
	svc, timer := BackupUnitName(s.region), BackupTimerName(s.region)
	if s.backupDest == "" {
		_, err := s.h.sh(ctx, script(
			fmt.Sprintf("[ -e %s ] || exit 0", quote(path.Join("/etc/systemd/system", timer))),
			fmt.Sprintf("systemctl disable --now --quiet %s 2>/dev/null || true", quote(timer)),
			fmt.Sprintf("rm -f %s %s", quote(path.Join("/etc/systemd/system", timer)), quote(path.Join("/etc/systemd/system", svc))),
			"systemctl daemon-reload",
		), nil)
		if err != nil {
			return fmt.Errorf("remove the backup timer %s: %w", timer, err)
		}
		return nil
	}
	svcUnit, timerUnit, err := BackupUnits(s.region, s.dir, s.backupDest)
	if err != nil {
		return err
	}
	if err := s.putUnit(ctx, svc, svcUnit); err != nil {
		return err
	}
	if err := s.putUnit(ctx, timer, timerUnit); err != nil {
		return err
	}
	if _, err := s.h.sh(ctx, fmt.Sprintf("systemctl enable --now --quiet %s", quote(timer)), nil); err != nil {
		return fmt.Errorf("systemctl enable --now %s: %w", timer, err)
	}
	return nil
}

func (s *systemdService) secretNames(ctx context.Context) ([]string, error) {
	return s.credentialNames(ctx)
}

// credentialNames lists the secrets stored for the region.
func (s *systemdService) credentialNames(ctx context.Context) ([]string, error) {
	dir := quote(CredentialDir(s.region))
	out, err := s.h.sh(ctx, fmt.Sprintf("if [ -d %s ]; then cd %s && for f in *; do [ -f \"$f\" ] && echo \"$f\"; done; fi; true", dir, dir), nil)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", CredentialDir(s.region), err)
	}
	var names []string
	for _, n := range strings.Fields(string(out)) {
		if validEnvName(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// writeSettings implements settingsStore: hub.env gets the settings
// without the secrets, each secret goes into its own root-only file of
// CredentialDir (sent on the script's standard input, never in a command
// line), and the unit is rewritten to load exactly those.
func (s *systemdService) writeSettings(ctx context.Context, e *engine, data []byte) error {
	_, set, err := parseEnv(data)
	if err != nil {
		return err
	}
	if err := e.putEnvFile(ctx, renderEnv(s.dir, serviceSettings{Listen: set.Listen})); err != nil {
		return err
	}
	dir := CredentialDir(s.region)
	if _, err := s.h.sh(ctx, script(
		"umask 077",
		"install -d -m 0755 -o root -g root /etc/hubkit",
		"install -d -m 0700 -o root -g root /etc/hubkit/credentials",
		fmt.Sprintf("install -d -m 0700 -o root -g root %s", quote(dir)),
	), nil); err != nil {
		return fmt.Errorf("%s: create %s: %w", e.name, dir, err)
	}
	names := envNames(set.Env)
	for _, n := range names {
		f := path.Join(dir, n)
		if _, err := s.h.sh(ctx, script(
			"umask 077",
			fmt.Sprintf("cat > %s", quote(f+".tmp")),
			fmt.Sprintf("chmod 0600 %s", quote(f+".tmp")),
			fmt.Sprintf("mv -f %s %s", quote(f+".tmp"), quote(f)),
		), strings.NewReader(set.Env[n])); err != nil {
			return fmt.Errorf("%s: write the credential %s: %w", e.name, f, err)
		}
	}
	keep := make([]string, len(names))
	for i, n := range names {
		keep[i] = quote(n)
	}
	if _, err := s.h.sh(ctx, script(
		"cd "+quote(dir),
		"for f in * .*.tmp; do",
		`  [ -f "$f" ] || continue`,
		fmt.Sprintf(`  case "$f" in %s) ;; *) rm -f -- "$f" ;; esac`, strings.Join(append(keep, "''"), "|")),
		"done",
	), nil); err != nil {
		return fmt.Errorf("%s: remove old credentials in %s: %w", e.name, dir, err)
	}
	if err := s.writeUnit(ctx, names); err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	return nil
}

// readSettings implements settingsStore: hub.env with the credentials
// added back as NAME='value' lines, as renderEnv wrote them (nil when
// there is no hub.env).
func (s *systemdService) readSettings(ctx context.Context, e *engine) ([]byte, error) {
	env, err := e.getEnvFile(ctx)
	if env == nil || err != nil {
		return env, err
	}
	names, err := s.credentialNames(ctx)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(env)
	for _, n := range names {
		v, err := s.h.sh(ctx, "cat "+quote(path.Join(CredentialDir(s.region), n)), nil)
		if err != nil {
			return nil, fmt.Errorf("%s: read the credential %s: %w", e.name, n, err)
		}
		fmt.Fprintf(&b, "%s=%s\n", n, quote(string(v)))
	}
	return b.Bytes(), nil
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

// uninstall removes the units, the backup timer and the region's
// credentials (secrets are not data: the operator has them); the data
// directory and the backups stay.
func (s *systemdService) uninstall(ctx context.Context, purge bool) error {
	if s.region == "" {
		return nil
	}
	var lines []string
	for _, u := range []string{BackupTimerName(s.region), BackupUnitName(s.region), s.unit()} {
		lines = append(lines,
			fmt.Sprintf("systemctl disable --now --quiet %s 2>/dev/null || true", quote(u)),
			fmt.Sprintf("rm -f %s", quote(path.Join("/etc/systemd/system", u))))
	}
	lines = append(lines,
		"systemctl daemon-reload",
		fmt.Sprintf("systemctl reset-failed %s %s 2>/dev/null || true", quote(s.unit()), quote(BackupUnitName(s.region))),
		fmt.Sprintf("rm -rf -- %s", quote(CredentialDir(s.region))))
	if purge {
		lines = append(lines, fmt.Sprintf("if id -u %s >/dev/null 2>&1; then userdel %s; fi", quote(ServiceUser(s.region)), quote(ServiceUser(s.region))))
	}
	if _, err := s.h.sh(ctx, script(lines...), nil); err != nil {
		return fmt.Errorf("remove the systemd unit %s: %w", s.unitPath(), err)
	}
	return nil
}
