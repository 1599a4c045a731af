// Command hubctl validates, renders, provisions and serves hubkit's regional hubs.
package main

import (
	"os"

	"github.com/hubkit/hubkit/internal/cli"
	"github.com/hubkit/hubkit/internal/provider"
)

func main() {
	// Terraform starts hubctl from its provider mirror under the name
	// terraform-provider-hubkit_v<version>: then hubctl is the provider.
	if provider.IsProviderExecutable(os.Args[0]) {
		os.Exit(provider.Serve())
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
