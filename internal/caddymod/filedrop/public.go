package caddyfiledrop

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"

	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/login"
	"github.com/hubkit/hubkit/internal/store"
	"github.com/hubkit/hubkit/internal/ui"
)

// The upload page behind a link is for people without a login: it is
// routed outside the authenticator, so nothing here may depend on a
// session. The token is the only key; the engine rate-limits attempts per
// address and gives one answer for every link that cannot be used, so
// tokens cannot be probed.

// servePublic shows the upload form of a usable link.
func (h *Handler) servePublic(w http.ResponseWriter, r *http.Request, _ *store.Session, p params) error {
	info, err := h.drops.CheckLink(r.Context(), p["token"], login.ClientIP(r))
	if err != nil {
		return h.publicRefusal(w, r, err)
	}
	h.render(w, r, http.StatusOK, "upload_public", nil, ui.UploadPublicContent{Info: info, Action: r.URL.EscapedPath()})
	return nil
}

// publicRefusal shows why a link cannot be used now.
func (h *Handler) publicRefusal(w http.ResponseWriter, r *http.Request, err error) error {
	switch {
	case errors.Is(err, filedrop.ErrRateLimited):
		w.Header().Set("Retry-After", "60")
		h.render(w, r, http.StatusTooManyRequests, "upload_public", nil, ui.UploadPublicContent{RateLimited: true})
	case errors.Is(err, filedrop.ErrLinkUnavailable):
		h.render(w, r, http.StatusNotFound, "upload_public", nil, ui.UploadPublicContent{Unavailable: true})
	default:
		return htmlError(h.explain(r, err, nil, ""), err)
	}
	return nil
}

// servePublicUpload takes a submission through a link: multipart with the
// passphrase and message first, then the files, streamed one by one into
// the engine. The engine checks the link (and the passphrase) before it
// asks for the first file, so a dead link costs the hub the form's small
// fields at most, and every refused attempt is audited.
func (h *Handler) servePublicUpload(w http.ResponseWriter, r *http.Request, _ *store.Session, p params) error {
	lang := ui.Lang(r)
	// Nobody is logged in, so there is no CSRF token; the link's token
	// is in the path, but a post that a browser says comes from another
	// origin is refused outright (login.SameOrigin).
	if !login.SameOrigin(r, login.Origin(h.site.Site, r)) {
		return htmlError(problem{status: http.StatusForbidden}, fmt.Errorf("hubkit_filedrop: upload from another origin (Sec-Fetch-Site %q, Origin %q)",
			r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Origin")))
	}
	token, ip := p["token"], login.ClientIP(r)
	body := &bodyReader{r: r.Body}
	r.Body = struct {
		io.Reader
		io.Closer
	}{body, r.Body}
	c := ui.UploadPublicContent{Action: r.URL.EscapedPath()}
	var current string // the file being read, for messages naming it
	// refuse shows the form again with what went wrong, when the link can
	// still be used; otherwise the page that says it cannot.
	refuse := func(pr problem, cause error) error {
		switch {
		case errors.Is(cause, filedrop.ErrRateLimited), errors.Is(cause, filedrop.ErrLinkUnavailable):
			return h.publicRefusal(w, r, cause)
		}
		info, err := h.drops.CheckLink(r.Context(), token, ip)
		if err != nil {
			// Locked after this wrong passphrase, say: tell why, and that it is over.
			c.Unavailable, c.Errors = true, []ui.FieldError{pr.fieldError()}
			h.render(w, r, pr.status, "upload_public", nil, c)
			return nil
		}
		c.Info = info
		switch {
		case pr.status == http.StatusRequestEntityTooLarge:
			pr.msg = ui.T(lang, "upload.err.too_large", ui.FormatBytes(lang, info.MaxFileBytes), ui.FormatBytes(lang, info.MaxBytes))
		case errors.Is(cause, filedrop.ErrTooManyFiles):
			pr.msg = ui.T(lang, "drops.err.too_many", info.MaxFiles)
		}
		c.Errors = []ui.FieldError{pr.fieldError()}
		h.render(w, r, pr.status, "upload_public", nil, c)
		return nil
	}
	formProblem := problem{http.StatusBadRequest, "", ui.T(lang, "drops.err.form")}
	mr, err := r.MultipartReader()
	if err != nil {
		return refuse(formProblem, err)
	}
	sub := filedrop.LinkSubmission{Token: token, IP: ip}
	var first *multipart.Part
	for n := 0; first == nil; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return refuse(h.explain(r, filedrop.ErrIncomplete, body, ""), filedrop.ErrIncomplete)
		}
		if part.FormName() == "files" {
			first = part
			break
		}
		v, err := readField(part)
		if err != nil || n > maxFields {
			return refuse(formProblem, errFormOrder)
		}
		switch part.FormName() {
		case "passphrase":
			sub.Passphrase = v
		case "message":
			sub.Message, c.Message = v, v
		}
	}
	var orderErr error
	next := func() (filedrop.Upload, error) {
		for {
			part := first
			first = nil
			if part == nil {
				var err error
				if part, err = mr.NextPart(); err != nil {
					return filedrop.Upload{}, err // io.EOF after the last
				}
			}
			if part.FormName() != "files" {
				orderErr = errFormOrder
				return filedrop.Upload{}, errFormOrder
			}
			if part.FileName() == "" {
				continue // an empty file input
			}
			current = part.FileName()
			return filedrop.Upload{Name: part.FileName(), Size: -1, Body: part}, nil
		}
	}
	rec, err := h.drops.LinkUpload(r.Context(), sub, next)
	if err != nil {
		if orderErr != nil {
			return refuse(formProblem, orderErr)
		}
		return refuse(h.explain(r, err, body, current), err)
	}
	h.render(w, r, http.StatusOK, "upload_done", nil, ui.UploadDoneContent{Receipt: rec})
	return nil
}
