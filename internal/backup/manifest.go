package backup

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Format names this version of the snapshot layout and manifest.
const Format = "hubkit-backup/1"

// sigContext separates manifest signatures from anything else the hub's
// signing key signs (federation envelopes).
const sigContext = "hubkit backup manifest v1\n"

// Object kinds in a manifest.
const (
	KindStore          = "store"           // hub.db, age-encrypted
	KindAudit          = "audit"           // audit.log up to Manifest.Audit, age-encrypted
	KindKey            = "key"             // a file of keys/, age-encrypted
	KindBundleManifest = "bundle-manifest" // the bundle's manifest.json, as it is (hashes only)
)

// Manifest describes one snapshot. It is stored as snapshots/<name>/manifest.json,
// last, so a snapshot without one is incomplete. It holds no case content:
// ids, sizes, hashes and retention dates, so that verify and prune work
// without the operators' private key. It is signed with the hub's
// federation signing key, so an edit (a removed blob, a later expiry) shows.
type Manifest struct {
	Format     string    `json:"format"`
	Name       string    `json:"name"`
	Time       time.Time `json:"time"` // when the store was snapshotted, UTC
	Region     string    `json:"region,omitempty"`
	Version    string    `json:"hubctl_version"`
	Recipients []string  `json:"recipients"` // age public keys the encrypted objects are for
	Audit      AuditHead `json:"audit"`
	Objects    []Object  `json:"objects"`
	Blobs      []Blob    `json:"blobs"`
	// Ended are files the snapshot's store references whose blobs the hub
	// deleted while the backup ran (their drops ended meanwhile, as the
	// live store said when the blob was found missing).
	Ended []Ended `json:"ended,omitempty"`
	// SigningKey is the hub's Ed25519 public key (base64), as other
	// regions' hubs know it; Signature covers the manifest without it.
	SigningKey string `json:"signing_key,omitempty"`
	Signature  string `json:"signature,omitempty"`
}

// AuditHead is the audit log's head at snapshot time: the log in the
// snapshot ends with this record.
type AuditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Object is one of a snapshot's own objects.
type Object struct {
	Key    string `json:"key"`            // in the target
	Kind   string `json:"kind"`           // Kind*
	Path   string `json:"path,omitempty"` // where it is restored, relative to the data directory
	Size   int64  `json:"size"`           // bytes in the target
	SHA256 string `json:"sha256"`         // of the bytes in the target
}

// Blob is a file-drop blob the snapshot's store references. Blobs are
// shared between snapshots (BlobKey), copied as they are (age-encrypted to
// the hub's key).
type Blob struct {
	File        string    `json:"file"` // drop_files.id
	Drop        string    `json:"drop"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	RetainUntil time.Time `json:"retain_until"` // the drop's retention date: prune deletes the blob after it
}

// Ended is a referenced file whose blob was gone during the backup.
type Ended struct {
	File   string `json:"file"`
	Drop   string `json:"drop"`
	Reason string `json:"reason"`
}

// BlobKey is where a file's blob is kept in a target, the same path as in
// the data directory: blob ids are random and a blob never changes once
// committed, so one object serves every snapshot that references it.
func BlobKey(fileID string) string { return "blobs/" + fileID[:2] + "/" + fileID + ".age" }

// SnapshotPrefix is the key prefix of a snapshot's own objects.
func SnapshotPrefix(name string) string { return "snapshots/" + name + "/" }

// ManifestKey is where a snapshot's manifest is.
func ManifestKey(name string) string { return SnapshotPrefix(name) + "manifest.json" }

// nameLayout is the time format of snapshot names: sortable, no colons.
const nameLayout = "20060102T150405Z"

var (
	nameRe = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z(-[0-9]+)?$`)
	hexRe  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	idRe   = regexp.MustCompile(`^[0-9a-f]{32}$`)
	pathRe = regexp.MustCompile(`^(hub\.db|audit\.log|keys/[A-Za-z0-9][A-Za-z0-9._-]*)$`)
)

// ValidName reports whether s is a snapshot name.
func ValidName(s string) bool { return nameRe.MatchString(s) }

// NameTime is the time a snapshot name stands for.
func NameTime(name string) (time.Time, error) {
	return time.Parse(nameLayout, strings.SplitN(name, "-", 2)[0])
}

// encode returns the manifest as stored: indented JSON with a final newline.
func (m *Manifest) encode() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("backup: encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// signed returns the bytes the signature covers.
func (m *Manifest) signed() ([]byte, error) {
	c := *m
	c.Signature = ""
	b, err := c.encode()
	if err != nil {
		return nil, err
	}
	return append([]byte(sigContext), b...), nil
}

// Sign sets SigningKey and Signature.
func (m *Manifest) Sign(key ed25519.PrivateKey) error {
	m.SigningKey = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	msg, err := m.signed()
	if err != nil {
		return err
	}
	m.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))
	return nil
}

// ParseManifest reads a stored manifest and checks everything that can be
// checked without the objects: the format, that the bytes are exactly the
// encoding Marshal gives (so even an edit that keeps the JSON meaning
// shows), every field's form, and the signature. key names the object in
// errors. It never panics, whatever the input (FuzzParseManifest).
func ParseManifest(key string, b []byte) (*Manifest, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("backup: %s: %s", key, fmt.Sprintf(format, args...))
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fail("not a snapshot manifest (%v): the object was damaged or edited", err)
	}
	if dec.More() {
		return nil, fail("data after the manifest: the object was damaged or edited")
	}
	if m.Format != Format {
		return nil, fail("format %q, this hubctl reads %q", m.Format, Format)
	}
	if err := m.check(); err != nil {
		return nil, fail("%v", err)
	}
	again, err := m.encode()
	if err != nil || !bytes.Equal(again, b) {
		return nil, fail("not in the form hubctl writes: the manifest was edited")
	}
	if m.SigningKey != "" || m.Signature != "" {
		pub, err1 := base64.StdEncoding.DecodeString(m.SigningKey)
		sig, err2 := base64.StdEncoding.DecodeString(m.Signature)
		if err1 != nil || err2 != nil || len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
			return nil, fail("signing_key or signature is malformed: the manifest was edited")
		}
		msg, err := m.signed()
		if err != nil || !ed25519.Verify(pub, msg, sig) {
			return nil, fail("the signature does not match: the manifest was edited after the backup")
		}
	}
	return &m, nil
}

// check validates the fields' form.
func (m *Manifest) check() error {
	if !ValidName(m.Name) {
		return fmt.Errorf("snapshot name %q is not of the form 20061231T235959Z", m.Name)
	}
	if m.Time.IsZero() || m.Time.Location() != time.UTC {
		return errors.New("time is missing or not UTC")
	}
	if !hexRe.MatchString(m.Audit.Hash) {
		return fmt.Errorf("audit head hash %q is not 64 hex digits", m.Audit.Hash)
	}
	if len(m.Recipients) == 0 {
		return errors.New("no recipients")
	}
	seen := map[string]bool{}
	kinds := map[string]int{}
	for i, o := range m.Objects {
		switch {
		case CheckKey(o.Key) != nil || !strings.HasPrefix(o.Key, SnapshotPrefix(m.Name)) || o.Key == ManifestKey(m.Name):
			return fmt.Errorf("objects[%d]: key %q is not an object of snapshot %s", i, o.Key, m.Name)
		case seen[o.Key]:
			return fmt.Errorf("objects[%d]: key %q twice", i, o.Key)
		case o.Size < 0 || !hexRe.MatchString(o.SHA256):
			return fmt.Errorf("objects[%d]: bad size or sha256", i)
		}
		switch o.Kind {
		case KindStore, KindAudit, KindKey:
			if !pathRe.MatchString(o.Path) || seen["path:"+o.Path] {
				return fmt.Errorf("objects[%d]: path %q is not a data-directory file a snapshot restores, or it is there twice", i, o.Path)
			}
			seen["path:"+o.Path] = true
		case KindBundleManifest:
			if o.Path != "" {
				return fmt.Errorf("objects[%d]: a bundle manifest is not restored, it has no path", i)
			}
		default:
			return fmt.Errorf("objects[%d]: unknown kind %q", i, o.Kind)
		}
		seen[o.Key] = true
		kinds[o.Kind]++
	}
	if kinds[KindStore] != 1 || kinds[KindAudit] != 1 {
		return errors.New("a snapshot needs exactly one store and one audit object")
	}
	for i, bl := range m.Blobs {
		switch {
		case !idRe.MatchString(bl.File) || !idRe.MatchString(bl.Drop):
			return fmt.Errorf("blobs[%d]: file or drop id is not 32 hex digits", i)
		case seen["file:"+bl.File]:
			return fmt.Errorf("blobs[%d]: file %s twice", i, bl.File)
		case bl.Size < 0 || !hexRe.MatchString(bl.SHA256):
			return fmt.Errorf("blobs[%d]: bad size or sha256", i)
		case bl.RetainUntil.Location() != time.UTC:
			return fmt.Errorf("blobs[%d]: retain_until is not UTC", i)
		}
		seen["file:"+bl.File] = true
	}
	for i, e := range m.Ended {
		if !idRe.MatchString(e.File) || !idRe.MatchString(e.Drop) || seen["file:"+e.File] {
			return fmt.Errorf("ended[%d]: bad id, or the file is also among the blobs", i)
		}
		seen["file:"+e.File] = true
	}
	return nil
}

// hexSum is the lower-case hex of a hash.
func hexSum(sum []byte) string { return hex.EncodeToString(sum) }
