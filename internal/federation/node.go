package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hubkit/hubkit/internal/filedrop"
)

// docTTL is how long a peer document is trusted before it is fetched
// again; a signature that fails to verify refetches it (a peer restored
// with a new key), but not more often than docRefresh, so that requests
// with bad signatures cannot make a hub fetch documents in a loop.
const (
	docTTL     = 10 * time.Minute
	docRefresh = time.Minute
)

// Node is one hub's end of the federation: it delivers this hub's
// forwards (filedrop.Courier) and receives the other hubs' (ServeHTTP).
type Node struct {
	Region string             // this hub's region id
	Key    ed25519.PrivateKey // this hub's signing key
	Peers  map[string]string  // the other regions' hubs: id → base URL
	HTTP   *http.Client       // for peer documents and deliveries
	Logger *slog.Logger
	Now    func() time.Time // default time.Now

	drops *filedrop.Drops

	mu   sync.Mutex
	docs map[string]cachedDoc
}

type cachedDoc struct {
	doc *PeerDoc
	at  time.Time
}

var _ filedrop.Courier = (*Node)(nil)

// Attach gives the node the engine it receives into and whose key it
// publishes. The engine is opened with the node as its Courier, so the
// two are joined after both exist.
func (n *Node) Attach(d *filedrop.Drops) { n.drops = d }

func (n *Node) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

func (n *Node) logger() *slog.Logger {
	if n.Logger != nil {
		return n.Logger
	}
	return slog.Default()
}

// Doc is this hub's peer document.
func (n *Node) Doc() (*PeerDoc, error) {
	if n.drops == nil {
		return nil, errors.New("federation: no file-drop engine attached")
	}
	return &PeerDoc{Region: n.Region, AgeRecipient: n.drops.Recipient().String(),
		SigningKey: base64.StdEncoding.EncodeToString(n.Key.Public().(ed25519.PublicKey))}, nil
}

// peerDoc returns region's peer document, from the cache unless fresh is
// set or it is older than docTTL.
func (n *Node) peerDoc(ctx context.Context, region string, fresh bool) (*PeerDoc, error) {
	base, ok := n.Peers[region]
	if !ok {
		return nil, fmt.Errorf("%w: region %q is not a known peer (not in the region files)", filedrop.ErrPermanent, region)
	}
	n.mu.Lock()
	c, ok := n.docs[region]
	n.mu.Unlock()
	if age := n.now().Sub(c.at); ok && (age < docRefresh || !fresh && age < docTTL) {
		return c.doc, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+DocPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := n.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("peer document of %s: %w", region, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("peer document of %s: %s answered %s", region, base+DocPath, resp.Status)
	}
	var doc PeerDoc
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<10)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("peer document of %s: %w", region, err)
	}
	if doc.Region != region {
		return nil, fmt.Errorf("peer document at %s names region %q, not %q", base+DocPath, doc.Region, region)
	}
	if _, err := doc.publicKey(); err != nil {
		return nil, err
	}
	n.mu.Lock()
	if n.docs == nil {
		n.docs = map[string]cachedDoc{}
	}
	n.docs[region] = cachedDoc{&doc, n.now()}
	n.mu.Unlock()
	return &doc, nil
}
