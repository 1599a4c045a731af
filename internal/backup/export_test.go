package backup

import "testing"

// SetTestHookBeforeBlobs runs fn after the store snapshot, before the
// blobs are copied, for the test's duration.
func SetTestHookBeforeBlobs(t *testing.T, fn func()) {
	testHookBeforeBlobs = fn
	t.Cleanup(func() { testHookBeforeBlobs = nil })
}
