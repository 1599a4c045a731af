package filedrop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
)

// Open hands a file of a drop to its sender or one of its recipients, as a
// stream that decrypts the blob's segments in order with constant memory.
// The download is audited before the first byte is returned.
//
// The stream checks the plaintext against the recorded size and SHA-256
// as it goes: a damaged or altered blob ends in an ErrCorrupt error
// instead of io.EOF, so the HTTP layer can abort the response rather than
// let a wrong file look complete. Anyone who is not sender or recipient,
// and any id that does not exist, gets ErrNotFound (and a failure record).
//
// A download that is under way when the drop is withdrawn or expires runs
// to its end (the open file outlives its name); no new one starts.
func (d *Drops) Open(ctx context.Context, a Actor, dropID, fileID string) (io.ReadCloser, *File, error) {
	ev := actorEvent(EventDownload, a)
	ev.Subject = idOrMalformed(dropID)
	ev.Detail = map[string]string{"file": idOrMalformed(fileID)}
	fail := func(err error) (io.ReadCloser, *File, error) {
		ev.Reason = reasonFor(err)
		d.auditFailure(ctx, ev)
		return nil, nil, err
	}
	if err := checkActor(a); err != nil {
		return fail(err)
	}
	row, as, err := d.access(ctx, d.db, a, dropID)
	if err != nil {
		return fail(err)
	}
	if !validID(fileID) {
		return fail(ErrNotFound)
	}
	fr, err := scanFile(d.db.QueryRowContext(ctx, `SELECT `+fileCols+` FROM drop_files WHERE id = ? AND drop_id = ?`, fileID, dropID))
	if errors.Is(err, sql.ErrNoRows) {
		return fail(ErrNotFound)
	}
	if err != nil {
		return fail(fmt.Errorf("filedrop: %w", err))
	}
	ev.Case = row.caseRef
	ev.Detail["sha256"] = fr.SHA256
	ev.Detail["size"] = itoa(fr.Size)
	ev.Detail["as"] = as.String()
	br, err := openBlob(d.blobPath(fileID), d.id, true, fr.Size, fr.SHA256)
	if err != nil {
		d.logger.Error("filedrop: stored file cannot be opened", "drop", dropID, "file", fileID, "err", err)
		return fail(err)
	}
	if err := d.appendAudit(ctx, ev); err != nil {
		br.Close()
		return nil, nil, err
	}
	f := fr.File
	return br, &f, nil
}
