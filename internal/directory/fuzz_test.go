package directory

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
)

// FuzzParseText: free text comes straight from the search box. Parsing
// must never panic, must respect the limits, and must yield only non-empty
// folded terms (letters and digits only).
func FuzzParseText(f *testing.F) {
	for _, s := range []string{
		"", "søren", `"søren kjær" politi`, `tag:politi kommune:"Høje Taastrup"`, `kommune:"`, `"`,
		`region:sjælland kind:partner`, "a:b:c", "kommune:0851", strings.Repeat("ø ", 300), "\x00\xff\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		txt := ParseText(s)
		if n := len(txt.Terms) + len(txt.Tags) + len(txt.Kinds) + len(txt.Kommuner) + len(txt.Regions); n > MaxTerms {
			t.Fatalf("%d terms and qualifiers, limit %d", n, MaxTerms)
		}
		for _, term := range txt.Terms {
			if term == "" {
				t.Fatal("empty term")
			}
			for _, r := range term {
				if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					t.Fatalf("term %q is not folded (%q)", term, r)
				}
			}
		}
		// The URL form never fails on text, and round-trips.
		q, err := ParseQuery(url.Values{"q": {s}})
		if err != nil {
			t.Fatalf("ParseQuery rejected free text: %v", err)
		}
		if back, err := ParseQuery(q.Values()); err != nil || back.Text != q.Text {
			t.Fatalf("round trip of %q: %q, %v", q.Text, back.Text, err)
		}
	})
}
