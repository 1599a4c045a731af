// Package tf runs Terraform for hubkit through terraform-exec: one working
// directory and state per region, regions in parallel with their output
// prefixed, plans summarised in hub terms and applied exactly as planned.
// Each hubctl verb has its own file (plan.go, apply.go, destroy.go, status.go).
package tf

import (
	"context"
	"errors"
	"fmt"
	"os/exec"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-exec/tfexec"
)

// Binary is a located and version-checked terraform executable.
type Binary struct {
	Path    string
	Version *version.Version
}

// ErrNotFound says Terraform is not installed where hubctl looks.
var ErrNotFound = errors.New("terraform not found")

// Find locates terraform (a name on PATH or a path) and checks that it is
// at least min. The errors say what to install.
func Find(ctx context.Context, name, min string) (*Binary, error) {
	want, err := version.NewVersion(min)
	if err != nil {
		return nil, fmt.Errorf("terraform.min_version %q is not a version: %w", min, err)
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not on PATH or not executable; install Terraform %s or newer (Debian/Ubuntu: HashiCorp's apt repository; or the release zip into /usr/local/bin), or set terraform.binary in config/hubkit.yaml", ErrNotFound, name, want)
	}
	t, err := tfexec.NewTerraform(".", path)
	if err != nil {
		return nil, err
	}
	got, _, err := t.Version(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("running %s version: %w", path, err)
	}
	if got.LessThan(want) {
		return nil, fmt.Errorf("%s is Terraform %s; hubkit needs %s or newer (terraform.min_version in config/hubkit.yaml)", path, got, want)
	}
	return &Binary{Path: path, Version: got}, nil
}
