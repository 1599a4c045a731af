package federation

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hubkit/hubkit/internal/keyfile"
)

// SigningKeyFile is where the hub's signing key lives, relative to the
// data directory, next to the file-encryption key and like it outside any
// bundle.
const SigningKeyFile = "keys/federation.key"

const seedPrefix = "HUBKIT-ED25519-SEED-"

// LoadOrCreateSigningKey returns the hub's Ed25519 key, created (0600) at
// the first start. Whoever holds it can send drops in the hub's name.
func LoadOrCreateSigningKey(dataDir string) (ed25519.PrivateKey, error) {
	if dataDir == "" {
		return nil, errors.New("federation: no data directory given for the signing key")
	}
	path := filepath.Join(dataDir, filepath.FromSlash(SigningKeyFile))
	b, err := keyfile.LoadOrCreate(path, "signing key", func(b []byte) error {
		_, err := parseSigningKey(b)
		return err
	}, func() ([]byte, error) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return fmt.Appendf(nil, "# hubkit federation signing key: other regions' hubs accept drops signed with it.\n"+
			"# created: %s\n# public key: %s\n%s%s\n", time.Now().UTC().Format(time.RFC3339),
			base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey)),
			seedPrefix, base64.StdEncoding.EncodeToString(k.Seed())), nil
	})
	if err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	return parseSigningKey(b)
}

// parseSigningKey reads a key file: comments and one seed line.
func parseSigningKey(b []byte) (ed25519.PrivateKey, error) {
	var key ed25519.PrivateKey
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if key != nil {
			return nil, fmt.Errorf("line %d: more than one key", n+1)
		}
		seed, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, seedPrefix))
		if !strings.HasPrefix(line, seedPrefix) || err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("line %d: not a %s line with a %d-byte seed", n+1, seedPrefix, ed25519.SeedSize)
		}
		key = ed25519.NewKeyFromSeed(seed)
	}
	if key == nil {
		return nil, errors.New("no key line")
	}
	return key, nil
}
