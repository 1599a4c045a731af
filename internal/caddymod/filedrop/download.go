package caddyfiledrop

import (
	"errors"
	"io"
	"net/http"
	"strconv"

	caddydirectory "github.com/hubkit/hubkit/internal/caddymod/directory"
	"github.com/hubkit/hubkit/internal/filedrop"
	"github.com/hubkit/hubkit/internal/store"
)

// serveDownload streams a file to its sender or a recipient. The engine
// decrypts as it goes and checks size and SHA-256 at the end; if the
// stored file turns out damaged, the response is cut off (the client sees
// fewer bytes than Content-Length) instead of ending like a good file.
//
// The file is always an attachment of type application/octet-stream with
// nosniff: whatever the uploader put in it, the browser saves it and never
// renders it in the hub's origin.
func (h *Handler) serveDownload(w http.ResponseWriter, r *http.Request, sess *store.Session, p params) error {
	rc, f, err := h.drops.Open(r.Context(), actor(r, sess), p["id"], p["fid"])
	if err != nil {
		return htmlError(h.explain(r, err, nil, ""), err)
	}
	defer rc.Close()
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Disposition", caddydirectory.Attachment(f.Name))
	hd.Set("Content-Length", strconv.FormatInt(f.Size, 10))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		if errors.Is(err, filedrop.ErrCorrupt) {
			h.logger.Error("file drop: a stored file is damaged; the download was cut off", "drop", p["id"], "file", p["fid"], "error", err)
		}
		// Headers are sent: cutting the connection is the only way left to
		// tell the client the file is not whole.
		panic(http.ErrAbortHandler)
	}
	return nil
}
