package provider

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const otherProvider = `provider "registry.terraform.io/hashicorp/null" {
  version = "3.2.4"
  hashes = [
    "h1:other=",
    "zh:0123",
  ]
}
`

func TestSyncLockFile(t *testing.T) {
	work := t.TempDir()
	exe := filepath.Join(t.TempDir(), "hubctl")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\necho first\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteMirror(work, exe, "0.1.0"); err != nil {
		t.Fatal(err)
	}
	module := t.TempDir()
	lockPath := filepath.Join(module, lockFileName)

	hash0, err := PackageHash(work, "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	// No lock file yet: hubctl writes it with the mirror's hash, so that
	// terraform init does not compute one and warn that it is incomplete.
	if changed, err := SyncLockFile(module, work, "0.1.0"); err != nil || !changed {
		t.Fatalf("without a lock file: %v, %v", changed, err)
	}
	first, _ := os.ReadFile(lockPath)
	if !strings.Contains(string(first), `provider "registry.terraform.io/hubkit/hubkit" {`) || !strings.Contains(string(first), `"`+hash0+`",`) {
		t.Fatalf("new lock file:\n%s", first)
	}
	// A lock file without a hubkit entry gets one; the others stay.
	if err := os.WriteFile(lockPath, []byte(otherProvider), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, err := SyncLockFile(module, work, "0.1.0"); err != nil || !changed {
		t.Fatalf("without a hubkit entry: %v, %v", changed, err)
	}
	if got, _ := os.ReadFile(lockPath); !strings.Contains(string(got), otherProvider) || !strings.Contains(string(got), `"`+hash0+`",`) {
		t.Fatalf("lock file after adding the entry:\n%s", got)
	}

	// An entry of an older build gets the mirror's hash, and only it.
	stale := `# This file is maintained automatically by "terraform init".

provider "registry.terraform.io/hubkit/hubkit" {
  version     = "0.0.9"
  constraints = ">= 0.1.0"
  hashes = [
    "h1:stale=",
  ]
}

` + otherProvider
	if err := os.WriteFile(lockPath, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := SyncLockFile(module, work, "0.1.0")
	if err != nil || !changed {
		t.Fatalf("stale entry: %v, %v", changed, err)
	}
	hash, err := PackageHash(work, "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(lockPath)
	for _, want := range []string{`version     = "0.1.0"`, `"` + hash + `",`, `constraints = ">= 0.1.0"`, otherProvider} {
		if !strings.Contains(string(got), want) {
			t.Errorf("lock file lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(string(got), "stale") {
		t.Errorf("lock file keeps the stale hash:\n%s", got)
	}
	// Idempotent.
	if changed, err := SyncLockFile(module, work, "0.1.0"); err != nil || changed {
		t.Fatalf("second sync: %v, %v", changed, err)
	}

	// A rebuilt hubctl: another hash.
	if err := os.WriteFile(exe, []byte("#!/bin/sh\necho second\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteMirror(work, exe, "0.1.0"); err != nil {
		t.Fatal(err)
	}
	if changed, err := SyncLockFile(module, work, "0.1.0"); err != nil || !changed {
		t.Fatalf("after a rebuild: %v, %v", changed, err)
	}
	got2, _ := os.ReadFile(lockPath)
	if strings.Contains(string(got2), hash) {
		t.Errorf("the old hash survived a rebuild:\n%s", got2)
	}
}

func TestWriteMirror(t *testing.T) {
	work := t.TempDir()
	exe := filepath.Join(t.TempDir(), "hubctl")
	if err := os.WriteFile(exe, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteMirror(work, exe, "0.0.1"); err != nil {
		t.Fatal(err)
	}
	cfg, err := WriteMirror(work, exe, "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(work, "mirror", "registry.terraform.io", "hubkit", "hubkit", "0.1.0", Platform(), "terraform-provider-hubkit_v0.1.0")
	fi, err := os.Lstat(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o755 {
		t.Errorf("the mirror's package is %v, want a regular file with mode 0755 (a copy, not a symlink)", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(work, "mirror", "registry.terraform.io", "hubkit", "hubkit", "0.0.1")); !os.IsNotExist(err) {
		t.Errorf("an older version stayed in the mirror (%v)", err)
	}
	rc, _ := os.ReadFile(cfg)
	for _, want := range []string{"disable_checkpoint = true", "filesystem_mirror", `"` + filepath.Join(work, "mirror") + `"`, `include = ["registry.terraform.io/hubkit/hubkit"]`} {
		if !strings.Contains(string(rc), want) {
			t.Errorf("CLI config lacks %q:\n%s", want, rc)
		}
	}
	if strings.Contains(string(rc), "direct") || strings.Contains(string(rc), "plugin_cache_dir") {
		t.Errorf("CLI config allows downloads or a plugin cache:\n%s", rc)
	}
}

func TestVersion(t *testing.T) {
	for in, want := range map[string]string{"dev": "0.1.0", "": "0.1.0", "v1.2.3": "1.2.3", "1.4.0-rc.1": "1.4.0-rc.1", "1.2": "0.1.0"} {
		if got := Version(in); got != want {
			t.Errorf("Version(%q) = %q, want %q", in, got, want)
		}
	}
	if !IsProviderExecutable("/x/.terraform/providers/registry.terraform.io/hubkit/hubkit/0.1.0/linux_amd64/terraform-provider-hubkit_v0.1.0") || IsProviderExecutable("/usr/bin/hubctl") {
		t.Error("IsProviderExecutable")
	}
}
