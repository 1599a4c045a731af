// Package config loads hubkit's global configuration (config/hubkit.yaml)
// with viper: built-in defaults, then the file, then HUBKIT_* environment
// variables.
package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/viper"

	"github.com/hubkit/hubkit/internal/region"
)

// DefaultFile is where hubctl looks when --config is not given.
const DefaultFile = "config/hubkit.yaml"

// Config is the global configuration.
type Config struct {
	RegionsDir string          `mapstructure:"regions_dir"`
	StateDir   string          `mapstructure:"state_dir"`
	DataDir    string          `mapstructure:"data_dir"`
	Defaults   region.Defaults `mapstructure:"defaults"`
	Session    Session         `mapstructure:"session"`
	Login      Login           `mapstructure:"login"`
	Terraform  Terraform       `mapstructure:"terraform"`
	ModulesDir string          `mapstructure:"modules_dir"`
	Targets    Targets         `mapstructure:"targets"`
	FileDrop   FileDrop        `mapstructure:"file_drop"`
	Backup     Backup          `mapstructure:"backup"`

	File string `mapstructure:"-"` // the file loaded, "" when none
}

// Session bounds the hub's login sessions.
type Session struct {
	IdleTimeout     time.Duration `mapstructure:"idle_timeout"`
	AbsoluteTimeout time.Duration `mapstructure:"absolute_timeout"`
}

// FileDrop holds the file drop's optional services, the same for every
// hub rendered with this configuration (rendered into each bundle).
type FileDrop struct {
	// Clamd scans every upload when set: "unix:/run/clamav/clamd.ctl" or
	// "tcp:127.0.0.1:3310". Scanning fails closed.
	Clamd string `mapstructure:"clamd"`
	// SMTPAddr, when set, is the relay for "you have a new drop" mails.
	SMTPAddr string `mapstructure:"smtp_addr"`
	SMTPFrom string `mapstructure:"smtp_from"`
	SMTPTLS  string `mapstructure:"smtp_tls"` // starttls (default), tls or none
	// MinFree is the free space below which the hub refuses new uploads
	// early (HTTP 507), as a size: "1GiB" (the default when empty), "500MB";
	// "0" for no floor (a full disk is still answered 507).
	MinFree string `mapstructure:"min_free"`
}

// DefaultMinFree is file_drop.min_free when not set.
const DefaultMinFree = 1 << 30

// MinFreeBytes is MinFree in bytes.
func (f FileDrop) MinFreeBytes() (int64, error) {
	if f.MinFree == "" {
		return DefaultMinFree, nil
	}
	n, err := humanize.ParseBytes(f.MinFree)
	if err != nil || n > 1<<62 {
		return 0, fmt.Errorf("file_drop.min_free %q is not a size; write e.g. 1GiB or 500MB", f.MinFree)
	}
	return int64(n), nil
}

// Backup configures hubctl backup and restore (see docs/operations.md).
type Backup struct {
	// Recipients are the operators' age public keys (age1…): the store,
	// audit log and keys of every snapshot are encrypted to each. A backup
	// without one is refused.
	Recipients []string `mapstructure:"recipients"`
	KeepDaily  int      `mapstructure:"keep_daily"`  // hubctl backup prune keeps the newest snapshot of this many days
	KeepWeekly int      `mapstructure:"keep_weekly"` // … and of this many ISO weeks
	S3         BackupS3 `mapstructure:"s3"`
}

// BackupS3 is the S3-compatible service of s3:// destinations. Put the
// keys in the environment (HUBKIT_BACKUP_S3_ACCESS_KEY,
// HUBKIT_BACKUP_S3_SECRET_KEY), not in a file in the repository.
type BackupS3 struct {
	Endpoint  string `mapstructure:"endpoint"` // host[:port]
	Region    string `mapstructure:"region"`
	AccessKey string `mapstructure:"access_key"`
	SecretKey string `mapstructure:"secret_key"`
	Insecure  bool   `mapstructure:"insecure"` // plain HTTP: only for an endpoint on the same host
}

// Targets say where hubctl plan/apply deploy hubs.
type Targets struct {
	Local LocalTarget          `mapstructure:"local"`
	SSH   map[string]SSHTarget `mapstructure:"ssh"` // by region id
}

// LocalTarget deploys every region's hub on this machine, each in its own
// directory and on its own port (BasePort + the region's position in
// nordjylland, midtjylland, syddanmark, hovedstaden, sjaelland).
type LocalTarget struct {
	Dir      string `mapstructure:"dir"`
	BasePort int    `mapstructure:"base_port"`
	Dev      bool   `mapstructure:"dev"`
}

// SSHTarget is one region's host reached over SSH.
type SSHTarget struct {
	Host           string `mapstructure:"host"`
	Port           int    `mapstructure:"port"`
	User           string `mapstructure:"user"`
	PrivateKeyFile string `mapstructure:"private_key_file"`
	HostKey        string `mapstructure:"host_key"` // pinned, authorized_keys format
	Dir            string `mapstructure:"dir"`
	Listen         string `mapstructure:"listen"`
	Dev            bool   `mapstructure:"dev"`
	// BackupDest is where the host's nightly backup timer writes (hubctl
	// backup --to); empty means no backup timer.
	BackupDest string `mapstructure:"backup_dest"`
}

// Login bounds login attempts (token buckets, refilled per minute).
type Login struct {
	ClientPerMinute  int `mapstructure:"client_per_minute"`
	ClientBurst      int `mapstructure:"client_burst"`
	KommunePerMinute int `mapstructure:"kommune_per_minute"`
	KommuneBurst     int `mapstructure:"kommune_burst"`
}

// Terraform says how hubctl runs Terraform.
type Terraform struct {
	Binary      string        `mapstructure:"binary"`
	MinVersion  string        `mapstructure:"min_version"`
	LockTimeout time.Duration `mapstructure:"lock_timeout"`
	Parallelism int           `mapstructure:"parallelism"`
	Backend     string        `mapstructure:"backend"`
	PGConnEnv   string        `mapstructure:"pg_conn_env"`
}

func defaults(v *viper.Viper) {
	d := region.BuiltinDefaults
	v.SetDefault("regions_dir", "regions")
	v.SetDefault("state_dir", ".hubkit/state")
	v.SetDefault("data_dir", ".hubkit/data")
	v.SetDefault("defaults.max_file_size", d.MaxFileSize)
	v.SetDefault("defaults.max_files_per_drop", d.MaxFilesPerDrop)
	v.SetDefault("defaults.default_retention_days", d.DefaultRetentionDays)
	v.SetDefault("defaults.max_retention_days", d.MaxRetentionDays)
	v.SetDefault("defaults.nsis_minimum", d.NSISMinimum)
	v.SetDefault("defaults.scopes", d.Scopes)
	v.SetDefault("session.idle_timeout", 30*time.Minute)
	v.SetDefault("session.absolute_timeout", 8*time.Hour)
	v.SetDefault("login.client_per_minute", 20)
	v.SetDefault("login.client_burst", 20)
	v.SetDefault("login.kommune_per_minute", 600)
	v.SetDefault("login.kommune_burst", 200)
	v.SetDefault("modules_dir", "modules")
	v.SetDefault("file_drop.clamd", "")
	v.SetDefault("file_drop.smtp_addr", "")
	v.SetDefault("file_drop.smtp_from", "")
	v.SetDefault("file_drop.smtp_tls", "")
	v.SetDefault("file_drop.min_free", "")
	v.SetDefault("backup.recipients", []string{})
	v.SetDefault("backup.keep_daily", 7)
	v.SetDefault("backup.keep_weekly", 4)
	v.SetDefault("backup.s3.endpoint", "")
	v.SetDefault("backup.s3.region", "")
	v.SetDefault("backup.s3.access_key", "")
	v.SetDefault("backup.s3.secret_key", "")
	v.SetDefault("backup.s3.insecure", false)
	v.SetDefault("targets.local.dir", ".hubkit/hubs")
	v.SetDefault("targets.local.base_port", 8451)
	v.SetDefault("targets.local.dev", true)
	v.SetDefault("terraform.binary", "terraform")
	v.SetDefault("terraform.min_version", "1.5.0")
	v.SetDefault("terraform.lock_timeout", 2*time.Minute)
	v.SetDefault("terraform.parallelism", 5)
	v.SetDefault("terraform.backend", "local")
	v.SetDefault("terraform.pg_conn_env", "HUBKIT_PG_CONN")
}

// Load reads the configuration. A missing file is an error only when it was
// named explicitly; otherwise the built-in defaults apply.
func Load(file string, explicit bool) (*Config, error) {
	v := viper.New()
	defaults(v)
	v.SetEnvPrefix("HUBKIT")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	cfg := &Config{}
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		switch err := v.ReadInConfig(); {
		case err == nil:
			cfg.File = file
		case errors.Is(err, os.ErrNotExist) && !explicit:
		default:
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	if err := v.UnmarshalExact(cfg); err != nil {
		return nil, fmt.Errorf("%s: %v (compare with the keys in %s of the hubkit repository)", orDefaults(file), err, DefaultFile)
	}
	cfg.File = file
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", orDefaults(file), err)
	}
	return cfg, nil
}

func orDefaults(file string) string {
	if file == "" {
		return "built-in defaults"
	}
	return file
}

func (c *Config) validate() error {
	var problems []string
	if region.LevelRank(c.Defaults.NSISMinimum) < 0 {
		problems = append(problems, fmt.Sprintf("defaults.nsis_minimum %q is not one of %s", c.Defaults.NSISMinimum, strings.Join(region.NSISLevels, ", ")))
	}
	if c.Session.IdleTimeout <= 0 || c.Session.AbsoluteTimeout < c.Session.IdleTimeout {
		problems = append(problems, "session: idle_timeout must be positive and not above absolute_timeout")
	}
	if c.Login.ClientPerMinute < 1 || c.Login.ClientBurst < 1 || c.Login.KommunePerMinute < 1 || c.Login.KommuneBurst < 1 {
		problems = append(problems, "login: rates and bursts must be at least 1")
	}
	if c.Terraform.Backend != "local" && c.Terraform.Backend != "pg" {
		problems = append(problems, fmt.Sprintf("terraform.backend %q is not local or pg", c.Terraform.Backend))
	}
	if c.FileDrop.SMTPAddr != "" && c.FileDrop.SMTPFrom == "" {
		problems = append(problems, "file_drop.smtp_from is required with file_drop.smtp_addr")
	}
	if _, err := c.FileDrop.MinFreeBytes(); err != nil {
		problems = append(problems, err.Error())
	}
	if p := c.Targets.Local.BasePort; p < 1 || p > 65535-5 {
		problems = append(problems, fmt.Sprintf("targets.local.base_port %d is not a port", p))
	}
	if c.Backup.KeepDaily < 0 || c.Backup.KeepWeekly < 0 {
		problems = append(problems, "backup.keep_daily and backup.keep_weekly must not be negative")
	}
	if c.Terraform.Parallelism < 1 {
		problems = append(problems, "terraform.parallelism must be at least 1")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
