// Command prebuild builds the heavy test fixtures that the test suite
// would otherwise build inside a test, against its timeout: today the
// SeaweedFS server of the S3 tests. .ci/install-deps runs it; a build
// already in the cache takes no time.
package main

import (
	"fmt"
	"log"

	"github.com/hubkit/hubkit/internal/testenv"
)

func main() {
	bin, err := testenv.WeedBinary(log.Printf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("prebuild: SeaweedFS", testenv.SeaweedFSVersion, "at", bin)
}
