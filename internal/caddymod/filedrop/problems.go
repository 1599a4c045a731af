package caddyfiledrop

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/ui"
)

// problem is how a refusal is answered: a status, and a message for the
// person in their language, about one form control or the whole form.
type problem struct {
	status int
	field  string // id of the form control; "" for the whole form
	msg    string
}

func (p problem) fieldError() ui.FieldError { return ui.FieldError{Field: p.field, Message: p.msg} }

// tooBig reports whether err comes from a body over the route's
// request_body limit (Caddy wraps it in a 413 HandlerError).
func tooBig(err error) bool {
	var mbe *http.MaxBytesError
	var he caddyhttp.HandlerError
	return errors.As(err, &mbe) || errors.As(err, &he) && he.StatusCode == http.StatusRequestEntityTooLarge
}

// bodyReader remembers the first error reading a request body, because
// the engine reports a failed read as ErrIncomplete without its cause, and
// a body over the limit must be answered 413, not 400.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && b.err == nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// explain turns an engine (or body) error into a problem. name is the file
// being stored when it happened, for the messages that name it.
func (h *Handler) explain(r *http.Request, err error, body *bodyReader, name string) problem {
	lang := ui.Lang(r)
	t := func(key string, args ...any) string { return ui.T(lang, key, args...) }
	pol := h.policy()
	size := ui.FormatBytes(lang, pol.MaxFileBytes)
	if body != nil && body.err != nil && tooBig(body.err) || tooBig(err) {
		return problem{http.StatusRequestEntityTooLarge, "files", t("drops.err.too_large", size)}
	}
	if filedrop.IsStorageFull(err) {
		h.logger.Error("file drop: the hub's storage is full; the upload was refused and nothing of the file was kept",
			"error", err, "path", r.URL.Path)
		return problem{http.StatusInsufficientStorage, "files", t("drops.err.storage_full")}
	}
	var ve *filedrop.ValidationError
	switch {
	case errors.As(err, &ve):
		return h.invalid(lang, ve)
	case errors.Is(err, filedrop.ErrNotFound):
		return problem{http.StatusNotFound, "", t("error.404.body")}
	case errors.Is(err, filedrop.ErrTooLarge):
		return problem{http.StatusRequestEntityTooLarge, "files", t("drops.err.too_large", size)}
	case errors.Is(err, filedrop.ErrTooManyFiles):
		return problem{http.StatusBadRequest, "files", t("drops.err.too_many", pol.MaxFiles)}
	case errors.Is(err, filedrop.ErrEmptyFile):
		return problem{http.StatusBadRequest, "files", t("drops.err.empty", displayName(name))}
	case errors.Is(err, filedrop.ErrRefusedType):
		return problem{http.StatusUnprocessableEntity, "files", t("drops.err.type", displayName(name))}
	case errors.Is(err, filedrop.ErrInfected):
		return problem{http.StatusUnprocessableEntity, "files", t("drops.err.infected", displayName(name))}
	case errors.Is(err, filedrop.ErrScanFailed):
		return problem{http.StatusServiceUnavailable, "files", t("drops.err.scan")}
	case errors.Is(err, filedrop.ErrIncomplete), body != nil && body.err != nil:
		return problem{http.StatusBadRequest, "files", t("drops.err.incomplete")}
	case errors.Is(err, filedrop.ErrNoFiles):
		return problem{http.StatusBadRequest, "files", t("drops.err.no_files")}
	case errors.Is(err, filedrop.ErrOffset), errors.Is(err, filedrop.ErrNotDraft), errors.Is(err, filedrop.ErrUploadsPending):
		return problem{http.StatusConflict, "", t("drops.err.busy")}
	case errors.Is(err, filedrop.ErrForbidden):
		return problem{http.StatusForbidden, "", t("links.err.forbidden")}
	case errors.Is(err, filedrop.ErrLinkUnavailable):
		return problem{http.StatusNotFound, "", t("upload.unavailable")}
	case errors.Is(err, filedrop.ErrWrongPassphrase):
		if strings.Contains(err.Error(), "locked") {
			return problem{http.StatusForbidden, "passphrase", t("upload.err.locked")}
		}
		return problem{http.StatusForbidden, "passphrase", t("upload.err.passphrase")}
	case errors.Is(err, filedrop.ErrRateLimited):
		return problem{http.StatusTooManyRequests, "", t("upload.rate_limited")}
	}
	h.logger.Error("file drop: request failed", "error", err)
	return problem{http.StatusInternalServerError, "", t("drops.err.internal")}
}

// invalid names the form control a *filedrop.ValidationError is about.
func (h *Handler) invalid(lang string, ve *filedrop.ValidationError) problem {
	t := func(key string, args ...any) string { return ui.T(lang, key, args...) }
	bad := func(field, msg string) problem { return problem{http.StatusBadRequest, field, msg} }
	switch f := ve.Field; {
	case f == "case_ref":
		return bad("case_ref", t("drops.err.case_ref"))
	case f == "purpose":
		return bad("purpose", t("drops.err.purpose"))
	case f == "purpose_text":
		return bad("purpose_text", t("drops.err.purpose_text"))
	case f == "message":
		return bad("message", t("drops.err.message"))
	case f == "retention":
		return bad("retention_days", t("drops.err.retention", h.policy().MaxDays))
	case f == "recipients":
		return bad("recipients", t("drops.err.recipients"))
	case strings.HasPrefix(f, "recipients["):
		// The caller, who knows the entries, names the one (see create).
		return bad("recipients", t("drops.err.recipient", "?"))
	case f == "expiry":
		return bad("expiry_days", t("links.err.expiry", int(filedrop.MaxLinkExpiry.Hours()/24)))
	case f == "max_files", f == "max_bytes":
		return bad("max_files", t("links.err.max_files", h.policy().MaxFiles))
	case f == "passphrase":
		return bad("passphrase", t("links.err.passphrase", filedrop.MinPassphraseLen))
	case f == "name", f == "size":
		return bad("files", t("drops.err.form"))
	}
	return bad("", t("drops.err.form"))
}

// displayName is a client's file name as it may be shown back: sanitised
// like a stored name.
func displayName(name string) string { return filedrop.SanitizeName(name) }

// writeJSON answers the script's API calls.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// jsonProblem answers an API call with a problem: {"error", "field"}.
func jsonProblem(w http.ResponseWriter, p problem) {
	if p.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "60")
	}
	writeJSON(w, p.status, map[string]string{"error": p.msg, "field": p.field})
}

// wantsJSON reports whether the client is the page's script (it sends
// Accept: application/json), which gets JSON instead of pages.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// htmlError answers a page request the hub's error page shows: 404 and
// the like go through Caddy's error routes, like every other page's.
func htmlError(p problem, err error) error {
	return caddyhttp.Error(p.status, err)
}
