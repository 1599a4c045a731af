package caddyfiledrop

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/store"
	"github.com/hubkit/hubkit/internal/ui"
)

// The resumable upload API, tus-like: the page's script begins an upload
// with the file's name and size, sends it in chunks with PATCH at the
// offset the hub has (Upload-Offset), asks with HEAD where it stands after
// a dropped connection, and finishes it. Every call carries the session's
// CSRF token in X-CSRF-Token (the authenticator checks it) and gets JSON.

// chunkType is the Content-Type of a PATCH, as in tus: it also keeps a
// cross-site form from ever producing a chunk.
const chunkType = "application/offset+octet-stream"

// maxBeginBody bounds the JSON of a begin call.
const maxBeginBody = 4 << 10

// uploadURL is where an upload's chunks go.
func uploadURL(id string) string { return "/drops/uploads/" + id }

// serveBeginUpload announces a file for a draft: JSON {"name", "size"} →
// 201 with Location and {"id", "url", "offset"}.
func (h *Handler) serveBeginUpload(w http.ResponseWriter, r *http.Request, sess *store.Session, p params) error {
	var req struct {
		Name string `json:"name"`
		Size *int64 `json:"size"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBeginBody))
	if err := dec.Decode(&req); err != nil || req.Size == nil {
		jsonProblem(w, problem{http.StatusBadRequest, "files", ui.T(ui.Lang(r), "drops.err.form")})
		return nil
	}
	id, err := h.drops.BeginUpload(r.Context(), actor(r, sess), p["id"], req.Name, *req.Size)
	if err != nil {
		jsonProblem(w, h.explain(r, err, nil, req.Name))
		return nil
	}
	w.Header().Set("Location", uploadURL(id))
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "url": uploadURL(id), "offset": 0})
	return nil
}

// serveUploadOffset answers HEAD with the upload's Upload-Offset.
func (h *Handler) serveUploadOffset(w http.ResponseWriter, r *http.Request, sess *store.Session, p params) error {
	off, err := h.drops.UploadOffset(r.Context(), actor(r, sess), p["uid"])
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	if err != nil {
		w.WriteHeader(h.explain(r, err, nil, "").status)
		return nil
	}
	hd.Set("Upload-Offset", strconv.FormatInt(off, 10))
	w.WriteHeader(http.StatusOK)
	return nil
}

// serveChunk appends a chunk at Upload-Offset: 204 with the new
// Upload-Offset; 409 with the hub's offset when the client is elsewhere.
func (h *Handler) serveChunk(w http.ResponseWriter, r *http.Request, sess *store.Session, p params) error {
	lang := ui.Lang(r)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != chunkType {
		jsonProblem(w, problem{http.StatusUnsupportedMediaType, "", ui.T(lang, "drops.err.form")})
		return nil
	}
	offset, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || offset < 0 {
		jsonProblem(w, problem{http.StatusBadRequest, "", ui.T(lang, "drops.err.form")})
		return nil
	}
	body := &bodyReader{r: r.Body}
	now, err := h.drops.WriteChunk(r.Context(), actor(r, sess), p["uid"], offset, body)
	if err == nil {
		w.Header().Set("Upload-Offset", strconv.FormatInt(now, 10))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	pr := h.explain(r, err, body, "")
	var oe *filedrop.OffsetError
	switch {
	case errors.As(err, &oe):
		w.Header().Set("Upload-Offset", strconv.FormatInt(oe.Want, 10))
	case !errors.Is(err, filedrop.ErrNotFound):
		// What arrived of a cut chunk is kept; say where to resume.
		w.Header().Set("Upload-Offset", strconv.FormatInt(now, 10))
	}
	jsonProblem(w, pr)
	return nil
}

// serveFinishUpload commits a completely sent upload as a file of its
// draft: 200 with the file's name, size and SHA-256.
func (h *Handler) serveFinishUpload(w http.ResponseWriter, r *http.Request, sess *store.Session, p params) error {
	f, err := h.drops.FinishUpload(r.Context(), actor(r, sess), p["uid"])
	if err != nil {
		jsonProblem(w, h.explain(r, err, nil, ""))
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"file": map[string]any{"id": f.ID, "name": f.Name, "size": f.Size, "sha256": f.SHA256}})
	return nil
}
