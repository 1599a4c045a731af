package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// SeaweedFSVersion is the SeaweedFS module version the S3 fixture builds
// (SeaweedFS 4.53; its tags are not semver, so the Go module proxy knows
// it by this pseudo-version).
const SeaweedFSVersion = "v0.0.0-20261109003541-7506e5f91cd6"

// SeaweedFS is a running SeaweedFS server (master, volume, filer and S3
// gateway in one process) on loopback ports, with one S3 identity.
type SeaweedFS struct {
	Endpoint  string // host:port of the S3 gateway, plain HTTP
	AccessKey string
	SecretKey string
	Dir       string // its data directory
}

// StartSeaweedFS starts a SeaweedFS server for the test, in a temporary
// directory, and stops it when the test ends. The weed binary is built
// from the Go module proxy on first use (see WeedBinary).
func StartSeaweedFS(t testing.TB) *SeaweedFS {
	t.Helper()
	weed, err := WeedBinary(t.Logf)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	dir := t.TempDir()
	s := &SeaweedFS{Dir: dir, AccessKey: "hubkit-test-" + randHex(4), SecretKey: randHex(20)}
	conf := map[string]any{"identities": []any{map[string]any{
		"name":        "hubkit",
		"credentials": []any{map[string]string{"accessKey": s.AccessKey, "secretKey": s.SecretKey}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}}
	b, _ := json.Marshal(conf)
	s3conf := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(s3conf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 8)
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	s.Endpoint = "127.0.0.1:" + p(6)
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(weed, "server",
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir="+data,
		"-master.port="+p(0), "-master.port.grpc="+p(1), "-master.telemetry=false", "-master.volumeSizeLimitMB=64",
		"-volume.port="+p(2), "-volume.port.grpc="+p(3), "-volume.max=0", "-volume.preStopSeconds=0",
		"-filer", "-filer.port="+p(4), "-filer.port.grpc="+p(5), "-filer.localSocket="+filepath.Join(dir, "filer.sock"),
		"-s3", "-s3.port="+p(6), "-s3.port.grpc="+p(7), "-s3.port.iceberg=0", "-s3.port.lance=0",
		"-s3.config="+s3conf, "-s3.localSocket="+filepath.Join(dir, "s3.sock"))
	cmd.Dir = dir
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start SeaweedFS: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("SeaweedFS output (tail):\n%s", tail(logs.String(), 4000))
		}
	})
	// The gateway answers 403 to an unsigned request once it is up; it
	// needs the filer and a volume before a write works, which the caller's
	// first bucket creation waits for (WaitS3).
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("testenv: SeaweedFS exited at start:\n%s", tail(logs.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: SeaweedFS's S3 gateway did not come up in 60 s:\n%s", tail(logs.String(), 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s
}

// Bucket creates a bucket and waits until an object can be written to it
// (right after the start SeaweedFS refuses writes until its volume server
// has registered and grown a volume, some seconds), then removes the probe.
func (s *SeaweedFS) Bucket(t testing.TB, name string) {
	t.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = s.Retry(ctx, func() error {
		if ok, err := c.BucketExists(ctx, name); err != nil || !ok {
			if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
				return err
			}
		}
		_, err := c.PutObject(ctx, name, ".testenv-probe", strings.NewReader("probe"), 5, minio.PutObjectOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("testenv: SeaweedFS bucket %s: %v", name, err)
	}
	if err := c.RemoveObject(ctx, name, ".testenv-probe", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Retry runs fn until it succeeds or a minute has passed: right after the
// start, SeaweedFS refuses writes until its volume server has registered.
func (s *SeaweedFS) Retry(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := fn()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

var weedOnce struct {
	sync.Mutex
	path string
}

// WeedBinary returns SeaweedFS's weed binary, building it once into
// $XDG_CACHE_HOME/hubkit/seaweedfs-<version>/weed (default ~/.cache). go
// install refuses SeaweedFS (its go.mod has replace directives), so the
// module is downloaded from the Go module proxy and `go build ./weed` runs
// in its module directory: several minutes on two cores, once per version
// and machine. Test processes that need it at once wait for one build.
func WeedBinary(logf func(string, ...any)) (string, error) {
	weedOnce.Lock()
	defer weedOnce.Unlock()
	if weedOnce.path != "" {
		return weedOnce.path, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the SeaweedFS build (set XDG_CACHE_HOME or HOME): %w", err)
	}
	dir := filepath.Join(cache, "hubkit", "seaweedfs-"+SeaweedFSVersion)
	bin := filepath.Join(dir, "weed")
	err = withFileLock("seaweedfs", func() error {
		if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
			return nil
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			return fmt.Errorf("building SeaweedFS needs the go command on PATH: %w", err)
		}
		logf("testenv: building SeaweedFS %s into %s (once per version; several minutes)", SeaweedFSVersion, bin)
		out, err := exec.Command(goBin, "mod", "download", "-json", "github.com/seaweedfs/seaweedfs@"+SeaweedFSVersion).Output()
		if err != nil {
			return fmt.Errorf("go mod download github.com/seaweedfs/seaweedfs@%s: %w", SeaweedFSVersion, errText(err))
		}
		var mod struct{ Dir, Error string }
		if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
			return fmt.Errorf("go mod download of SeaweedFS gave no module directory: %s %s", mod.Error, out)
		}
		tmp := bin + ".tmp-" + randHex(4)
		build := exec.Command(goBin, "build", "-trimpath", "-o", tmp, "./weed")
		build.Dir = mod.Dir
		build.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "CGO_ENABLED=0", "GOWORK=off")
		if out, err := build.CombinedOutput(); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("go build ./weed in %s: %v\n%s", mod.Dir, err, tail(string(out), 4000))
		}
		return os.Rename(tmp, bin)
	})
	if err != nil {
		return "", err
	}
	weedOnce.path = bin
	return bin, nil
}

func errText(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%v: %s", err, tail(string(ee.Stderr), 2000))
	}
	return err
}

func freePorts(t testing.TB, n int) []int {
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
