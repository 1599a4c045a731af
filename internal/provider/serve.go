package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/hubkit/hubkit/internal/version"
)

// Address is the provider's source address. Terraform looks it up in the
// filesystem mirror only; the registry host name is never contacted.
const Address = "registry.terraform.io/hubkit/hubkit"

// ExecutablePrefix starts the file name Terraform gives the provider's
// executable; hubctl run under such a name serves the provider.
const ExecutablePrefix = "terraform-provider-hubkit"

// fallbackVersion is the provider version of hubctl builds whose version
// is not semantic (e.g. "dev"): Terraform needs one to select a package.
const fallbackVersion = "0.1.0"

var semver = regexp.MustCompile(`^v?(\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?)$`)

// Version is the provider version of a hubctl version: the hubctl version
// itself when it is semantic (v1.2.3 gives 1.2.3), else 0.1.0.
func Version(hubctlVersion string) string {
	if m := semver.FindStringSubmatch(hubctlVersion); m != nil {
		return m[1]
	}
	return fallbackVersion
}

// IsProviderExecutable reports whether argv0 is the provider's file name,
// i.e. Terraform started hubctl as its provider.
func IsProviderExecutable(argv0 string) bool {
	return strings.HasPrefix(filepath.Base(argv0), ExecutablePrefix)
}

// Serve serves the provider to Terraform over go-plugin's gRPC protocol
// 6 until Terraform stops it, and returns the process exit code.
func Serve() int {
	err := providerserver.Serve(context.Background(), New(Version(version.Version)), providerserver.ServeOpts{
		Address:         Address,
		ProtocolVersion: 6,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubctl (terraform-provider-hubkit):", err)
		return 1
	}
	return 0
}
