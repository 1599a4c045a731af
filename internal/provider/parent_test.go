package provider

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// When run as the watched child, the test binary waits for its parent to
// go, as a provider whose RPC is blocked would; only exitWithParent can
// end it.
func init() {
	if os.Getenv("HUBKIT_TEST_WATCH_PARENT") == "1" {
		go exitWithParent(os.Getppid(), 50*time.Millisecond)
		os.Stdout.WriteString("watching\n")
		select {}
	}
}

// A provider whose Terraform is killed exits by itself: the parent (a
// shell standing in for Terraform) is killed with SIGKILL, the child is
// re-parented and must be gone within a second or two.
func TestExitWithParent(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sh := exec.Command("sh", "-c", `"$0" -test.run '^$' & echo $!; wait`, self)
	sh.Env = append(os.Environ(), "HUBKIT_TEST_WATCH_PARENT=1")
	out, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	var got string
	for !strings.Contains(got, "watching") {
		n, err := out.Read(buf)
		if err != nil {
			t.Fatalf("child did not start: %v (%q)", err, got)
		}
		got += string(buf[:n])
	}
	child, err := strconv.Atoi(strings.Fields(got)[0])
	if err != nil {
		t.Fatalf("child pid from %q: %v", got, err)
	}
	sh.Process.Signal(syscall.SIGKILL)
	sh.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(child, 0) == nil {
		if stat, _ := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat"); strings.Contains(string(stat), ") Z ") {
			break // exited, waiting for init to reap it
		}
		if time.Now().After(deadline) {
			syscall.Kill(child, syscall.SIGKILL)
			t.Fatal("the child still runs 5 s after its parent was killed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
