package caddyfiledrop

import (
	"context"
	"errors"
	"net/http"

	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/store"
	"github.com/hubkit/hubkit/internal/ui"
)

// notices are the confirmations a redirect may ask a page to show
// (?notice=…); anything else in the query is ignored.
var notices = map[string]string{
	"sent":      "drops.notice.sent",
	"withdrawn": "drops.notice.withdrawn",
	"revoked":   "drops.notice.revoked",
}

func notice(r *http.Request) string { return notices[r.URL.Query().Get("notice")] }

func (h *Handler) serveInbox(w http.ResponseWriter, r *http.Request, sess *store.Session, _ params) error {
	drops, err := h.drops.Inbox(r.Context(), actor(r, sess))
	if err != nil {
		return htmlError(h.explain(r, err, nil, ""), err)
	}
	h.render(w, r, http.StatusOK, "drops_inbox", sess, ui.DropsListContent{Drops: drops, Notice: notice(r)})
	return nil
}

func (h *Handler) serveSent(w http.ResponseWriter, r *http.Request, sess *store.Session, _ params) error {
	drops, err := h.drops.Sent(r.Context(), actor(r, sess))
	if err != nil {
		return htmlError(h.explain(r, err, nil, ""), err)
	}
	h.render(w, r, http.StatusOK, "drops_sent", sess, ui.DropsListContent{Drops: drops, Notice: notice(r)})
	return nil
}

// serveNew shows the form for a new drop, with the policy's default retention.
func (h *Handler) serveNew(w http.ResponseWriter, r *http.Request, sess *store.Session, _ params) error {
	h.renderNew(w, r, http.StatusOK, sess, newDropForm(h.policy()), nil)
	return nil
}

func newDropForm(p ui.DropPolicy) ui.DropForm {
	return ui.DropForm{Purpose: string(filedrop.PurposeSection12c), RetentionDays: itoa(p.DefaultDays)}
}

// renderNew shows the new-drop form, refilled and with its problems when
// a submission was refused.
func (h *Handler) renderNew(w http.ResponseWriter, r *http.Request, status int, sess *store.Session, f ui.DropForm, errs []ui.FieldError) {
	h.render(w, r, status, "drops_new", sess, ui.DropNewContent{
		Form: f, Policy: h.policy(), Errors: errs,
		// The CSRF token is the form's first field (login.CheckCSRF),
		// never in the URL: a refused post's page shows this address.
		Action: "/drops",
	})
}

// serveDrop shows one drop to its sender or a recipient.
func (h *Handler) serveDrop(w http.ResponseWriter, r *http.Request, sess *store.Session, p params) error {
	a := actor(r, sess)
	d, err := h.drops.Get(r.Context(), a, p["id"])
	if err != nil {
		return htmlError(h.explain(r, err, nil, ""), err)
	}
	c := ui.DropContent{Drop: d, IsSender: d.Sender.UserKey == a.UserKey, Notice: notice(r), RegionNames: map[string]string{}}
	for _, reg := range h.site.Regions {
		c.RegionNames[reg.ID] = reg.Name
	}
	if c.IsSender {
		c.Forwards, _ = h.drops.Forwards(r.Context(), a, d.ID)
	}
	// A drop that came through an upload link is the link owner's to delete.
	c.CanWithdraw = c.IsSender || d.Sender.LinkID != ""
	if c.IsSender && d.State == filedrop.StateDraft && len(d.Files) > 0 {
		open, err := h.drops.Uploads(r.Context(), a, d.ID)
		c.CanSeal = err == nil && len(open) == 0
	}
	h.render(w, r, http.StatusOK, "drop", sess, c)
	return nil
}

// serveWithdraw withdraws a drop and its files, then shows the list it
// was in.
func (h *Handler) serveWithdraw(w http.ResponseWriter, r *http.Request, sess *store.Session, p params) error {
	a := actor(r, sess)
	back := "/drops/sent?notice=withdrawn"
	if d, err := h.drops.Get(r.Context(), a, p["id"]); err == nil && d.Sender.UserKey != a.UserKey {
		back = "/drops?notice=withdrawn"
	}
	if err := h.drops.Withdraw(r.Context(), a, p["id"]); err != nil {
		return h.fail(w, r, err)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}

// serveSeal sends a draft whose files have all arrived (the script's last
// step, or the button on a draft's page).
func (h *Handler) serveSeal(w http.ResponseWriter, r *http.Request, sess *store.Session, p params) error {
	d, err := h.drops.Seal(r.Context(), actor(r, sess), p["id"])
	if err != nil {
		return h.fail(w, r, err)
	}
	http.Redirect(w, r, "/drops/"+d.ID+"?notice=sent", http.StatusSeeOther)
	return nil
}

// fail answers a refused action: JSON for the script, the error page
// otherwise.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) error {
	p := h.explain(r, err, nil, "")
	if wantsJSON(r) {
		jsonProblem(w, p)
		return nil
	}
	return htmlError(p, err)
}

// withdrawQuietly ends a draft that a refused submission left behind, so
// that nothing of it is visible, not even to its sender.
func (h *Handler) withdrawQuietly(ctx context.Context, a filedrop.Actor, id string) {
	if err := h.drops.Withdraw(context.WithoutCancel(ctx), a, id); err != nil && !errors.Is(err, filedrop.ErrNotFound) {
		h.logger.Error("file drop: removing the draft of a refused upload; the sweeper removes it within a day", "error", err)
	}
}
