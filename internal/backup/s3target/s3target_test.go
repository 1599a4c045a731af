package s3target

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hubkit/hubkit/internal/backup"
	"github.com/hubkit/hubkit/internal/backup/targettest"
	"github.com/hubkit/hubkit/internal/testenv"
)

// seaweedBucket starts SeaweedFS with a bucket ready for writes.
func seaweedBucket(t *testing.T) (*testenv.SeaweedFS, string) {
	sw := testenv.StartSeaweedFS(t)
	sw.Bucket(t, "hubkit-backups")
	return sw, "hubkit-backups"
}

// TestS3 runs against one SeaweedFS server (its start is the slow part).
func TestS3(t *testing.T) {
	sw, bucket := seaweedBucket(t)
	t.Run("Contract", func(t *testing.T) { testContract(t, sw, bucket) })
	t.Run("OpenErrors", func(t *testing.T) { testOpenErrors(t, sw, bucket) })
}

func testContract(t *testing.T, sw *testenv.SeaweedFS, bucket string) {
	cfg := Config{Endpoint: sw.Endpoint, AccessKey: sw.AccessKey, SecretKey: sw.SecretKey, Insecure: true}
	var n atomic.Int64
	targettest.Run(t, func(t *testing.T) backup.Target {
		// Each subtest its own prefix: an empty target.
		dest := "s3://" + bucket + "/contract/" + strings.Repeat("x", int(n.Add(1)))
		b, err := Open(context.Background(), dest, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func testOpenErrors(t *testing.T, sw *testenv.SeaweedFS, bucket string) {
	ctx := context.Background()
	good := Config{Endpoint: sw.Endpoint, AccessKey: sw.AccessKey, SecretKey: sw.SecretKey, Insecure: true}
	cases := []struct {
		dest string
		cfg  Config
		want string
	}{
		{"s3://" + bucket, Config{Endpoint: sw.Endpoint, Insecure: true}, "HUBKIT_BACKUP_S3_ACCESS_KEY"},
		{"s3://" + bucket, Config{AccessKey: "a", SecretKey: "b"}, "backup.s3.endpoint"},
		{"s3://no-such-bucket", good, "does not exist"},
		{"s3://user:pw@" + bucket + "/p", good, "must not carry credentials"},
		{"s3://" + bucket + "/p?secret=1", good, "must not carry credentials"},
		{"s3:///p", good, "not s3://BUCKET"},
		{"s3://" + bucket, Config{Endpoint: sw.Endpoint, AccessKey: sw.AccessKey, SecretKey: "wrong", Insecure: true}, ""},
	}
	for _, c := range cases {
		_, err := Open(ctx, c.dest, c.cfg)
		if err == nil {
			t.Errorf("Open(%q) succeeded; want an error", c.dest)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q) = %v; want it to say %q", c.dest, err, c.want)
		}
		for _, secret := range []string{"pw", sw.SecretKey, "wrong"} {
			if strings.Contains(err.Error(), ":"+secret+"@") || (len(secret) > 4 && strings.Contains(err.Error(), secret)) {
				t.Errorf("Open(%q) error names a secret: %v", c.dest, err)
			}
		}
	}
}
