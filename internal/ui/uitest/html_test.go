package uitest

import (
	"strings"
	"testing"
)

const goodPage = `<!doctype html><html lang="da"><head><script src="/a.js" defer></script></head><body>
<main><h1>T</h1><h2>S</h2><h3>s</h3><h2>S2</h2>
<form><label for="q">Q</label><input id="q" name="q"><label><input type="radio" name="r"> R</label>
<input type="hidden" name="csrf" value="x"><select aria-label="k"></select><button>Go</button></form></main>
<footer><h2>F</h2></footer></body></html>`

func TestHTMLProblemsAcceptsGoodPage(t *testing.T) {
	if p := HTMLProblems([]byte(goodPage)); len(p) != 0 {
		t.Errorf("good page reported: %q", p)
	}
}

// Every rule must be able to fail.
func TestHTMLProblemsFindsEachProblem(t *testing.T) {
	tests := map[string]struct{ from, to, want string }{
		"style attribute":   {`<h2>S</h2>`, `<h2 style="color:red">S</h2>`, "inline style"},
		"style element":     {`</head>`, `<style>p{}</style></head>`, "<style>"},
		"inline script":     {`<script src="/a.js" defer></script>`, `<script>alert(1)</script>`, "without src"},
		"script body":       {`<script src="/a.js" defer></script>`, `<script src="/a.js">alert(1)</script>`, "inline script"},
		"event handler":     {`<button>`, `<button onclick="x()">`, "event handler"},
		"javascript URL":    {`<h3>s</h3>`, `<h3><a href=" JavaScript:x()">s</a></h3>`, "javascript:"},
		"no lang":           {`<html lang="da">`, `<html>`, "lang"},
		"two mains":         {`</main>`, `</main><main></main>`, "<main>"},
		"no h1":             {`<h1>T</h1>`, ``, "h1"},
		"skipped level":     {`<h3>s</h3>`, `<h4>s</h4>`, "skips a level"},
		"unlabelled input":  {`<label for="q">Q</label>`, ``, "no label"},
		"unlabelled select": {`<select aria-label="k">`, `<select>`, "no label"},
		"duplicate id":      {`<h2>S2</h2>`, `<h2 id="q">S2</h2>`, "more than once"},
		"image without alt": {`<h2>S2</h2>`, `<h2>S2<img src="/x.svg"></h2>`, "alt"},
	}
	for name, tt := range tests {
		if !strings.Contains(goodPage, tt.from) {
			t.Fatalf("%s: fixture lacks %q", name, tt.from)
		}
		page := strings.Replace(goodPage, tt.from, tt.to, 1)
		probs := strings.Join(HTMLProblems([]byte(page)), "\n")
		if !strings.Contains(probs, tt.want) {
			t.Errorf("%s: not found (problems: %q)", name, probs)
		}
	}
}
