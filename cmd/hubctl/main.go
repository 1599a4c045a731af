// Command hubctl validates, renders, provisions and serves hubkit's regional hubs.
package main

import (
	"os"

	"github.com/hubkit/hubkit/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
