package provider

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

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
	go exitWithParent(os.Getppid(), time.Second)
	go func() {
		// go-plugin leaves SIGTERM to the plugin: a provider told to stop stops.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		fmt.Fprintln(os.Stderr, "hubctl (terraform-provider-hubkit): SIGTERM; exiting")
		os.Exit(1)
	}()
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

// exitWithParent ends the provider when the process that started it
// (Terraform) is gone: a killed Terraform cannot tell its plugins to stop,
// and a provider left behind would hold connections and files of a run
// nobody waits for. The parent is gone when the provider is re-parented.
func exitWithParent(parent int, every time.Duration) {
	if parent <= 1 {
		return
	}
	for range time.Tick(every) {
		if os.Getppid() != parent {
			fmt.Fprintf(os.Stderr, "hubctl (terraform-provider-hubkit): Terraform (pid %d) is gone; exiting\n", parent)
			os.Exit(1)
		}
	}
}
