package region

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hubkit/hubkit/internal/kommune"
)

// Error is one problem in a region file, with where it is and how to fix it.
type Error struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	Path    string `json:"path,omitempty"` // e.g. /resource_persons/3/email
}

// String renders the error as FILE:LINE:COL: message (hint), the form
// editors and CI logs recognise. An error about the file as a whole
// (missing, a directory, too large) has line 0 and reads FILE: message.
func (e Error) String() string {
	s := fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Message)
	if e.Line == 0 {
		s = fmt.Sprintf("%s: %s", e.File, e.Message)
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

func (e Error) Error() string { return e.String() }

// Errors is every problem found, in file and line order.
type Errors []Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.String()
	}
	return strings.Join(lines, "\n")
}

// Err returns es as an error, or nil when there are none.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// Sort orders errors by file, line and column, keeping the order of
// errors found at the same place.
func (es Errors) Sort() {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// Closest returns the candidate nearest to s if it is a likely typo of
// it, else "" (case-insensitive edit distance).
func Closest(s string, candidates []string) string { return closest(s, candidates, nil) }

// IDs are the ids of the five Danish regions, in their usual order.
func IDs() []string {
	var ids []string
	for _, r := range kommune.Regions() {
		ids = append(ids, r.ID)
	}
	return ids
}

// closest returns the candidate nearest to s (by edit distance on folded
// text), if it is near enough to be a likely typo.
func closest(s string, candidates []string, fold func(string) string) string {
	if fold == nil {
		fold = strings.ToLower
	}
	fs := fold(s)
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(fs, fold(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := len([]rune(fs))/3 + 1
	if limit > 3 {
		limit = 3
	}
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
