package federation

import (
	"crypto/ed25519"
	"fmt"
	"path/filepath"

	"github.com/hubkit/hubkit/internal/keyfile"
)

// LoadSigningKey reads the hub's existing signing key without ever
// creating one (hubctl backup signs snapshot manifests with it); a
// missing file is an error wrapping fs.ErrNotExist.
func LoadSigningKey(dataDir string) (ed25519.PrivateKey, error) {
	b, err := keyfile.Load(filepath.Join(dataDir, filepath.FromSlash(SigningKeyFile)), "signing key", func(b []byte) error {
		_, err := parseSigningKey(b)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("federation: %w", err)
	}
	return parseSigningKey(b)
}
