package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"

	"github.com/hubkit/hubkit/internal/filedrop"
)

// ServeHTTP answers the federation routes: the peer document, and the
// parcels and withdrawals other hubs send. Everything else is 404.
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == DocPath && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		doc, err := n.Doc()
		if err != nil {
			reply(w, http.StatusServiceUnavailable, answer{Error: "the file drop is not running"})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	case r.URL.Path == ParcelPath && r.Method == http.MethodPost:
		n.serveParcel(w, r)
	case r.URL.Path == WithdrawalPath && r.Method == http.MethodPost:
		n.serveWithdrawal(w, r)
	case slices.Contains([]string{DocPath, ParcelPath, WithdrawalPath}, r.URL.Path):
		w.Header().Set("Allow", map[bool]string{true: "GET, HEAD", false: "POST"}[r.URL.Path == DocPath])
		reply(w, http.StatusMethodNotAllowed, answer{Error: "method not allowed"})
	default:
		reply(w, http.StatusNotFound, answer{Error: "not found"})
	}
}

func reply(w http.ResponseWriter, status int, a answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(a)
}

// refusal is an error with the status it is answered with.
type refusal struct {
	status    int
	permanent bool
	err       error
}

func (e *refusal) Error() string { return e.err.Error() }

func refuse(status int, permanent bool, format string, args ...any) error {
	return &refusal{status, permanent, fmt.Errorf(format, args...)}
}

// answerErr writes err, logging it: the sending hub sees the reason, and
// so does this hub's operator.
func (n *Node) answerErr(w http.ResponseWriter, r *http.Request, err error) {
	var rf *refusal
	switch {
	case errors.As(err, &rf):
	case errors.Is(err, filedrop.ErrPermanent), errors.Is(err, filedrop.ErrTooLarge), errors.Is(err, filedrop.ErrRefusedType),
		errors.Is(err, filedrop.ErrEmptyFile), errors.Is(err, filedrop.ErrInfected):
		rf = &refusal{http.StatusUnprocessableEntity, true, err}
	case errors.Is(err, filedrop.ErrIncomplete), errors.Is(err, filedrop.ErrCorrupt):
		rf = &refusal{http.StatusBadRequest, false, err}
	default:
		rf = &refusal{http.StatusServiceUnavailable, false, err}
	}
	n.logger().Warn("federation: refused a delivery", "from", r.Header.Get(HeaderFrom), "path", r.URL.Path, "status", rf.status, "err", err)
	reply(w, rf.status, answer{Error: rf.err.Error(), Permanent: rf.permanent})
}

// authenticate checks an envelope's signature, sender and time. It
// fetches the sender's peer document, again if the cached one's key
// does not verify.
func (n *Node) authenticate(ctx context.Context, r *http.Request, body []byte, kind string) (*Envelope, error) {
	from := r.Header.Get(HeaderFrom)
	if _, ok := n.Peers[from]; !ok {
		return nil, refuse(http.StatusForbidden, true, "%s %q is not another region's hub", HeaderFrom, from)
	}
	env, err := ParseEnvelope(body)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, true, "%v", err)
	}
	if env.From != from || env.To != n.Region || env.Kind != kind {
		return nil, refuse(http.StatusForbidden, true, "a %s envelope from %s to %s, sent to %s as %s", env.Kind, env.From, env.To, n.Region, from)
	}
	sig := r.Header.Get(HeaderSignature)
	for _, fresh := range []bool{false, true} {
		doc, err := n.peerDoc(ctx, from, fresh)
		if err != nil {
			return nil, refuse(http.StatusServiceUnavailable, false, "cannot check the signature: %v", err)
		}
		pub, _ := doc.publicKey()
		if verify(pub, body, sig) {
			if age := n.now().Sub(env.IssuedAt); age > MaxClockSkew || age < -MaxClockSkew {
				return nil, refuse(http.StatusUnauthorized, false, "envelope issued at %s; this hub's time is %s (more than %s apart)",
					env.IssuedAt.UTC().Format("2006-01-02T15:04:05Z"), n.now().UTC().Format("2006-01-02T15:04:05Z"), MaxClockSkew)
			}
			return env, nil
		}
	}
	return nil, refuse(http.StatusUnauthorized, false, "the signature does not verify with %s's signing key", from)
}

// serveParcel receives a parcel: the envelope part first (checked before
// anything else is read), then each file, decrypted as it streams into
// the engine.
func (n *Node) serveParcel(w http.ResponseWriter, r *http.Request) {
	if n.drops == nil {
		reply(w, http.StatusServiceUnavailable, answer{Error: "the file drop is not running"})
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		n.answerErr(w, r, refuse(http.StatusUnsupportedMediaType, true, "want multipart/form-data"))
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	part, err := mr.NextPart()
	if err != nil || part.FormName() != envelopePart {
		n.answerErr(w, r, refuse(http.StatusBadRequest, true, "the first part must be the envelope"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(part, MaxEnvelopeBytes+1))
	if err != nil {
		n.answerErr(w, r, refuse(http.StatusBadRequest, false, "reading the envelope: %v", err))
		return
	}
	env, err := n.authenticate(r.Context(), r, body, KindParcel)
	if err != nil {
		n.answerErr(w, r, err)
		return
	}
	next := func() (filedrop.Upload, error) {
		part, err := mr.NextPart()
		if err == io.EOF {
			return filedrop.Upload{}, io.EOF
		}
		if err != nil {
			return filedrop.Upload{}, err
		}
		if part.FormName() != filePart {
			return filedrop.Upload{}, refuse(http.StatusBadRequest, true, "unexpected part %q", part.FormName())
		}
		plain, err := n.drops.Decrypt(part)
		if err != nil {
			return filedrop.Upload{}, fmt.Errorf("%w: a file is not encrypted to this hub: %v", filedrop.ErrPermanent, err)
		}
		return filedrop.Upload{Body: plain, Size: -1}, nil
	}
	id, err := n.drops.Receive(r.Context(), env.From, env.Parcel, next)
	if err != nil {
		n.answerErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, answer{Drop: id})
}

// serveWithdrawal ends a drop its sender withdrew on their hub.
func (n *Node) serveWithdrawal(w http.ResponseWriter, r *http.Request) {
	if n.drops == nil {
		reply(w, http.StatusServiceUnavailable, answer{Error: "the file drop is not running"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxEnvelopeBytes+1))
	if err != nil {
		n.answerErr(w, r, refuse(http.StatusBadRequest, false, "reading the envelope: %v", err))
		return
	}
	env, err := n.authenticate(r.Context(), r, body, KindWithdrawal)
	if err != nil {
		n.answerErr(w, r, err)
		return
	}
	if err := n.drops.ReceiveWithdrawal(r.Context(), env.From, env.DropID); err != nil {
		n.answerErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, answer{})
}
