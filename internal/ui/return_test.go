package ui

import (
	"net/url"
	"strings"
	"testing"
)

func TestSafeReturn(t *testing.T) {
	ok := []string{"/", "/directory", "/directory?q=s%C3%B8ren&scope=national", "/directory/person/p-1.vcf", "/a/b/c?x=//y"}
	for _, s := range ok {
		if got := SafeReturn(s); got != s {
			t.Errorf("SafeReturn(%q) = %q, want it kept", s, got)
		}
	}
	bad := []string{
		"", "directory", "//evil.example", "//evil.example/x", "/\\evil.example", "\\\\evil.example",
		"https://evil.example/", "http:/evil", "javascript:alert(1)", "/%2F%2Fevil.example", "/%2f/evil",
		"/%5Cevil.example", "/..//evil.example", "/a/../b", "/./x", "/%2e%2e/x", "/x\r\nSet-Cookie: a=b",
		"/x%0d%0aSet-Cookie:a", "/x#frag", "/x\x00", "/" + strings.Repeat("a", MaxReturnLen), " /x", "/a//b",
	}
	for _, s := range bad {
		if got := SafeReturn(s); got != "" {
			t.Errorf("SafeReturn(%q) = %q, want it dropped", s, got)
		}
	}
}

// FuzzSafeReturn: whatever comes in, what comes out stays on this site
// when a browser resolves it, and passes SafeReturn again unchanged.
func FuzzSafeReturn(f *testing.F) {
	for _, s := range []string{"/", "//evil", "/\\evil", "/a?b=c", "/%2e%2e/", "/..//x", "https://x/", "/a\tb"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://hub.example/start/page?x=1")
	f.Fuzz(func(t *testing.T, s string) {
		got := SafeReturn(s)
		if got == "" {
			return
		}
		if got != s {
			t.Fatalf("SafeReturn(%q) changed it to %q", s, got)
		}
		ref, err := url.Parse(got)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", got, err)
		}
		if u := base.ResolveReference(ref); u.Host != base.Host || u.Scheme != base.Scheme || strings.HasPrefix(u.Path, "//") {
			t.Fatalf("accepted %q, which leads to %s", got, u)
		}
		if SafeReturn(got) != got {
			t.Fatalf("not stable: %q", got)
		}
	})
}
