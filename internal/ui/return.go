package ui

import (
	"net/url"
	"strings"
)

// MaxReturnLen bounds a return URL; longer ones are dropped.
const MaxReturnLen = 2048

// SafeReturn returns s if it is safe to send a browser to after login or
// to link to: a path on this site, optionally with a query, and "" if it is
// anything else. Rejected are absolute and scheme-relative URLs
// ("//evil.example"), backslashes (browsers read "/\evil" as "//evil"),
// control characters, fragments, and paths with empty or dot segments,
// which a browser or a later redirect could turn into one of the former.
func SafeReturn(s string) string {
	if s == "" || len(s) > MaxReturnLen || s[0] != '/' {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' || c == '#' {
			return ""
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return ""
	}
	// u.Path is decoded: "%2F", "%5C", "%2e%2e" and "%00" show here as what they mean.
	if strings.Contains(u.Path, "//") || strings.ContainsFunc(u.Path, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return ""
	}
	for seg := range strings.SplitSeq(u.Path[1:], "/") {
		if seg == "." || seg == ".." {
			return ""
		}
	}
	return s
}
