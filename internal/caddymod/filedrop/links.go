package caddyfiledrop

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/store"
	"github.com/hubkit/hubkit/internal/ui"
)

// linkRole is the role that may create upload links (the engine's default).
const linkRole = "consultant"

const day = 24 * time.Hour

// linkBudgetCap bounds all files of one link submission together. It is
// the cap of the /u/ route's request_body limit in internal/bundle (4 GiB,
// plus room for the form there).
const linkBudgetCap = 4 << 30

// serveLinks lists the user's upload links and offers the form for a new one.
func (h *Handler) serveLinks(w http.ResponseWriter, r *http.Request, sess *store.Session, _ params) error {
	c, err := h.linksContent(r, sess)
	if err != nil {
		return htmlError(h.explain(r, err, nil, ""), err)
	}
	c.Form = ui.LinkForm{Purpose: string(filedrop.PurposeConsent), ExpiryDays: itoa(int(filedrop.DefaultLinkExpiry / day)),
		MaxFiles: itoa(c.Policy.MaxFiles), RetentionDays: itoa(c.Policy.DefaultDays)}
	c.Notice = notice(r)
	h.render(w, r, http.StatusOK, "links", sess, c)
	return nil
}

func (h *Handler) linksContent(r *http.Request, sess *store.Session) (ui.LinksContent, error) {
	links, err := h.drops.Links(r.Context(), actor(r, sess))
	return ui.LinksContent{
		Links: links, CanCreate: actor(r, sess).HasRole(linkRole), Policy: h.policy(),
		MaxExpiryDays: int(filedrop.MaxLinkExpiry / day), DefaultExpiryDays: int(filedrop.DefaultLinkExpiry / day),
		MinPassphrase: filedrop.MinPassphraseLen, Now: time.Now(),
	}, err
}

// serveCreateLink creates an upload link and shows its address, this once.
func (h *Handler) serveCreateLink(w http.ResponseWriter, r *http.Request, sess *store.Session, _ params) error {
	lang := ui.Lang(r)
	f := ui.LinkForm{
		CaseRef: r.PostFormValue("case_ref"), Purpose: r.PostFormValue("purpose"), PurposeText: r.PostFormValue("purpose_text"),
		ExpiryDays: r.PostFormValue("expiry_days"), MaxFiles: r.PostFormValue("max_files"), RetentionDays: r.PostFormValue("retention_days"),
	}
	spec, ps := h.linkSpec(lang, f, r.PostFormValue("passphrase"))
	if len(ps) == 0 {
		l, err := h.drops.CreateLink(r.Context(), actor(r, sess), spec)
		if err == nil {
			h.render(w, r, http.StatusOK, "link_created", sess, ui.LinkCreatedContent{Link: l, URL: h.linkURL(r, l.Token)})
			return nil
		}
		ps = []problem{h.explain(r, err, nil, "")}
	}
	c, err := h.linksContent(r, sess)
	if err != nil {
		return htmlError(h.explain(r, err, nil, ""), err)
	}
	c.Form = f
	for _, p := range ps {
		c.Errors = append(c.Errors, p.fieldError())
	}
	h.render(w, r, ps[0].status, "links", sess, c)
	return nil
}

// linkSpec checks the new-link form; empty numbers take the defaults.
func (h *Handler) linkSpec(lang string, f ui.LinkForm, passphrase string) (filedrop.LinkSpec, []problem) {
	t := func(key string, args ...any) string { return ui.T(lang, key, args...) }
	bad := func(field, msg string) problem { return problem{http.StatusBadRequest, field, msg} }
	pol := h.policy()
	var ps []problem
	spec := filedrop.LinkSpec{Purpose: filedrop.Purpose(f.Purpose), Passphrase: passphrase}
	var err error
	if spec.CaseRef, err = filedrop.NormaliseCaseRef(f.CaseRef); err != nil {
		ps = append(ps, bad("case_ref", t("drops.err.case_ref")))
	}
	switch {
	case !spec.Purpose.Valid():
		ps = append(ps, bad("purpose", t("drops.err.purpose")))
	case spec.Purpose == filedrop.PurposeOther:
		if spec.PurposeText = strings.TrimSpace(f.PurposeText); spec.PurposeText == "" {
			ps = append(ps, bad("purpose_text", t("drops.err.purpose_text")))
		}
	}
	number := func(field, s string, max int, msg string) int {
		if strings.TrimSpace(s) == "" {
			return 0
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > max {
			ps = append(ps, bad(field, msg))
			return 0
		}
		return n
	}
	maxExpiry := int(filedrop.MaxLinkExpiry / day)
	spec.Expiry = time.Duration(number("expiry_days", f.ExpiryDays, maxExpiry, t("links.err.expiry", maxExpiry))) * day
	spec.MaxFiles = number("max_files", f.MaxFiles, pol.MaxFiles, t("links.err.max_files", pol.MaxFiles))
	spec.RetentionDays = number("retention_days", f.RetentionDays, pol.MaxDays, t("drops.err.retention", pol.MaxDays))
	// All of the link's files together may take what they may take one by
	// one, up to what one request may carry: the upload page has no
	// script, so a submission is a single multipart request.
	files := spec.MaxFiles
	if files == 0 {
		files = pol.MaxFiles
	}
	spec.MaxBytes = min(int64(files)*pol.MaxFileBytes, linkBudgetCap)
	if passphrase != "" && len([]rune(passphrase)) < filedrop.MinPassphraseLen {
		ps = append(ps, bad("passphrase", t("links.err.passphrase", filedrop.MinPassphraseLen)))
	}
	return spec, ps
}

// linkURL is the address an upload link's token is handed out at: the
// hub's own domain (with the port the request came in on, for
// development), never a Host header's say.
func (h *Handler) linkURL(r *http.Request, token string) string {
	host := h.site.Region.Domain
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "443" {
		host = net.JoinHostPort(host, port)
	}
	return "https://" + host + "/u/" + token
}

// serveRevokeLink closes one of the user's links.
func (h *Handler) serveRevokeLink(w http.ResponseWriter, r *http.Request, sess *store.Session, p params) error {
	if err := h.drops.RevokeLink(r.Context(), actor(r, sess), p["id"]); err != nil {
		return h.fail(w, r, err)
	}
	http.Redirect(w, r, "/drops/links?notice=revoked", http.StatusSeeOther)
	return nil
}
