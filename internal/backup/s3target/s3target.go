// Package s3target keeps backups in an S3-compatible bucket (AWS S3,
// MinIO, SeaweedFS, Ceph RGW …) through minio-go, under a key prefix.
// A PutObject is atomic on every S3 implementation, which is what the
// engine relies on. Credentials come from Config, never from the
// destination string, and are never part of String.
package s3target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/hubkit/hubkit/internal/backup"
)

// partSize bounds the memory of an upload of unknown size (the encrypted
// store): minio-go buffers one part; 16 MiB parts allow 160 GiB objects.
const partSize = 16 << 20

// Config is how to reach the bucket.
type Config struct {
	Endpoint  string // host:port, e.g. s3.eu-central-1.amazonaws.com or 127.0.0.1:8333
	Region    string // e.g. eu-central-1; "" lets the client find out
	AccessKey string
	SecretKey string
	Insecure  bool // plain HTTP, for an endpoint on the same host only
	// Transport, when set, is the HTTP transport (tests; a private CA).
	Transport http.RoundTripper
}

// Bucket is an S3 target.
type Bucket struct {
	c      *minio.Client
	bucket string
	prefix string // "" or ends in "/"
	desc   string
}

var _ backup.Target = (*Bucket)(nil)

// ParseURL splits s3://bucket/prefix.
func ParseURL(dest string) (bucket, prefix string, err error) {
	u, err := url.Parse(dest)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return "", "", fmt.Errorf("backup destination %q is not s3://BUCKET[/PREFIX]", redact(dest))
	}
	if u.User != nil || u.RawQuery != "" {
		return "", "", fmt.Errorf("backup destination %q must not carry credentials or options; set backup.s3.access_key and backup.s3.secret_key (HUBKIT_BACKUP_S3_ACCESS_KEY, HUBKIT_BACKUP_S3_SECRET_KEY)", redact(dest))
	}
	prefix = strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := backup.CheckKey(prefix); err != nil {
			return "", "", fmt.Errorf("backup destination %q: %w", redact(dest), err)
		}
		prefix += "/"
	}
	return u.Host, prefix, nil
}

// redact drops anything that could be a credential from a destination string.
func redact(dest string) string {
	if u, err := url.Parse(dest); err == nil {
		u.User = nil
		u.RawQuery = ""
		return u.String()
	}
	return "(unparseable destination)"
}

// Open connects to s3://bucket/prefix and checks that the bucket exists.
func Open(ctx context.Context, dest string, cfg Config) (*Bucket, error) {
	bucket, prefix, err := ParseURL(dest)
	if err != nil {
		return nil, err
	}
	if cfg.Endpoint == "" {
		return nil, errors.New("backup to S3 needs an endpoint: set backup.s3.endpoint (HUBKIT_BACKUP_S3_ENDPOINT), e.g. s3.eu-central-1.amazonaws.com")
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("backup to S3 needs credentials: set HUBKIT_BACKUP_S3_ACCESS_KEY and HUBKIT_BACKUP_S3_SECRET_KEY (or backup.s3.access_key and backup.s3.secret_key)")
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    !cfg.Insecure,
		Region:    cfg.Region,
		Transport: cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("backup.s3.endpoint %q: %w", cfg.Endpoint, err)
	}
	b := &Bucket{c: c, bucket: bucket, prefix: prefix, desc: "s3://" + bucket + "/" + prefix + " at " + cfg.Endpoint}
	ok, err := c.BucketExists(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.desc, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s: the bucket does not exist; create it first (hubctl never creates buckets)", b.desc)
	}
	return b, nil
}

func (b *Bucket) String() string { return b.desc }

func (b *Bucket) name(key string) (string, error) {
	if err := backup.CheckKey(key); err != nil {
		return "", err
	}
	return b.prefix + key, nil
}

func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	name, err := b.name(key)
	if err != nil {
		return err
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if size < 0 {
		opts.PartSize = partSize
	}
	info, err := b.c.PutObject(ctx, b.bucket, name, r, size, opts)
	if err != nil {
		return fmt.Errorf("backup: put %s: %w", key, err)
	}
	if size >= 0 && info.Size != size {
		return fmt.Errorf("backup: put %s: stored %d bytes, want %d", key, info.Size, size)
	}
	return nil
}

func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	name, err := b.name(key)
	if err != nil {
		return nil, err
	}
	// GetObject is lazy: Stat first so a missing object fails here.
	if _, err := b.Stat(ctx, key); err != nil {
		return nil, err
	}
	o, err := b.c.GetObject(ctx, b.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, b.wrap(key, err)
	}
	return o, nil
}

func (b *Bucket) Stat(ctx context.Context, key string) (backup.ObjectInfo, error) {
	name, err := b.name(key)
	if err != nil {
		return backup.ObjectInfo{}, err
	}
	oi, err := b.c.StatObject(ctx, b.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return backup.ObjectInfo{}, b.wrap(key, err)
	}
	return backup.ObjectInfo{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

func (b *Bucket) List(ctx context.Context, prefix string, fn func(backup.ObjectInfo) error) error {
	if err := backup.CheckPrefix(prefix); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine when fn fails
	for oi := range b.c.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: b.prefix + prefix, Recursive: true}) {
		if oi.Err != nil {
			return fmt.Errorf("backup: list %s: %w", prefix, oi.Err)
		}
		key := strings.TrimPrefix(oi.Key, b.prefix)
		if strings.HasSuffix(key, "/") {
			continue // a directory marker some tools create
		}
		if err := fn(backup.ObjectInfo{Key: key, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (b *Bucket) Delete(ctx context.Context, key string) error {
	name, err := b.name(key)
	if err != nil {
		return err
	}
	if err := b.c.RemoveObject(ctx, b.bucket, name, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("backup: delete %s: %w", key, err)
	}
	return nil
}

func isNotFound(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == "NoSuchKey" || r.StatusCode == http.StatusNotFound
}

func (b *Bucket) wrap(key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("backup: %s: %w", key, backup.ErrNotExist)
	}
	return fmt.Errorf("backup: %s: %w", key, err)
}
