package uitest

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// CheckHTML fails t for every problem HTMLProblems finds in a page.
func CheckHTML(t testing.TB, name string, body []byte) {
	t.Helper()
	for _, p := range HTMLProblems(body) {
		t.Errorf("%s: %s", name, p)
	}
}

// HTMLProblems checks a page against the hub's strict CSP (no inline style,
// no inline script, no event-handler attributes, no javascript: URLs) and
// the structural WCAG rules a machine can check: a language, one main
// landmark, one h1 and no skipped heading levels, a label for every form
// control, unique ids.
func HTMLProblems(body []byte) []string {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }

	z := html.NewTokenizer(bytes.NewReader(body))
	ids := map[string]int{}
	labelFor := map[string]bool{}
	type control struct{ tag, id string }
	var unlabelled []control
	labelDepth := 0
	inScript := false
	mains, h1s, lastLevel := 0, 0, 0
	lang := ""
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				bad("HTML does not tokenize: %v", z.Err())
			}
			break
		}
		tok := z.Token()
		switch tt {
		case html.TextToken:
			if inScript && strings.TrimSpace(tok.Data) != "" {
				bad("inline script: %.40q", tok.Data)
			}
		case html.EndTagToken:
			switch tok.Data {
			case "label":
				labelDepth--
			case "script":
				inScript = false
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			a := attrs(tok)
			for _, at := range tok.Attr {
				k := strings.ToLower(at.Key)
				switch {
				case k == "style":
					bad("<%s> has an inline style attribute", tok.Data)
				case strings.HasPrefix(k, "on"):
					bad("<%s> has an event handler attribute %s", tok.Data, k)
				case (k == "href" || k == "src" || k == "action" || k == "formaction") &&
					strings.HasPrefix(strings.ToLower(strings.TrimSpace(at.Val)), "javascript:"):
					bad("<%s %s> is a javascript: URL", tok.Data, k)
				}
			}
			if id, ok := a["id"]; ok {
				if ids[id]++; ids[id] == 2 {
					bad("id %q is used more than once", id)
				}
			}
			switch tok.Data {
			case "html":
				lang = a["lang"]
			case "style":
				bad("<style> element (inline CSS)")
			case "script":
				if a["src"] == "" {
					bad("<script> without src (inline script)")
				}
				inScript = tt == html.StartTagToken
			case "main":
				mains++
			case "label":
				if f := a["for"]; f != "" {
					labelFor[f] = true
				}
				if tt == html.StartTagToken {
					labelDepth++
				}
			case "input", "select", "textarea":
				switch a["type"] {
				case "hidden", "submit", "button", "reset", "image":
					continue
				}
				if labelDepth == 0 && a["aria-label"] == "" && a["aria-labelledby"] == "" {
					unlabelled = append(unlabelled, control{tok.Data, a["id"]})
				}
			case "h1", "h2", "h3", "h4", "h5", "h6":
				level := int(tok.Data[1] - '0')
				if level == 1 {
					h1s++
				}
				if lastLevel == 0 && level != 1 {
					bad("the first heading is <%s>, not <h1>", tok.Data)
				}
				if lastLevel != 0 && level > lastLevel+1 {
					bad("heading <%s> after <h%d> skips a level", tok.Data, lastLevel)
				}
				lastLevel = level
			case "img":
				if _, ok := a["alt"]; !ok {
					bad("<img> without alt")
				}
			}
		}
	}
	if lang != "da" && lang != "en" {
		bad("<html lang=%q>, want da or en", lang)
	}
	if mains != 1 {
		bad("%d <main> elements, want 1", mains)
	}
	if h1s != 1 {
		bad("%d <h1> elements, want 1", h1s)
	}
	for _, c := range unlabelled {
		if c.id == "" || !labelFor[c.id] {
			bad("<%s id=%q> has no label", c.tag, c.id)
		}
	}
	return probs
}

func attrs(tok html.Token) map[string]string {
	m := make(map[string]string, len(tok.Attr))
	for _, a := range tok.Attr {
		m[strings.ToLower(a.Key)] = a.Val
	}
	return m
}
