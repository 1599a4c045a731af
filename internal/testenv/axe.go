package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// AxeViolation is one failed axe-core rule on a page.
type AxeViolation struct {
	ID          string    `json:"id"`
	Impact      string    `json:"impact"` // minor, moderate, serious or critical
	Help        string    `json:"help"`
	HelpURL     string    `json:"helpUrl"`
	Description string    `json:"description"`
	Tags        []string  `json:"tags"`
	Nodes       []AxeNode `json:"nodes"`
}

// AxeNode is one element that fails a rule.
type AxeNode struct {
	// Target holds the CSS selectors of the element; for an element inside
	// iframes or shadow roots, one entry per level joined with " >>> ".
	Target         []string `json:"target"`
	HTML           string   `json:"html"`
	FailureSummary string   `json:"failureSummary"`
}

// AxeSource returns the source of axe-core (axe.min.js, from the npm package
// axe-core pinned in testdata/oidcprovider/package-lock.json), installing the
// npm packages first if needed.
func AxeSource(t testing.TB) string {
	t.Helper()
	path := nodeModulesFile(t, "axe-core/axe.min.js")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("testenv: read axe-core: %v (run `npm ci` in testdata/oidcprovider)", err)
	}
	return string(src)
}

// RunAxe runs axe-core on the page that the chromedp context shows now and
// returns its violations (an empty, non-nil slice when there are none). With
// tags (e.g. "wcag2a", "wcag2aa", "wcag21aa") only the rules with those tags
// run; without, all of axe's default rules do. It fails the test if axe
// cannot run. Assert zero violations with RequireNoAxeViolations.
func RunAxe(ctx context.Context, t testing.TB, tags ...string) []AxeViolation {
	t.Helper()
	v, err := RunAxeSource(ctx, AxeSource(t), tags...)
	if err != nil {
		t.Fatalf("testenv: axe-core: %v", err)
	}
	return v
}

// RequireNoAxeViolations runs axe-core like RunAxe and fails the test with a
// readable list if the page has any violation.
func RequireNoAxeViolations(ctx context.Context, t testing.TB, tags ...string) {
	t.Helper()
	if v := RunAxe(ctx, t, tags...); len(v) > 0 {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("axe-core found %d accessibility violation(s) on %s:\n%s", len(v), loc, FormatAxeViolations(v))
	}
}

// RunAxeSource injects axeSource into the current page (once) and runs it.
// It evaluates through the DevTools protocol, so a page's Content Security
// Policy does not stop it.
func RunAxeSource(ctx context.Context, axeSource string, tags ...string) ([]AxeViolation, error) {
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object" && typeof window.axe.run === "function"`))
	if err != nil {
		return nil, fmt.Errorf("check for axe on the page: %w", err)
	}
	if !loaded {
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](axeSource+"\n;true")); err != nil {
			return nil, fmt.Errorf("inject axe-core: %w", err)
		}
	}
	options := map[string]any{"resultTypes": []string{"violations"}}
	if len(tags) > 0 {
		options["runOnly"] = map[string]any{"type": "tag", "values": tags}
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, err
	}
	script := `axe.run(document, ` + string(opts) + `).then((r) => r.violations.map((v) => ({
  id: v.id,
  impact: v.impact || "",
  help: v.help || "",
  helpUrl: v.helpUrl || "",
  description: v.description || "",
  tags: v.tags || [],
  nodes: v.nodes.map((n) => ({
    target: n.target.map((s) => Array.isArray(s) ? s.join(" >>> ") : String(s)),
    html: n.html || "",
    failureSummary: n.failureSummary || "",
  })),
})))`
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]AxeViolation](script, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("axe.run: %w", err)
	}
	if v == nil {
		v = []AxeViolation{}
	}
	return v, nil
}

// FormatAxeViolations renders violations one rule a paragraph, with the
// failing elements, for test failure messages.
func FormatAxeViolations(violations []AxeViolation) string {
	var b strings.Builder
	for _, v := range violations {
		fmt.Fprintf(&b, "- %s (%s): %s\n  %s\n", v.ID, v.Impact, v.Help, v.HelpURL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "    %s: %s\n", strings.Join(n.Target, ", "), n.HTML)
			if n.FailureSummary != "" {
				fmt.Fprintf(&b, "      %s\n", strings.ReplaceAll(n.FailureSummary, "\n", "\n      "))
			}
		}
	}
	return b.String()
}
