package backup

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// StatusFile is written into the data directory after every backup, so
// the hub (or a monitoring check) can tell how old the last good one is.
const StatusFile = "backup-status.json"

// Status is the content of StatusFile.
type Status struct {
	Time     time.Time `json:"time"`
	Dest     string    `json:"dest"` // Target.String(): never credentials
	Snapshot string    `json:"snapshot,omitempty"`
	OK       bool      `json:"ok"`
	Error    string    `json:"error,omitempty"`
	// LastOK is the time of the last successful backup, kept across failures.
	LastOK time.Time `json:"last_ok,omitzero"`
}

// WriteStatus replaces dataDir/StatusFile atomically (temporary file,
// flush, rename), keeping LastOK from the previous status on a failure.
func WriteStatus(dataDir string, s Status) error {
	path := filepath.Join(dataDir, StatusFile)
	if s.OK {
		s.LastOK = s.Time
	} else if b, err := os.ReadFile(path); err == nil {
		var old Status
		if json.Unmarshal(b, &old) == nil {
			s.LastOK = old.LastOK
		}
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("backup: status file: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup: status file: %w", err)
	}
	return nil
}

// ReadStatus reads dataDir/StatusFile; ok is false when there is none (or
// it cannot be read).
func ReadStatus(dataDir string) (s Status, ok bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, StatusFile))
	if err != nil || json.Unmarshal(b, &s) != nil {
		return Status{}, false
	}
	return s, true
}
