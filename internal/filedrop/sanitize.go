package filedrop

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// MaxNameBytes bounds a stored file name (UTF-8 bytes). Most file systems
// allow 255; the margin leaves room for a browser's " (1)" and the like.
const MaxNameBytes = 200

// maxExtBytes is the longest tail after the last dot that is kept as an
// extension when a name is shortened.
const maxExtBytes = 16

// SanitizeName turns a client-supplied file name into one that is safe to
// store, list and offer as a download name on any system:
//
//   - only the last path component is kept (both / and \ separate), so
//     "../../etc/passwd" and "C:\Users\x\a.pdf" lose their directories;
//   - invalid UTF-8 becomes "_"; control characters and invisible format
//     characters are removed, among them the bidi overrides (U+202A–U+202E,
//     U+2066–U+2069) that make "gpj.exe" display as "exe.jpg", and
//     zero-width characters;
//   - characters Windows forbids (< > : " | ? *) become "_", other white
//     space becomes a space, runs of spaces one space;
//   - leading and trailing spaces and dots go (Windows drops them
//     silently, and a leading dot hides a file on Unix);
//   - names Windows reserves for devices (CON, PRN, AUX, NUL, COM0–9,
//     LPT0–9, with any extension) get a "_" in front;
//   - the result is NFC-normalised and at most MaxNameBytes long,
//     shortened in the middle so that the extension survives;
//   - a name with nothing left becomes "file".
//
// The result is a fixed point: SanitizeName(SanitizeName(s)) == SanitizeName(s).
func SanitizeName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	name = strings.ReplaceAll(name, `\`, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	name = norm.NFC.String(strings.Map(mapNameRune, name))
	name = tidy(name)
	if reserved(name) {
		name = "_" + name
	}
	name = shorten(name, MaxNameBytes)
	if name == "" {
		return "file"
	}
	return name
}

// mapNameRune drops or replaces one character of a name.
func mapNameRune(r rune) rune {
	switch {
	case r == utf8.RuneError:
		return '_'
	case unicode.IsSpace(r):
		// Before the controls: a tab or newline separated words.
		return ' '
	case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r):
		// Cc: C0/C1 controls. Cf: bidi embeddings, overrides and isolates,
		// zero-width joiners and spaces, the BOM, soft hyphen, tag characters.
		return -1
	case strings.ContainsRune(`<>:"|?*`, r):
		return '_'
	case unicode.Is(unicode.Co, r), unicode.Is(unicode.Cs, r), !unicode.IsPrint(r) && !unicode.IsGraphic(r):
		// Private-use and unassigned characters display as boxes or not at
		// all; a name should say what it shows.
		return '_'
	}
	return r
}

// tidy collapses runs of spaces and trims spaces and dots at both ends.
func tidy(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.Trim(s, " .")
}

// reserved reports whether Windows treats name as a device: CON, PRN, AUX,
// NUL, COM0–COM9, LPT0–LPT9 (also with superscript digits), whatever
// follows the first dot.
func reserved(name string) bool {
	stem, _, _ := strings.Cut(name, ".")
	stem = strings.ToUpper(strings.TrimRight(stem, " "))
	switch stem {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(stem) > 3 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) {
		switch stem[3:] {
		case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
			return true
		}
	}
	return false
}

// shorten cuts name to at most max bytes, keeping a short extension, at a
// boundary where NFC is stable so the result stays normalised.
func shorten(name string, max int) string {
	if len(name) <= max {
		return name
	}
	base, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= maxExtBytes && !strings.ContainsRune(name[i:], ' ') {
		base, ext = name[:i], name[i:]
	}
	base = cutAtBoundary(base, max-len(ext))
	base = strings.TrimRight(base, " .")
	if base == "" {
		// Nothing of the name fits next to the extension: keep the start of the whole.
		return strings.TrimRight(cutAtBoundary(name, max), " .")
	}
	return base + ext
}

// cutAtBoundary returns the longest prefix of s of at most n bytes that
// ends at an NFC segment boundary (never inside a character or between a
// letter and its combining marks).
func cutAtBoundary(s string, n int) string {
	if n <= 0 {
		return ""
	}
	var it norm.Iter
	it.InitString(norm.NFC, s)
	end := 0
	for !it.Done() {
		pos := it.Pos()
		it.Next()
		if it.Pos() > n {
			return s[:pos]
		}
		end = it.Pos()
	}
	return s[:end]
}
