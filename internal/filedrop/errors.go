package filedrop

import (
	"errors"
	"fmt"
)

// Errors a caller maps to answers. Each is wrapped with details; test with
// errors.Is.
var (
	// ErrNotFound: no such drop, file, upload or link for this actor. It is
	// also the answer for things that exist but are not the actor's, so
	// that an id cannot be probed for existence.
	ErrNotFound = errors.New("filedrop: not found")
	// ErrInvalid: the request itself is wrong (a *ValidationError says which field).
	ErrInvalid = errors.New("filedrop: invalid request")
	// ErrTooLarge: a file is over the policy's size limit (or a link's budget).
	ErrTooLarge = errors.New("filedrop: file too large")
	// ErrTooManyFiles: the drop (or link) already holds its maximum number of files.
	ErrTooManyFiles = errors.New("filedrop: too many files")
	// ErrEmptyFile: a file with no content; there is nothing to share.
	ErrEmptyFile = errors.New("filedrop: empty file")
	// ErrRefusedType: the file's name or content is of a refused type (executables).
	ErrRefusedType = errors.New("filedrop: file type refused")
	// ErrIncomplete: fewer bytes arrived than were declared.
	ErrIncomplete = errors.New("filedrop: upload incomplete")
	// ErrNotDraft: files can be added, and a drop sealed, only while it is a draft.
	ErrNotDraft = errors.New("filedrop: drop is already sealed")
	// ErrNoFiles: a drop cannot be sealed without a file.
	ErrNoFiles = errors.New("filedrop: drop has no files")
	// ErrUploadsPending: a drop cannot be sealed while resumable uploads to it are open.
	ErrUploadsPending = errors.New("filedrop: uploads still in progress")
	// ErrOffset: a chunk was sent for the wrong offset (see *OffsetError).
	ErrOffset = errors.New("filedrop: wrong upload offset")
	// ErrInfected: the malware scanner found something (see *InfectedError).
	ErrInfected = errors.New("filedrop: malware found")
	// ErrScanFailed: scanning is on and gave no verdict; the file is refused.
	ErrScanFailed = errors.New("filedrop: malware scan failed")
	// ErrCorrupt: a stored blob does not decrypt, or its content does not
	// match the recorded size and SHA-256.
	ErrCorrupt = errors.New("filedrop: stored file is damaged")
	// ErrForbidden: the actor may not do this at all (e.g. create upload
	// links without the consultant role). Not used for other people's
	// drops, which are ErrNotFound.
	ErrForbidden = errors.New("filedrop: not allowed")
	// ErrLinkUnavailable: the upload link is unknown, expired, used up,
	// revoked or in use. One error for all, so a token cannot be probed.
	ErrLinkUnavailable = errors.New("filedrop: upload link is not valid")
	// ErrWrongPassphrase: the link needs a passphrase and this was not it.
	ErrWrongPassphrase = errors.New("filedrop: wrong passphrase")
	// ErrRateLimited: too many link attempts from one address; try later.
	ErrRateLimited = errors.New("filedrop: too many attempts")
)

// ValidationError names the field of a request that is wrong and why.
type ValidationError struct {
	Field string // e.g. "case_ref", "recipients[2]"
	Msg   string
}

func (e *ValidationError) Error() string { return fmt.Sprintf("filedrop: %s: %s", e.Field, e.Msg) }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// OffsetError says where a resumable upload really stands, so the client
// can resume from there.
type OffsetError struct {
	Got, Want int64
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("filedrop: chunk sent for offset %d but the upload stands at %d; resume from %d", e.Got, e.Want, e.Want)
}

// Is makes errors.Is(err, ErrOffset) true.
func (e *OffsetError) Is(target error) bool { return target == ErrOffset }

// InfectedError names what the scanner found.
type InfectedError struct {
	Signature string
}

func (e *InfectedError) Error() string {
	return fmt.Sprintf("filedrop: the malware scanner found %s; the file was not stored", e.Signature)
}

// Is makes errors.Is(err, ErrInfected) true.
func (e *InfectedError) Is(target error) bool { return target == ErrInfected }
