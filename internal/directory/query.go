package directory

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hubkit/hubkit/internal/kommune"
)

// Limits on the free text, so a long query can't make search expensive.
const (
	MaxTextLen = 200 // runes; the rest is ignored
	MaxTerms   = 16  // terms and qualifiers; the rest are ignored
)

// Query is a directory search as it travels in a URL:
// q (free text), kind, tag, kommune (code) and scope.
type Query struct {
	Text    string // free text as typed, at most MaxTextLen runes
	Kind    Kind   // "" for every kind
	Tag     string // "" for every tag
	Kommune int    // 0 for every kommune
	Scope   string // ScopeAll, ScopeRegion or ScopeNational
}

// QueryError says which URL parameter of a search is wrong.
type QueryError struct {
	Param string
	Value string
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("directory: %s=%q is not a valid value (use the search form's choices)", e.Param, e.Value)
}

// ParseQuery reads a search from URL parameters. The filter parameters come
// from the search form's choices, so a value the form never offers is an
// error; the free text is never an error.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{Text: strings.TrimSpace(truncate(strings.TrimSpace(v.Get("q")), MaxTextLen))}
	if s := v.Get("kind"); s != "" {
		if !slices.Contains(Kinds, Kind(s)) {
			return q, &QueryError{"kind", s}
		}
		q.Kind = Kind(s)
	}
	if s := v.Get("tag"); s != "" {
		if !slices.Contains(AllTags(), s) {
			return q, &QueryError{"tag", s}
		}
		q.Tag = s
	}
	if s := v.Get("kommune"); s != "" {
		code, err := strconv.Atoi(s)
		if _, known := kommune.ByCode(code); err != nil || !known {
			return q, &QueryError{"kommune", s}
		}
		q.Kommune = code
	}
	if s := v.Get("scope"); s != "" {
		if !slices.Contains(Scopes, s) {
			return q, &QueryError{"scope", s}
		}
		q.Scope = s
	}
	return q, nil
}

// Values returns the query as URL parameters, leaving out empty ones, so
// ParseQuery(q.Values()) == q.
func (q Query) Values() url.Values {
	v := url.Values{}
	if q.Text != "" {
		v.Set("q", q.Text)
	}
	if q.Kind != "" {
		v.Set("kind", string(q.Kind))
	}
	if q.Tag != "" {
		v.Set("tag", q.Tag)
	}
	if q.Kommune != 0 {
		v.Set("kommune", strconv.Itoa(q.Kommune))
	}
	if q.Scope != "" {
		v.Set("scope", q.Scope)
	}
	return v
}

// Encode is Values().Encode(): the query string, keys sorted.
func (q Query) Encode() string { return q.Values().Encode() }

// IsZero says whether the query selects everything.
func (q Query) IsZero() bool { return q == Query{} }

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// Text is free text parsed into folded terms and qualifiers. Every term and
// qualifier must match (AND).
//
// Syntax: words separated by spaces; "double quotes" group words into one
// term; key:value (or key:"quoted value") restricts by tag, kind, kommune or
// region, e.g. `tag:politi kommune:"Høje-Taastrup" søren`. A qualifier whose
// value names nothing known is an ordinary term, so it matches what it says
// and nothing else. An unterminated quote runs to the end.
type Text struct {
	Terms    []string // folded with kommune.Key, non-empty
	Tags     []string
	Kinds    []Kind
	Kommuner []int
	Regions  []string // region ids
}

// ParseText parses free text. It never fails; see Text for the syntax.
func ParseText(s string) Text {
	var t Text
	s = truncate(s, MaxTextLen)
	n := 0
	for len(s) > 0 && n < MaxTerms {
		var tok string
		var quoted bool
		tok, quoted, s = nextToken(s)
		if tok == "" {
			continue
		}
		n++
		if !quoted && t.qualifier(tok, &s) {
			continue
		}
		if k := kommune.Key(tok); k != "" {
			t.Terms = append(t.Terms, k)
		}
	}
	return t
}

// nextToken returns the next word or quoted phrase of s and the rest.
func nextToken(s string) (tok string, quoted bool, rest string) {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	if s == "" {
		return "", false, ""
	}
	if s[0] == '"' {
		s = s[1:]
		if i := strings.IndexByte(s, '"'); i >= 0 {
			return s[:i], true, s[i+1:]
		}
		return s, true, ""
	}
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		i = len(s)
	}
	// A quote inside a word (kommune:"Høje Taastrup") is handled by qualifier.
	return s[:i], false, s[i:]
}

// qualifier handles a key:value token and reports whether it was one it
// understood. A value that starts with a quote continues into *rest.
func (t *Text) qualifier(tok string, rest *string) bool {
	key, val, ok := strings.Cut(tok, ":")
	if !ok {
		return false
	}
	key = strings.ToLower(key)
	switch key {
	case "tag", "kind", "kommune", "region":
	default:
		return false
	}
	if strings.HasPrefix(val, `"`) {
		joined := val[1:] + *rest
		if i := strings.IndexByte(joined, '"'); i >= 0 {
			val, *rest = joined[:i], joined[i+1:]
		} else {
			val, *rest = joined, ""
		}
	}
	switch key {
	case "tag":
		if tag, ok := lookupTag(val); ok {
			t.Tags = append(t.Tags, tag)
			return true
		}
	case "kind":
		if k, ok := lookupKind(val); ok {
			t.Kinds = append(t.Kinds, k)
			return true
		}
	case "kommune":
		if k, ok := kommune.Lookup(val); ok {
			t.Kommuner = append(t.Kommuner, k.Code)
			return true
		}
	case "region":
		for _, r := range kommune.Regions() {
			if f := kommune.Key(val); f != "" && (f == kommune.Key(r.ID) || f == kommune.Key(r.Name) || f == kommune.Key("Region "+r.Name)) {
				t.Regions = append(t.Regions, r.ID)
				return true
			}
		}
	}
	// Unknown value: search for the words themselves.
	if k := kommune.Key(val); k != "" {
		t.Terms = append(t.Terms, k)
	}
	return true
}
