package provider

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"golang.org/x/mod/sumdb/dirhash"
)

// Terraform finds the hubkit provider without any network: hubctl keeps
// a filesystem mirror in its working directory whose only package is a
// copy of the hubctl executable itself, and a Terraform CLI configuration
// that installs hubkit from that mirror and nothing from anywhere else.
// Terraform then starts the copy under the provider's file name, and
// cmd/hubctl serves the provider (IsProviderExecutable, Serve).
//
// The package is a copy, not a symlink: Terraform's lock file records the
// package's hash (h1: the Go dirhash of the package directory, which
// follows symlinks), so a symlink to a hubctl that is rebuilt later would
// change under Terraform's feet. A copy changes only when WriteMirror
// runs, and WriteMirror rewrites it only when the executable differs.
//
// How .terraform.lock.hcl stays consistent: the provider's version is
// fixed per hubctl version (Version), but its package changes with every
// hubctl build, and Terraform refuses a package whose hash the lock file
// does not list ("doesn't match any of the checksums previously recorded")
// until someone runs `terraform init -upgrade`. The lock file exists to
// catch a changed package from a registry; here the package is the
// operator's own hubctl, which is the authority on itself. So hubctl owns
// the hubkit entry of the lock file: after writing the mirror it calls
// SyncLockFile, which sets the entry's version and hashes to the mirror's
// package and leaves every other provider's entry alone. `terraform init`
// then runs without -upgrade and finds the lock file consistent. When
// there is no hubkit entry yet SyncLockFile writes it too: an entry init
// writes itself holds a hash it computed locally, and init then warns
// "Incomplete lock file information for providers". Terraform used by
// hand on modules/ works the same way: write the mirror and sync the lock
// file first (see modules/README.md).

// Mirror layout and files.
const (
	mirrorSubdir   = "mirror"
	cliConfigName  = "terraform.rc"
	providerHost   = "registry.terraform.io"
	providerNS     = "hubkit"
	providerType   = "hubkit"
	lockFileName   = ".terraform.lock.hcl"
	executableMode = 0o755
)

// Platform is Terraform's name of this machine's platform, e.g. linux_amd64.
func Platform() string { return runtime.GOOS + "_" + runtime.GOARCH }

// PackageDir is the directory of the provider package in the mirror below dir.
func PackageDir(dir, version string) string {
	return filepath.Join(dir, mirrorSubdir, providerHost, providerNS, providerType, version, Platform())
}

// WriteMirror writes the filesystem mirror and the CLI configuration
// below dir: <dir>/mirror/registry.terraform.io/hubkit/hubkit/<version>/<os>_<arch>/terraform-provider-hubkit_v<version>,
// a copy of executable, and <dir>/terraform.rc. Point Terraform at the
// configuration with TF_CLI_CONFIG_FILE. Other versions in the mirror are
// removed, so Terraform can only select this one.
func WriteMirror(dir, executable, version string) (cliConfigFile string, err error) {
	if version == "" || filepath.Base(version) != version {
		return "", fmt.Errorf("provider version %q is not a version", version)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	pkg := PackageDir(abs, version)
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		return "", fmt.Errorf("create the provider mirror: %w", err)
	}
	versions := filepath.Dir(filepath.Dir(pkg))
	entries, err := os.ReadDir(versions)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Name() != version {
			if err := os.RemoveAll(filepath.Join(versions, e.Name())); err != nil {
				return "", fmt.Errorf("remove old provider version from the mirror: %w", err)
			}
		}
	}
	bin := filepath.Join(pkg, ExecutablePrefix+"_v"+version)
	if err := copyIfChanged(executable, bin); err != nil {
		return "", fmt.Errorf("copy %s into the provider mirror: %w", executable, err)
	}
	cfg := filepath.Join(abs, cliConfigName)
	if err := writeFileAtomic(cfg, cliConfig(filepath.Join(abs, mirrorSubdir)), 0o644); err != nil {
		return "", fmt.Errorf("write the Terraform CLI configuration: %w", err)
	}
	return cfg, nil
}

// cliConfig installs hubkit from the mirror only. There is no direct {}
// block: Terraform never downloads a provider, and checkpoint (its
// version check) is off, so Terraform makes no network connection.
func cliConfig(mirror string) []byte {
	return fmt.Appendf(nil, `# Written by hubctl: install the hubkit provider (hubctl itself) from the
# filesystem mirror next to this file; never download providers.
disable_checkpoint = true

provider_installation {
  filesystem_mirror {
    path    = %s
    include = [%s]
  }
}
`, strconv.Quote(mirror), strconv.Quote(Address))
}

// PackageHash returns the h1: hash Terraform records in the lock file for
// the mirror's package of version below dir.
func PackageHash(dir, version string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return dirhash.HashDir(PackageDir(abs, version), "", dirhash.Hash1)
}

// copyIfChanged copies src to dst (mode 0755, atomically) unless dst
// already has the same content.
func copyIfChanged(src, dst string) error {
	same, err := sameContent(src, dst)
	if err != nil || same {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(executableMode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

func sameContent(a, b string) (bool, error) {
	fb, err := os.Stat(b)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	if fa.Size() != fb.Size() || fb.Mode().Perm() != executableMode {
		return false, nil
	}
	ha, err := fileHash(a)
	if err != nil {
		return false, err
	}
	hb, err := fileHash(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ha, hb), nil
}

func fileHash(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
