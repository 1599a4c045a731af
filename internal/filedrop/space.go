package filedrop

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/dustin/go-humanize"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrStorageFull: the hub's disk (or its quota) is full, or free space is
// below the configured floor. Nothing of the file is kept; a resumable
// upload continues from its last committed byte once there is room.
var ErrStorageFull = errors.New("filedrop: the hub's storage is full")

// DefaultMinFree is Options.MinFreeBytes when zero.
const DefaultMinFree = 1 << 30

// IsStorageFull reports whether err says that storage ran out: the
// engine's own refusal, a write that failed with ENOSPC or EDQUOT, or
// SQLite's "database or disk is full".
func IsStorageFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrStorageFull) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL
}

// checkSpace refuses an upload of need more bytes (0 when unknown) when
// the blob directory's file system would then have less than the floor
// free, so that a full disk is met by a clear refusal before the first
// byte rather than by a failed write half-way.
func (d *Drops) checkSpace(need int64) error {
	floor := d.opts.MinFreeBytes
	if floor == 0 {
		floor = DefaultMinFree
	}
	if floor < 0 {
		return nil
	}
	free, err := freeBytes(d.blobs)
	if err != nil {
		// Not knowing is no reason to refuse; a full disk still fails the write.
		d.logger.Warn("filedrop: cannot read the free space of the blob directory", "error", err)
		return nil
	}
	if need < 0 {
		need = 0
	}
	if free < uint64(floor)+uint64(need) {
		return fmt.Errorf("%w: %s free, the floor is %s (file_drop.min_free) and the file needs %s",
			ErrStorageFull, humanize.IBytes(free), humanize.IBytes(uint64(floor)), humanize.IBytes(uint64(need)))
	}
	return nil
}

// FreeBytes is the space free for the hub in its blob directory.
func (d *Drops) FreeBytes() (uint64, error) { return freeBytes(d.blobs) }
