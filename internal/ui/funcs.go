package ui

import (
	"html/template"
	"strings"
	"time"
	_ "time/tzdata" // Danish time on hosts without a zoneinfo database

	"github.com/hubkit/hubkit/internal/directory"
	"github.com/hubkit/hubkit/internal/filedrop"
)

// funcs are the template functions; t and the label functions speak lang.
func (u *UI) funcs(lang string) template.FuncMap {
	return template.FuncMap{
		"t": func(key string, args ...any) string { return T(lang, key, args...) },
		// tn picks key.one or key.other by n, and formats n into it.
		"tn": func(key string, n int) string {
			if n == 1 {
				return T(lang, key+".one")
			}
			return T(lang, key+".other", n)
		},
		"tag":      func(tag string) string { return directory.TagLabel(tag, lang) },
		"kind":     func(k directory.Kind) string { return directory.KindLabel(k, lang) },
		"role":     func(r string) string { return T(lang, "role."+r) },
		"nsis":     func(l string) string { return T(lang, "nsis."+l) },
		"kinds":    func() []directory.Kind { return directory.Kinds },
		"errkey":   errorKey,
		"asset":    u.AssetURL,
		"phone":    formatPhone,
		"tel":      telURL,
		"datetime": func(t time.Time) string { return t.In(u.loc).Format("2006-01-02 15:04") },
		"date":     func(t time.Time) string { return t.In(u.loc).Format("2006-01-02") },
		// The file drop's.
		"bytes":     func(n int64) string { return FormatBytes(lang, n) },
		"nbytes":    func(n int64) string { return exactBytes(lang, n) },
		"purpose":   func(p filedrop.Purpose) string { return T(lang, "purpose."+string(p)) },
		"purposes":  func() []filedrop.Purpose { return filedrop.Purposes },
		"ferr":      fieldError,
		"navDrops":  navDrops,
		"linkstate": LinkState,
	}
}

// formatPhone shows a normalised Danish number the way Danes write it:
// "+4599311234" as "+45 99 31 12 34". Other numbers are shown as they are.
func formatPhone(p string) string {
	d, ok := strings.CutPrefix(p, "+45")
	if !ok || len(d) != 8 || strings.Trim(d, "0123456789") != "" {
		return p
	}
	return "+45 " + d[0:2] + " " + d[2:4] + " " + d[4:6] + " " + d[6:8]
}

// telURL is a tel: link. html/template does not trust the tel: scheme, so
// the number is reduced to "+" and digits and then marked safe.
func telURL(p string) template.URL {
	var b strings.Builder
	for i, r := range p {
		if r >= '0' && r <= '9' || r == '+' && i == 0 {
			b.WriteRune(r)
		}
	}
	return template.URL("tel:" + b.String())
}
