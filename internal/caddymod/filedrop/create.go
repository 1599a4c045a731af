package caddyfiledrop

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/store"
	"github.com/hubkit/hubkit/internal/ui"
)

// Bounds on the text fields of a multipart form. Files are not bounded
// here: the engine streams each one and stops at the policy's limit.
const (
	maxFieldBytes = 16 << 10
	maxFields     = 32
)

// errFormOrder: a text field after the first file. The form puts its file
// input last, and reading the body once, in order, is what keeps memory
// constant; a client that sends fields later is refused.
var errFormOrder = errors.New("form fields must come before the files")

// readField reads one text part of a multipart form.
func readField(p *multipart.Part) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxFieldBytes {
		return "", fmt.Errorf("field %q is longer than %d bytes", p.FormName(), maxFieldBytes)
	}
	return string(b), nil
}

// setDropField stores a text field of the new-drop form.
func setDropField(f *ui.DropForm, mode *string, name, v string) {
	switch name {
	case "recipients":
		f.Recipients = v
	case "case_ref":
		f.CaseRef = v
	case "purpose":
		f.Purpose = v
	case "purpose_text":
		f.PurposeText = v
	case "retention_days":
		f.RetentionDays = v
	case "message":
		f.Message = v
	case "mode":
		*mode = v
	}
}

// splitRecipients splits the recipients field at line breaks, commas and
// semicolons (people paste address lists), dropping blanks.
func splitRecipients(s string) []string {
	var out []string
	for _, r := range strings.FieldsFunc(s, func(c rune) bool { return c == '\n' || c == '\r' || c == ',' || c == ';' }) {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// dropSpec checks the form's fields, all of them, before the engine sees
// them, so a refused form lists every problem at once.
func (h *Handler) dropSpec(lang string, f ui.DropForm) (filedrop.DropSpec, []problem) {
	t := func(key string, args ...any) string { return ui.T(lang, key, args...) }
	bad := func(field, msg string) problem { return problem{http.StatusBadRequest, field, msg} }
	pol := h.policy()
	var ps []problem
	spec := filedrop.DropSpec{Recipients: splitRecipients(f.Recipients), Purpose: filedrop.Purpose(f.Purpose), Message: f.Message}
	switch n := len(spec.Recipients); {
	case n == 0:
		ps = append(ps, bad("recipients", t("drops.err.recipients")))
	case n > filedrop.MaxRecipients:
		ps = append(ps, bad("recipients", t("drops.err.recipients_n", filedrop.MaxRecipients)))
	}
	var err error
	if spec.CaseRef, err = filedrop.NormaliseCaseRef(f.CaseRef); err != nil {
		ps = append(ps, bad("case_ref", t("drops.err.case_ref")))
	}
	switch {
	case !spec.Purpose.Valid():
		ps = append(ps, bad("purpose", t("drops.err.purpose")))
	case spec.Purpose == filedrop.PurposeOther:
		spec.PurposeText = strings.TrimSpace(f.PurposeText)
		if spec.PurposeText == "" || utf8.RuneCountInString(spec.PurposeText) > filedrop.MaxPurposeTextLen {
			ps = append(ps, bad("purpose_text", t("drops.err.purpose_text")))
		}
	}
	if days := strings.TrimSpace(f.RetentionDays); days != "" {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > pol.MaxDays {
			ps = append(ps, bad("retention_days", t("drops.err.retention", pol.MaxDays)))
		}
		spec.RetentionDays = n
	}
	if utf8.RuneCountInString(f.Message) > filedrop.MaxMessageLen {
		ps = append(ps, bad("message", t("drops.err.message")))
	}
	return spec, ps
}

// createDraft validates the form and creates the draft its files go into.
// oneShot says the files all come in this request (the plain form), so a
// crash before it is sealed leaves nothing behind.
func (h *Handler) createDraft(r *http.Request, a filedrop.Actor, f ui.DropForm, oneShot bool) (*filedrop.Drop, []problem) {
	lang := ui.Lang(r)
	spec, ps := h.dropSpec(lang, f)
	if len(ps) > 0 {
		return nil, ps
	}
	spec.OneShot = oneShot
	d, err := h.drops.CreateDrop(r.Context(), a, spec)
	if err != nil {
		p := h.explain(r, err, nil, "")
		var ve *filedrop.ValidationError
		if errors.As(err, &ve) && strings.HasPrefix(ve.Field, "recipients[") {
			i, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(ve.Field, "recipients["), "]"))
			if i >= 0 && i < len(spec.Recipients) {
				p.msg = ui.T(lang, "drops.err.recipient", spec.Recipients[i])
			}
		}
		return nil, []problem{p}
	}
	return d, nil
}

// serveCreate takes the new-drop form: multipart, text fields first, then
// the files. It reads the body once, part by part: the draft is created
// when the first file arrives, each file streams into the engine (which
// encrypts it on the way to disk), and the drop is sealed after the last.
// If anything is refused, the draft and its files are deleted, so nothing
// of a refused submission is ever visible, and the form comes back filled
// in with what was wrong.
//
// The page's script uses the same route with mode=draft and no files: it
// gets the new draft as JSON and sends the files through the resumable
// upload API.
func (h *Handler) serveCreate(w http.ResponseWriter, r *http.Request, sess *store.Session, _ params) error {
	body := &bodyReader{r: r.Body}
	r.Body = struct {
		io.Reader
		io.Closer
	}{body, r.Body}
	lang := ui.Lang(r)
	a := actor(r, sess)
	var (
		form    ui.DropForm
		mode    string
		draft   *filedrop.Drop
		files   int
		chosen  bool // a file was chosen: the browser will not refill it
		started bool // a file part has begun: no more fields
	)
	refuse := func(ps ...problem) error {
		if draft != nil {
			h.withdrawQuietly(r.Context(), a, draft.ID)
		}
		if mode == "draft" || wantsJSON(r) {
			jsonProblem(w, ps[0])
			return nil
		}
		errs := make([]ui.FieldError, 0, len(ps)+1)
		for _, p := range ps {
			errs = append(errs, p.fieldError())
		}
		if chosen {
			errs = append(errs, ui.FieldError{Field: "files", Message: ui.T(lang, "drops.err.files_again")})
		}
		if ps[0].status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "60")
		}
		h.renderNew(w, r, ps[0].status, sess, form, errs)
		return nil
	}
	formProblem := problem{http.StatusBadRequest, "", ui.T(lang, "drops.err.form")}
	mr, err := r.MultipartReader()
	if err != nil {
		return refuse(formProblem)
	}
	for n := 0; ; n++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return refuse(h.explain(r, fmt.Errorf("%w: %v", filedrop.ErrIncomplete, err), body, ""))
		}
		if part.FormName() != "files" {
			if started || n > maxFields {
				return refuse(formProblem)
			}
			v, err := readField(part)
			if err != nil {
				if body.err != nil {
					return refuse(h.explain(r, filedrop.ErrIncomplete, body, ""))
				}
				return refuse(formProblem)
			}
			setDropField(&form, &mode, part.FormName(), v)
			continue
		}
		started = true
		if mode == "draft" {
			return refuse(formProblem) // the script sends files through the upload API
		}
		if part.FileName() == "" {
			continue // an empty file input: no file chosen
		}
		chosen = true
		if draft == nil {
			var ps []problem
			if draft, ps = h.createDraft(r, a, form, true); len(ps) > 0 {
				return refuse(ps...)
			}
		}
		name := part.FileName()
		if _, err := h.drops.AddFile(r.Context(), a, draft.ID, name, -1, part); err != nil {
			return refuse(h.explain(r, err, body, name))
		}
		files++
	}
	if mode == "draft" {
		d, ps := h.createDraft(r, a, form, false)
		if len(ps) > 0 {
			return refuse(ps...)
		}
		writeJSON(w, http.StatusCreated, map[string]string{"id": d.ID, "url": "/drops/" + d.ID, "uploads": "/drops/" + d.ID + "/uploads"})
		return nil
	}
	if draft == nil {
		if _, ps := h.dropSpec(lang, form); len(ps) > 0 {
			return refuse(append(ps, problem{http.StatusBadRequest, "files", ui.T(lang, "drops.err.no_files")})...)
		}
		return refuse(problem{http.StatusBadRequest, "files", ui.T(lang, "drops.err.no_files")})
	}
	if files == 0 {
		return refuse(problem{http.StatusBadRequest, "files", ui.T(lang, "drops.err.no_files")})
	}
	d, err := h.drops.Seal(r.Context(), a, draft.ID)
	if err != nil {
		return refuse(h.explain(r, err, body, ""))
	}
	http.Redirect(w, r, "/drops/"+d.ID+"?notice=sent", http.StatusSeeOther)
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
