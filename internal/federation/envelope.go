package federation

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hubkit/hubkit/internal/filedrop"
)

// Wire names.
const (
	DocPath         = "/.well-known/hubkit-peer.json"
	ParcelPath      = "/federation/v1/parcels"
	WithdrawalPath  = "/federation/v1/withdrawals"
	HeaderFrom      = "Hubkit-From"      // the sending region's id
	HeaderSignature = "Hubkit-Signature" // "ed25519 <base64 signature of the envelope bytes>"
	envelopePart    = "envelope"
	filePart        = "file"
)

// Limits on what a hub reads before it has checked who sent it.
const (
	MaxEnvelopeBytes = 256 << 10
	MaxClockSkew     = 10 * time.Minute
)

// Kinds of envelope.
const (
	KindParcel     = "parcel"
	KindWithdrawal = "withdrawal"
)

// Envelope is what a hub signs: a parcel or a withdrawal, from one region
// to another, at a time.
type Envelope struct {
	Kind     string           `json:"kind"`
	From     string           `json:"from"`
	To       string           `json:"to"`
	IssuedAt time.Time        `json:"issued_at"`
	Parcel   *filedrop.Parcel `json:"parcel,omitempty"`
	DropID   string           `json:"drop_id,omitempty"` // withdrawal: the sender's drop id
}

// PeerDoc is a hub's public description of itself.
type PeerDoc struct {
	Region       string `json:"region"`
	AgeRecipient string `json:"age_recipient"`
	SigningKey   string `json:"signing_key"` // base64 of the Ed25519 public key
}

// sign encodes env and signs the bytes.
func sign(key ed25519.PrivateKey, env *Envelope) (body []byte, sigHeader string, err error) {
	body, err = json.Marshal(env)
	if err != nil {
		return nil, "", err
	}
	return body, "ed25519 " + base64.StdEncoding.EncodeToString(ed25519.Sign(key, body)), nil
}

// verify checks a signature header over body with pub.
func verify(pub ed25519.PublicKey, body []byte, sigHeader string) bool {
	alg, b64, ok := strings.Cut(sigHeader, " ")
	if !ok || alg != "ed25519" {
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	return err == nil && len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, body, sig)
}

// ParseEnvelope decodes an envelope and checks its form: known fields
// only, one JSON value, the kind's own fields present, from and to set
// and different. It does not check the signature or the time.
func ParseEnvelope(b []byte) (*Envelope, error) {
	if len(b) > MaxEnvelopeBytes {
		return nil, fmt.Errorf("envelope of %d bytes; at most %d", len(b), MaxEnvelopeBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var env Envelope
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	if dec.More() {
		return nil, errors.New("envelope: more than one JSON value")
	}
	switch {
	case env.From == "" || env.To == "" || env.From == env.To:
		return nil, fmt.Errorf("envelope: from %q to %q", env.From, env.To)
	case env.IssuedAt.IsZero():
		return nil, errors.New("envelope: no issued_at")
	case env.Kind == KindParcel && (env.Parcel == nil || env.DropID != ""):
		return nil, errors.New("envelope: a parcel envelope holds a parcel and nothing else")
	case env.Kind == KindWithdrawal && (env.Parcel != nil || env.DropID == ""):
		return nil, errors.New("envelope: a withdrawal names a drop_id and nothing else")
	case env.Kind != KindParcel && env.Kind != KindWithdrawal:
		return nil, fmt.Errorf("envelope: unknown kind %q", env.Kind)
	}
	return &env, nil
}

// publicKey decodes a peer document's signing key.
func (d *PeerDoc) publicKey() (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(d.SigningKey)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("peer document of %s: signing_key is not a base64 Ed25519 public key", d.Region)
	}
	return ed25519.PublicKey(b), nil
}
