package backup

import (
	"crypto/ed25519"
	"testing"
	"time"
)

// FuzzParseManifest: the manifest comes from a target anyone with bucket
// access could write; parsing it must never panic, and what parses must
// encode back to the same bytes.
func FuzzParseManifest(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(nil)
	m := &Manifest{Format: Format, Name: "20261201T120000Z", Time: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		Region: "nordjylland", Version: "test", Recipients: []string{"age1example"},
		Audit: AuditHead{Seq: 3, Hash: "0000000000000000000000000000000000000000000000000000000000000000"},
		Objects: []Object{
			{Key: "snapshots/20261201T120000Z/hub.db.age", Kind: KindStore, Path: "hub.db", Size: 10, SHA256: "1111111111111111111111111111111111111111111111111111111111111111"},
			{Key: "snapshots/20261201T120000Z/audit.log.age", Kind: KindAudit, Path: "audit.log", Size: 10, SHA256: "2222222222222222222222222222222222222222222222222222222222222222"},
		},
		Blobs: []Blob{{File: "0123456789abcdef0123456789abcdef", Drop: "fedcba9876543210fedcba9876543210", Size: 5,
			SHA256: "3333333333333333333333333333333333333333333333333333333333333333", RetainUntil: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	unsigned, _ := m.encode()
	f.Add(unsigned)
	m.Sign(key)
	signed, _ := m.encode()
	f.Add(signed)
	f.Add([]byte(`{"format":"hubkit-backup/1"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest("fuzz", b)
		if err != nil {
			return
		}
		again, err := m.encode()
		if err != nil || string(again) != string(b) {
			t.Fatalf("a parsed manifest does not encode to its bytes")
		}
	})
}

func TestParseManifestSeeds(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	m := &Manifest{Format: Format, Name: "20261201T120000Z", Time: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		Recipients: []string{"age1example"}, Audit: AuditHead{Hash: "0000000000000000000000000000000000000000000000000000000000000000"},
		Objects: []Object{
			{Key: "snapshots/20261201T120000Z/hub.db.age", Kind: KindStore, Path: "hub.db", SHA256: "1111111111111111111111111111111111111111111111111111111111111111"},
			{Key: "snapshots/20261201T120000Z/audit.log.age", Kind: KindAudit, Path: "audit.log", SHA256: "2222222222222222222222222222222222222222222222222222222222222222"},
		}, Blobs: []Blob{}}
	if err := m.Sign(key); err != nil {
		t.Fatal(err)
	}
	b, _ := m.encode()
	if _, err := ParseManifest("m", b); err != nil {
		t.Fatalf("a signed manifest does not parse: %v", err)
	}
	bad := *m
	bad.Objects = append([]Object{}, m.Objects...)
	bad.Objects[0].Path = "../etc/passwd"
	b, _ = bad.encode()
	if _, err := ParseManifest("m", b); err == nil {
		t.Fatal("a manifest restoring to ../etc/passwd parsed")
	}
}
