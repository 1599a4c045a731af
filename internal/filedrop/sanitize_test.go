package filedrop

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestSanitizeName(t *testing.T) {
	long := strings.Repeat("æ", 150) + ".pdf" // 300 bytes of base
	tests := []struct{ in, want string }{
		{"rapport.pdf", "rapport.pdf"},
		{"Møde med borger 2026.docx", "Møde med borger 2026.docx"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\anna\Desktop\notat.txt`, "notat.txt"},
		{"/abs/path/", "file"},
		{"..", "file"},
		{"", "file"},
		{" . ", "file"},
		{".bashrc", "bashrc"},
		{"trailing dots...", "trailing dots"},
		{"a\x00b\x1fc\x7fd.txt", "abcd.txt"},
		{"line\nbreak\ttab.txt", "line break tab.txt"},
		{"many     spaces.txt", "many spaces.txt"},
		{"faktura\u202efdp.exe", "fakturafdp.exe"},     // RIGHT-TO-LEFT OVERRIDE removed
		{"\u2066a\u2069b\u200b\ufeffc.txt", "abc.txt"}, // isolates, zero-width space, BOM
		{`what?<is>this:"file"|*.txt`, "what__is_this__file___.txt"},
		{"e\u0301.txt", "é.txt"}, // NFC
		{"CON", "_CON"},
		{"con.txt", "_con.txt"},
		{"Com1.tar.gz", "_Com1.tar.gz"},
		{"LPT9", "_LPT9"},
		{"COM¹.txt", "_COM¹.txt"},
		{"console.txt", "console.txt"},
		{"COM10.txt", "COM10.txt"},
		{"bad\xffutf8.txt", "bad_utf8.txt"},
		{"private\ue000use.txt", "private_use.txt"},
		{long, strings.Repeat("æ", (MaxNameBytes-4)/2) + ".pdf"},
		{strings.Repeat("a", 300), strings.Repeat("a", MaxNameBytes)},
		{strings.Repeat("a", 300) + ".verylongextension_more_than_16", strings.Repeat("a", MaxNameBytes)},
		{strings.Repeat("e\u0301", 120) + ".txt", strings.Repeat("é", (MaxNameBytes-4)/2) + ".txt"},
	}
	for _, tc := range tests {
		if got := SanitizeName(tc.in); got != tc.want {
			t.Errorf("SanitizeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		checkSanitized(t, tc.in)
	}
}

// checkSanitized asserts the properties every sanitised name has.
func checkSanitized(t *testing.T, in string) {
	t.Helper()
	got := SanitizeName(in)
	switch {
	case got == "":
		t.Fatalf("SanitizeName(%q) is empty", in)
	case !utf8.ValidString(got):
		t.Fatalf("SanitizeName(%q) = %q is not UTF-8", in, got)
	case len(got) > MaxNameBytes:
		t.Fatalf("SanitizeName(%q) = %d bytes, over %d", in, len(got), MaxNameBytes)
	case strings.ContainsAny(got, `/\<>:"|?*`):
		t.Fatalf("SanitizeName(%q) = %q holds a separator or reserved character", in, got)
	case !norm.NFC.IsNormalString(got):
		t.Fatalf("SanitizeName(%q) = %q is not NFC", in, got)
	case strings.Trim(got, " .") != got:
		t.Fatalf("SanitizeName(%q) = %q starts or ends with a space or dot", in, got)
	case reserved(got):
		t.Fatalf("SanitizeName(%q) = %q is a reserved device name", in, got)
	case SanitizeName(got) != got:
		t.Fatalf("SanitizeName is not idempotent: %q → %q → %q", in, got, SanitizeName(got))
	}
	for _, r := range got {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			t.Fatalf("SanitizeName(%q) = %q holds %U", in, got, r)
		}
	}
}

// FuzzSanitizeName: a file name is outside input; whatever it is, the
// result has every property SanitizeName promises.
func FuzzSanitizeName(f *testing.F) {
	for _, s := range []string{"a.txt", "../x", "CON.txt", "\u202eexe.pdf", strings.Repeat("ø", 200) + ".docx", "e\u0301", " .", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) { checkSanitized(t, in) })
}
