package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"

	"filippo.io/age"

	"github.com/hubkit/hubkit/internal/filedrop"
)

// copyBuf is the buffer size of a file's stream to a peer.
const copyBuf = 256 << 10

// Deliver implements filedrop.Courier: it sends the parcel to region's
// hub, each file re-encrypted on the fly to that hub's recipient.
func (n *Node) Deliver(ctx context.Context, region string, p *filedrop.Parcel, open filedrop.ParcelOpener) error {
	doc, err := n.peerDoc(ctx, region, false)
	if err != nil {
		return err
	}
	to, err := age.ParseX25519Recipient(doc.AgeRecipient)
	if err != nil {
		return fmt.Errorf("peer document of %s: age_recipient: %w", region, err)
	}
	env, sig, err := sign(n.Key, &Envelope{Kind: KindParcel, From: n.Region, To: region, IssuedAt: n.now().UTC(), Parcel: p})
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() { pw.CloseWithError(writeParcel(ctx, mw, env, p, open, to)) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.Peers[region]+ParcelPath, pr)
	if err != nil {
		pr.Close()
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set(HeaderFrom, n.Region)
	req.Header.Set(HeaderSignature, sig)
	return n.send(req, region)
}

// writeParcel writes the envelope part and then each file's ciphertext.
func writeParcel(ctx context.Context, mw *multipart.Writer, env []byte, p *filedrop.Parcel, open filedrop.ParcelOpener, to age.Recipient) error {
	w, err := mw.CreateFormField(envelopePart)
	if err != nil {
		return err
	}
	if _, err := w.Write(env); err != nil {
		return err
	}
	buf := make([]byte, copyBuf)
	for i, f := range p.Files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+filePart+`"; filename="`+strconv.Itoa(i)+`.age"`)
		h.Set("Content-Type", "application/octet-stream")
		part, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		rc, err := open(ctx, f)
		if err != nil {
			return fmt.Errorf("file %d: %w", i+1, err)
		}
		enc, err := age.Encrypt(part, to)
		if err == nil {
			_, err = io.CopyBuffer(enc, rc, buf)
		}
		rc.Close()
		if err == nil {
			err = enc.Close()
		}
		if err != nil {
			return fmt.Errorf("file %d: %w", i+1, err)
		}
	}
	return mw.Close()
}

// Withdraw implements filedrop.Courier.
func (n *Node) Withdraw(ctx context.Context, region, dropID string) error {
	if _, ok := n.Peers[region]; !ok {
		return fmt.Errorf("%w: region %q is not a known peer", filedrop.ErrPermanent, region)
	}
	env, sig, err := sign(n.Key, &Envelope{Kind: KindWithdrawal, From: n.Region, To: region, IssuedAt: n.now().UTC(), DropID: dropID})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.Peers[region]+WithdrawalPath, bytes.NewReader(env))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderFrom, n.Region)
	req.Header.Set(HeaderSignature, sig)
	return n.send(req, region)
}

// answer is a receiving hub's reply.
type answer struct {
	Drop      string `json:"drop,omitempty"`
	Error     string `json:"error,omitempty"`
	Permanent bool   `json:"permanent,omitempty"`
}

// send does req and turns the answer into nil, a retryable error or one
// wrapping filedrop.ErrPermanent.
func (n *Node) send(req *http.Request, region string) error {
	resp, err := n.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", region, err)
	}
	defer resp.Body.Close()
	var a answer
	json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&a)
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	if a.Error == "" {
		a.Error = resp.Status
	}
	err = fmt.Errorf("the hub of %s answered %d: %s", region, resp.StatusCode, a.Error)
	if resp.StatusCode == http.StatusUnauthorized {
		// Perhaps it has an old copy of our key: its next try refetches.
		return err
	}
	if a.Permanent {
		return errors.Join(filedrop.ErrPermanent, err)
	}
	return err
}
