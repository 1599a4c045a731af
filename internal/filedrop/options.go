package filedrop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hubkit/hubkit/internal/clamav"
	"github.com/hubkit/hubkit/internal/region"
)

// Options configure the engine.
type Options struct {
	// Policy is the region's file-drop policy, normalised (region.Load
	// fills in every field).
	Policy region.FileDropPolicy
	// Scanner, when set, scans every file with clamd before it is stored.
	// Scanning fails closed: a file clamd did not call clean is refused,
	// and so is every file while clamd is down. clamd's StreamMaxLength
	// must be at least Policy.MaxFileBytes, or larger files are refused.
	Scanner *clamav.Client
	// RefusedExtensions are file-name extensions (".exe") that are refused.
	// nil means DefaultRefusedExtensions; an empty, non-nil slice refuses none.
	RefusedExtensions []string
	// AllowExecutableContent turns off the refusal of files whose content
	// is a Windows, Linux or macOS executable, whatever their name.
	AllowExecutableContent bool
	// Notify, when set, is called after a drop is sealed, once for each
	// recipient whose e-mail address is known (see notify.Notifier; the
	// hub wires it with its own URL). It runs in the background: a slow
	// relay does not hold up the sender, and a failure is only logged.
	Notify func(ctx context.Context, email string) error
	// Region is the id of this hub's region; Route and Courier forward
	// drops to the other regions' hubs (forward.go). Without them every
	// recipient is taken to be this hub's user.
	Region  string
	Route   Router
	Courier Courier
	// LinkRole is the role that may create upload links; default "consultant".
	LinkRole string
	// LinkAttemptsPerMinute bounds link uses (and passphrase guesses) per
	// client address; default 20 (a burst of that many, then one every 3 s).
	LinkAttemptsPerMinute int
	// MinFreeBytes is the free space of the blob directory's file system
	// below which new uploads are refused early with ErrStorageFull;
	// DefaultMinFree when 0, no floor when negative.
	MinFreeBytes int64
	// Logger receives operational messages (never case content); default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now. Tests set it.
	Now func() time.Time
}

// DefaultRefusedExtensions are the names refused unless Options says
// otherwise: programs and scripts that run when opened on Windows. Case
// material is documents, pictures and recordings; a program among it is a
// mistake or an attack, and a scanner does not know every new one.
var DefaultRefusedExtensions = []string{
	".exe", ".com", ".scr", ".pif", ".bat", ".cmd", ".msi", ".msp", ".dll", ".cpl",
	".vbs", ".vbe", ".js", ".jse", ".wsf", ".wsh", ".ps1", ".psm1", ".hta", ".lnk",
	".jar", ".reg", ".inf", ".scf", ".appx", ".msix", ".application", ".gadget",
}

// policy is the resolved Options.Policy.
type policy struct {
	maxFileBytes  int64
	maxFiles      int
	defaultDays   int
	maxDays       int
	refusedExt    map[string]bool
	allowExec     bool
	linkRole      string
	linkPerMinute int
}

func resolvePolicy(o Options) (policy, error) {
	p := o.Policy
	if p.MaxFilesPerDrop == nil || p.DefaultRetentionDays == nil || p.MaxRetentionDays == nil || p.MaxFileBytes <= 0 {
		return policy{}, errors.New("filedrop: the file-drop policy is not normalised (max file size, files per drop and retention days must all be set); load the region with region.Load")
	}
	r := policy{
		maxFileBytes:  p.MaxFileBytes,
		maxFiles:      *p.MaxFilesPerDrop,
		defaultDays:   *p.DefaultRetentionDays,
		maxDays:       *p.MaxRetentionDays,
		allowExec:     o.AllowExecutableContent,
		linkRole:      o.LinkRole,
		linkPerMinute: o.LinkAttemptsPerMinute,
	}
	if r.maxFiles < 1 || r.defaultDays < 1 || r.maxDays < r.defaultDays {
		return policy{}, fmt.Errorf("filedrop: policy has %d files per drop, %d default and %d maximum retention days; want at least 1 file and 1 ≤ default ≤ maximum", r.maxFiles, r.defaultDays, r.maxDays)
	}
	if r.linkRole == "" {
		r.linkRole = "consultant"
	}
	if r.linkPerMinute <= 0 {
		r.linkPerMinute = 20
	}
	exts := o.RefusedExtensions
	if exts == nil {
		exts = DefaultRefusedExtensions
	}
	r.refusedExt = make(map[string]bool, len(exts))
	for _, e := range exts {
		e = strings.ToLower(strings.TrimSpace(e))
		if !strings.HasPrefix(e, ".") {
			e = "." + e
		}
		r.refusedExt[e] = true
	}
	return r, nil
}
