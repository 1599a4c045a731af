package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestBackupKeys(t *testing.T) {
	c, err := Load("", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Backup.Recipients) != 0 || c.Backup.KeepDaily != 7 || c.Backup.KeepWeekly != 4 {
		t.Fatalf("defaults: %+v", c.Backup)
	}
	file := filepath.Join(t.TempDir(), "hubkit.yaml")
	os.WriteFile(file, []byte("backup:\n  recipients: [age1aaa]\n  keep_daily: 3\n  s3:\n    endpoint: s3.example:9000\n"), 0o600)
	t.Setenv("HUBKIT_BACKUP_KEEP_WEEKLY", "9")
	t.Setenv("HUBKIT_BACKUP_S3_SECRET_KEY", "from-env")
	c, err = Load(file, true)
	if err != nil {
		t.Fatal(err)
	}
	b := c.Backup
	if !slices.Equal(b.Recipients, []string{"age1aaa"}) || b.KeepDaily != 3 || b.KeepWeekly != 9 || b.S3.Endpoint != "s3.example:9000" || b.S3.SecretKey != "from-env" {
		t.Fatalf("file and env: %+v", b)
	}
	t.Setenv("HUBKIT_BACKUP_RECIPIENTS", "age1bbb,age1ccc")
	if c, err = Load(file, true); err != nil || !slices.Equal(c.Backup.Recipients, []string{"age1bbb", "age1ccc"}) {
		t.Fatalf("recipients from the environment: %v %v", c.Backup.Recipients, err)
	}
	t.Setenv("HUBKIT_BACKUP_KEEP_DAILY", "-1")
	if _, err := Load(file, true); err == nil {
		t.Fatal("a negative keep_daily loaded")
	}
}
