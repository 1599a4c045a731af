package region

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func readBase(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/base.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// edit replaces exactly one occurrence of old in s, so a test whose base
// drifted fails loudly instead of testing nothing.
func edit(t testing.TB, s, old, new string) string {
	t.Helper()
	if strings.Count(s, old) != 1 {
		t.Fatalf("base.yaml holds %q %d times, want once", old, strings.Count(s, old))
	}
	return strings.Replace(s, old, new, 1)
}

func TestBaseIsValid(t *testing.T) {
	r, errs := Parse("base.yaml", []byte(readBase(t)), BuiltinDefaults)
	if len(errs) > 0 {
		t.Fatalf("base.yaml should be valid:\n%v", errs)
	}
	if r.Host != "Aalborg" || r.HostCode != 851 || len(r.Kommuner) != 11 {
		t.Errorf("host %q/%d with %d kommuner", r.Host, r.HostCode, len(r.Kommuner))
	}
	if got := r.ResourcePersons[0].Phone; got != "+4512345678" {
		t.Errorf("phone normalised to %q", got)
	}
	if r.ResourcePersons[0].Visibility != "region" || r.Partners[0].Visibility != "region" {
		t.Error("visibility should default to region")
	}
	p := r.IdentityProviders[0]
	if p.Claims.Assurance != nsisClaimOS2faktor || p.NSIS.Minimum != "substantial" || p.NSIS.Levels.Level("Substantial") != "substantial" {
		t.Errorf("os2faktor defaults not applied: %+v", p)
	}
	if p.Name != "Aalborg Kommune" || strings.Join(p.Scopes, " ") != "openid profile email" {
		t.Errorf("provider defaults: %q %v", p.Name, p.Scopes)
	}
	if r.FileDrop.MaxFileBytes != 1<<30 || *r.FileDrop.MaxFilesPerDrop != 20 {
		t.Errorf("file drop policy: %+v", r.FileDrop)
	}
}

// Each case breaks base.yaml in one way and names where the error must be
// reported (line:col) and what it must say.
func TestBadInput(t *testing.T) {
	base := readBase(t)
	cases := []struct {
		name  string
		input string
		want  []string // "line:col: substring"
	}{
		{"unknown key with typo", edit(t, base, "members:", "membrs:"),
			[]string{`5:1: unknown key "membrs" (did you mean "members"?)`}},
		{"unknown key nested", edit(t, base, "    kind: os2faktor", "    knd: os2faktor"),
			[]string{`12:5: unknown key "knd" in identity_providers (did you mean "kind"?)`}},
		{"wrong type list", edit(t, base, "    tags: [ssp]", "    tags: ssp"),
			[]string{`25:11: tags must be a list, not the text "ssp"`}},
		{"wrong type number", edit(t, base, "max_retention_days: 90", "max_retention_days: ninety"),
			[]string{`33:23: max_retention_days must be a whole number, not the text "ninety"`}},
		{"wrong type mapping", edit(t, base, "contact:\n  hotline", "contact: [x]\nxcontact:\n  hotline"),
			[]string{`6:10: contact must be a set of 'key: value' lines, not a list`}},
		{"yaml syntax error", edit(t, base, "name: Region Nordjylland", "name: [Region"),
			[]string{`2:7: the list opened with '[' is not closed`}},
		{"empty file", "# only a comment\n", []string{`1:1: the file is empty`}},
		{"duplicate key", edit(t, base, "name: Region Nordjylland", "name: Region Nordjylland\nname: again"),
			[]string{`3:1: "name" is set twice (first on line 2)`}},
		{"unknown kommune name", edit(t, base, "host: Aalborg", "host: Aalbrog"),
			[]string{`3:7: unknown municipality "Aalbrog" (did you mean "Aalborg"?)`}},
		{"unknown kommune code", edit(t, base, "host: Aalborg", "host: 999"),
			[]string{`3:7: 999 is not a municipality code`}},
		{"kommune in wrong region", edit(t, base, "[Aalborg, ", "[Aalborg, Aarhus, "),
			[]string{`5:20: Aarhus belongs to Region Midtjylland, not Region Nordjylland`}},
		{"member missing", edit(t, base, "Læsø, ", ""),
			[]string{`5:1: members lacks 1 municipality of Region Nordjylland: Læsø`}},
		{"member listed twice", edit(t, base, "[Aalborg, ", "[Aalborg, 851, "),
			[]string{`5:20: Aalborg is listed twice in members`}},
		{"host not a member", edit(t, base, "host: Aalborg", "host: Aarhus"),
			[]string{`3:7: host Aarhus is not a member of the region`}},
		{"provider for non-member", edit(t, base, "  - kommune: Aalborg\n    kind", "  - kommune: Odense\n    kind"),
			[]string{`11:14: identity provider for Odense is not a member of Region Nordjylland`}},
		{"two providers for one kommune", edit(t, base, "resource_persons:", "  - kommune: 851\n    issuer: https://x.example\n    client_id: x\n    client_secret: { env: X }\n    roles: { admin: [a] }\nresource_persons:"),
			[]string{`18:14: Aalborg already has an identity provider (entry 1)`}},
		{"issuer not https", edit(t, base, "https://idp.aalborg.example", "http://idp.aalborg.example"),
			[]string{`13:13: "http://idp.aalborg.example" is not an https URL`}},
		{"issuer on localhost outside dev", edit(t, base, "https://idp.aalborg.example", "http://localhost:9000"),
			[]string{`13:13: "http://localhost:9000" uses http (http on localhost is allowed only in development region files (dev: true))`}},
		{"client secret inline", edit(t, base, "{ env: AALBORG_SECRET }", "s3cr3t-value"),
			[]string{`15:20: a client secret must never be written in a region file`}},
		{"client secret both", edit(t, base, "{ env: AALBORG_SECRET }", "{ env: A, file: /x }"),
			[]string{`15:20: client_secret names both env and file`}},
		{"invalid email", edit(t, base, "anna@aalborg.example", "anna(at)aalborg"),
			[]string{`23:12: "anna(at)aalborg" is not an email address`}},
		{"invalid phone", edit(t, base, `"12 34 56 78"`, `"1234 567"`),
			[]string{`24:12: "1234 567" is not a valid phone number`}},
		{"invalid url", edit(t, base, "https://nordjylland.hub.example/a11y", "nordjylland.hub.example/a11y"),
			[]string{`9:28: "nordjylland.hub.example/a11y" is not a URL`}},
		{"invalid domain", edit(t, base, "domain: nordjylland.hub.example", "domain: https://nordjylland.hub.example/"),
			[]string{`4:9: domain "https://nordjylland.hub.example/" must be a bare host name`}},
		{"duplicate person", edit(t, base, "partners:", "  - { name: Anna Example, title: T, organisation: Aalborg Kommune, kommune: Aalborg, email: Anna@aalborg.example }\npartners:"),
			[]string{`26:93: Anna@aalborg.example is listed twice (also resource person 1)`, `26:13: Anna Example of Aalborg Kommune is listed twice`}},
		{"unknown role", edit(t, base, "      consultant:", "      konsulent:"),
			[]string{`17:7: unknown key "konsulent" in roles (did you mean "consultant"?)`, `16:5: roles maps no claim value`}},
		{"unknown tag", edit(t, base, "[ssp]", "[ssp, polize]"),
			[]string{`25:17: unknown tag "polize" (did you mean "police"?)`}},
		{"retention default above max", edit(t, base, "default_retention_days: 30", "default_retention_days: 120"),
			[]string{`32:27: default_retention_days (120) is above max_retention_days (90)`}},
		{"non-positive size", edit(t, base, "max_file_size: 1 GiB", "max_file_size: 0 B"),
			[]string{`31:18: max_file_size 0 B is outside 1 byte to 100 GiB`}},
		{"absurd size", edit(t, base, "max_file_size: 1 GiB", "max_file_size: 5 TiB"),
			[]string{`31:18: max_file_size 5 TiB is outside 1 byte to 100 GiB`}},
		{"non-positive retention", edit(t, base, "max_retention_days: 90", "max_retention_days: -1"),
			[]string{`33:23: max_retention_days is -1; it must be between 1 and 3650`}},
		{"unknown nsis level", edit(t, base, "      consultant: [sikkerhedskonsulent]", "      consultant: [sikkerhedskonsulent]\n    nsis: { minimum: substantiel }"),
			[]string{`18:22: unknown NSIS level "substantiel" (did you mean "substantial"?)`}},
		{"anchors refused", edit(t, base, "name: Region Nordjylland", "name: &n Region Nordjylland"),
			[]string{`2:7: YAML anchors and aliases`}},
		{"two documents", base + "---\nid: x\n", []string{`more than one YAML document`}},
		{"bad mail domain", edit(t, base, "    client_id: hub\n", "    client_id: hub\n    email_domains: [aalborg.dk, \"@aalborg\"]\n"),
			[]string{`15:33: "@aalborg" is not a mail domain (write the part after @, e.g. aalborg.dk)`}},
		{"entra without tenants", edit(t, base, "kind: os2faktor", "kind: entra"),
			[]string{`11:5: an entra provider needs allowed_tenants`}},
		{"issuer with a query", edit(t, base, "https://idp.aalborg.example", "https://idp.aalborg.example?tenant=x"),
			[]string{`13:13: issuer "https://idp.aalborg.example?tenant=x" has a query (?…)`}},
		{"issuer with an empty query", edit(t, base, "https://idp.aalborg.example", "https://idp.aalborg.example/?"),
			[]string{`13:13: issuer "https://idp.aalborg.example/?" has a query (?…)`}},
		{"issuer with a fragment", edit(t, base, "https://idp.aalborg.example", "https://idp.aalborg.example/#top"),
			[]string{`13:13: issuer "https://idp.aalborg.example/#top" has a fragment (#…)`}},
		{"issuer with a password", edit(t, base, "https://idp.aalborg.example", "https://hub:hunter2@idp.aalborg.example"),
			[]string{`13:13: "https://hub:xxxxx@idp.aalborg.example" holds a user name or password (before @)`}},
		{"page with a user name", edit(t, base, "https://nordjylland.hub.example/a11y", "https://editor@nordjylland.hub.example/a11y"),
			[]string{`9:28: "https://editor@nordjylland.hub.example/a11y" holds a user name or password (before @)`}},
		{"partner url over http", edit(t, base, "url: https://red.example", "url: http://red.example"),
			[]string{`29:21: "http://red.example" is not an https URL (use https://)`}},
		{"partner url with a space", edit(t, base, "url: https://red.example", `url: "https://red.example/om os"`),
			[]string{`29:21: "https://red.example/om os" holds a space or a backslash`}},
		{"misspelt member is one error", edit(t, base, "[Aalborg, ", "[Aalbrog, "),
			[]string{`5:11: unknown municipality "Aalbrog" (did you mean "Aalborg"?)`}},
		{"all errors at once", edit(t, edit(t, base, "host: Aalborg", "host: Aalbrog"), "[ssp]", "[sp]"),
			[]string{`3:7: unknown municipality`, `25:12: unknown tag "sp"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, errs := Parse("bad.yaml", []byte(tc.input), BuiltinDefaults)
			if len(errs) == 0 {
				t.Fatalf("no error; region %+v", r)
			}
			got := make([]string, len(errs))
			for i, e := range errs {
				assertDanish(t, e)
				got[i] = e.String()
				if e.File != "bad.yaml" || e.Line < 1 || e.Col < 1 {
					t.Errorf("bad position in %v", e)
				}
			}
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					if strings.Contains(g, "bad.yaml:"+w) || (!strings.Contains(w, ":") || strings.Index(w, ":") > 4) && strings.Contains(g, w) {
						found = true
					}
				}
				if !found {
					t.Errorf("want an error %q, got:\n  %s", w, strings.Join(got, "\n  "))
				}
			}
			if strings.Contains(tc.name, "one error") && len(errs) != 1 {
				t.Errorf("want exactly one error, got:\n  %s", strings.Join(got, "\n  "))
			}
			for _, g := range got {
				if strings.Contains(g, "hunter2") {
					t.Errorf("an error repeats the password: %s", g)
				}
			}
			if len(errs) > len(tc.want)+1 {
				t.Errorf("more errors than expected (noise):\n  %s", strings.Join(got, "\n  "))
			}
		})
	}
}

// TestSyntaxPositions checks that broken YAML and bad bytes are reported
// where they are, in plain words: the whole error line is compared.
func TestSyntaxPositions(t *testing.T) {
	base := readBase(t)
	cases := []struct{ name, input, want string }{
		{"misaligned list entry", edit(t, base, "    tags: [ssp]\n", "    tags: [ssp]\n   - name: Bo Example\n    title: x\n"),
			`bad.yaml:26:4: this line's indentation does not match the list above it (start each entry's '- ' in the same column as the entries before it)`},
		{"misaligned key", edit(t, base, "    kommune: Aalborg\n    email", "    kommune: Aalborg\n   email"),
			`bad.yaml:23:4: this line's indentation does not match the lines above it (keys of one block start in the same column; indent with spaces)`},
		{"colon in a value", edit(t, base, "title: SSP-konsulent", "title: SSP: konsulent"),
			`bad.yaml:20:15: this value holds ': ', which YAML reads as the start of another key (put the value in quotes, e.g. title: "Konsulent: SSP")`},
		{"unclosed double quote", edit(t, base, "name: Region Nordjylland", `name: "Region Nordjylland`),
			`bad.yaml:2:7: the text in quotes that starts here (") is never closed (end it with " on the same line, or remove the quote)`},
		{"unclosed single quote nested", edit(t, base, "title: SSP-konsulent", "title: 'SSP-konsulent"),
			`bad.yaml:20:12: the text in quotes that starts here (') is never closed (end it with ' on the same line, or remove the quote)`},
		{"tab indentation", edit(t, base, "    kind: os2faktor", "\tkind: os2faktor"),
			`bad.yaml:12:1: this line is indented with a tab (indent with spaces only)`},
		{"NUL byte", edit(t, base, "Aalborg Kommune", "Aalborg\x00Kommune"),
			`bad.yaml:21:26: the file holds a NUL byte (the file is damaged or not a text file; remove the character)`},
		{"invalid UTF-8 (Latin-1 ø)", edit(t, base, "Brønderslev", "Br\xf8nderslev"),
			`bad.yaml:5:22: the byte 0xf8 is not valid UTF-8 text (save the file as UTF-8 (Danish letters æ, ø, å are fine in UTF-8))`},
		{"control character after Danish letters", edit(t, base, "Brønderslev", "Brønder\x1bslev"),
			`bad.yaml:5:27: the file holds the control character U+001B (remove it; a region file holds plain text (tabs only inside values))`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := Parse("bad.yaml", []byte(tc.input), BuiltinDefaults)
			if len(errs) != 1 || errs[0].String() != tc.want {
				t.Errorf("got %v\nwant %s", errs, tc.want)
			}
			for _, e := range errs {
				assertDanish(t, e)
			}
		})
	}
}

func TestDevAllowsLocalhost(t *testing.T) {
	in := edit(t, readBase(t), "https://idp.aalborg.example", "http://127.0.0.1:9000/op")
	in = edit(t, in, "domain: nordjylland.hub.example", "domain: nordjylland.hub.localhost\ndev: true")
	if _, errs := Parse("dev.yaml", []byte(in), BuiltinDefaults); len(errs) > 0 {
		t.Fatal(errs)
	}
	in = edit(t, readBase(t), "domain: nordjylland.hub.example", "domain: nordjylland.hub.localhost")
	_, errs := Parse("prod.yaml", []byte(in), BuiltinDefaults)
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "is local") {
		t.Fatalf("a .localhost domain outside dev must be refused, got %v", errs)
	}
}

func writeRegions(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCrossFile(t *testing.T) {
	base := readBase(t)
	t.Run("same id and domain", func(t *testing.T) {
		dir := writeRegions(t, map[string]string{"a.yaml": base, "b.yaml": base})
		set, err := LoadDir(dir, BuiltinDefaults)
		if err != nil {
			t.Fatal(err)
		}
		assertErrors(t, set.Errors,
			filepath.Join(dir, "a.yaml")+`:1:5: region id "nordjylland" is also used by `+filepath.Join(dir, "b.yaml"),
			filepath.Join(dir, "b.yaml")+`:1:5: region id "nordjylland" is also used by `+filepath.Join(dir, "a.yaml"),
			filepath.Join(dir, "a.yaml")+`:4:9: domain "nordjylland.hub.example" is also used by`,
		)
		if len(set.Regions) != 0 {
			t.Errorf("conflicting regions must not load, got %d", len(set.Regions))
		}
	})
	t.Run("kommune in two regions", func(t *testing.T) {
		repo, err := os.ReadFile("../../regions/midtjylland.yaml")
		if err != nil {
			t.Fatal(err)
		}
		bad := edit(t, base, "[Aalborg, ", "[Aalborg, Aarhus, ")
		dir := writeRegions(t, map[string]string{"nordjylland.yaml": bad, "midtjylland.yaml": string(repo)})
		set, err := LoadDir(dir, BuiltinDefaults)
		if err != nil {
			t.Fatal(err)
		}
		assertErrors(t, set.Errors,
			filepath.Join(dir, "nordjylland.yaml")+`:5:20: Aarhus is also a member in `+filepath.Join(dir, "midtjylland.yaml"),
			filepath.Join(dir, "nordjylland.yaml")+`:5:20: Aarhus belongs to Region Midtjylland`,
			`Aarhus is also a member in `+filepath.Join(dir, "nordjylland.yaml"),
		)
		if set.Region("midtjylland") != nil {
			t.Error("a region in a conflict must not load")
		}
	})
	t.Run("mail domain in two regions", func(t *testing.T) {
		repo, err := os.ReadFile("../../regions/midtjylland.yaml")
		if err != nil {
			t.Fatal(err)
		}
		bad := edit(t, base, "    client_id: hub\n", "    client_id: hub\n    email_domains: [Aarhus.DK]\n")
		dir := writeRegions(t, map[string]string{"nordjylland.yaml": bad, "midtjylland.yaml": string(repo)})
		set, err := LoadDir(dir, BuiltinDefaults)
		if err != nil {
			t.Fatal(err)
		}
		assertErrors(t, set.Errors,
			filepath.Join(dir, "nordjylland.yaml")+`:15:21: mail domain "aarhus.dk" is also used by `+filepath.Join(dir, "midtjylland.yaml"),
			`mail domain "aarhus.dk" is also used by `+filepath.Join(dir, "nordjylland.yaml"),
		)
	})
	t.Run("repository regions are valid and cover Denmark", func(t *testing.T) {
		set, err := LoadDir("../../regions", BuiltinDefaults)
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Errors) > 0 {
			t.Fatalf("regions/ has errors:\n%v", set.Errors)
		}
		n := 0
		want := map[string]int{"nordjylland": 11, "midtjylland": 19, "syddanmark": 22, "hovedstaden": 29, "sjaelland": 17}
		for _, r := range set.Regions {
			if len(r.Kommuner) != want[r.ID] {
				t.Errorf("%s has %d kommuner, want %d", r.ID, len(r.Kommuner), want[r.ID])
			}
			n += len(r.Kommuner)
			for _, p := range r.ResourcePersons {
				if !strings.HasSuffix(p.Email, ".example") {
					t.Errorf("%s: resource person %s must use a reserved .example address", r.ID, p.Name)
				}
			}
		}
		if len(set.Regions) != 5 || n != 98 {
			t.Errorf("%d regions with %d kommuner; want 5 with 98", len(set.Regions), n)
		}
	})
}

// TestDirFiles covers what can sit in the regions folder besides five
// region files: a missing region, a directory, links, a huge file.
func TestDirFiles(t *testing.T) {
	copyRepo := func(t *testing.T, skip string) string {
		dir := t.TempDir()
		for _, id := range []string{"nordjylland", "midtjylland", "syddanmark", "hovedstaden", "sjaelland"} {
			if id == skip {
				continue
			}
			b, err := os.ReadFile("../../regions/" + id + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, id+".yaml"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	load := func(t *testing.T, dir string) *Set {
		set, err := LoadDir(dir, BuiltinDefaults)
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	one := func(t *testing.T, set *Set, want string) {
		t.Helper()
		if len(set.Errors) != 1 || set.Errors[0].String() != want {
			t.Fatalf("got %d error(s):\n%v\nwant exactly:\n%s", len(set.Errors), set.Errors, want)
		}
		assertDanish(t, set.Errors[0])
		if e := set.Errors[0]; e.Line != 0 || e.Col != 0 {
			t.Errorf("an error about the whole file has no position, got %d:%d", e.Line, e.Col)
		}
	}
	sj := func(dir string) string { return filepath.Join(dir, "sjaelland.yaml") }

	t.Run("missing region", func(t *testing.T) {
		dir := copyRepo(t, "sjaelland")
		set := load(t, dir)
		one(t, set, sj(dir)+": Region Sjælland (sjaelland.yaml) is missing from "+dir+"/ (every region has one file; without it the region's 17 municipalities belong to no hub)")
		if len(set.Regions) != 4 {
			t.Errorf("the four present regions still load, got %d", len(set.Regions))
		}
	})
	t.Run("directory named like a region file", func(t *testing.T) {
		dir := copyRepo(t, "sjaelland")
		os.Mkdir(sj(dir), 0o755)
		one(t, load(t, dir), sj(dir)+": is a directory, not a region file (remove or rename it; a region file is one YAML file)")
	})
	t.Run("link out of the folder", func(t *testing.T) {
		dir := copyRepo(t, "sjaelland")
		outside := filepath.Join(t.TempDir(), "sjaelland.yaml")
		b, _ := os.ReadFile("../../regions/sjaelland.yaml")
		os.WriteFile(outside, b, 0o644)
		if err := os.Symlink(outside, sj(dir)); err != nil {
			t.Fatal(err)
		}
		one(t, load(t, dir), sj(dir)+": is a symbolic link to "+outside+", outside "+dir+" (region files live in the regions folder itself; copy the file here instead of linking to it)")
	})
	t.Run("relative link climbing out", func(t *testing.T) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "regions")
		os.Rename(copyRepo(t, "sjaelland"), dir)
		b, _ := os.ReadFile("../../regions/sjaelland.yaml")
		os.WriteFile(filepath.Join(parent, "sj.yaml"), b, 0o644)
		os.Symlink("../sj.yaml", sj(dir))
		set := load(t, dir)
		if len(set.Errors) != 1 || !strings.Contains(set.Errors[0].Message, "outside "+dir) {
			t.Fatalf("got %v", set.Errors)
		}
	})
	t.Run("link inside the folder is accepted", func(t *testing.T) {
		dir := copyRepo(t, "sjaelland")
		os.Mkdir(filepath.Join(dir, "src"), 0o755)
		b, _ := os.ReadFile("../../regions/sjaelland.yaml")
		os.WriteFile(filepath.Join(dir, "src", "sjaelland.yaml"), b, 0o644)
		os.Symlink("src/sjaelland.yaml", sj(dir))
		set := load(t, dir)
		if len(set.Errors) != 0 || set.Region("sjaelland") == nil {
			t.Fatalf("a link to a file inside the folder must load: %v", set.Errors)
		}
	})
	t.Run("link to another region file", func(t *testing.T) {
		dir := copyRepo(t, "")
		link := filepath.Join(dir, "zz-copy.yaml")
		os.Symlink("nordjylland.yaml", link)
		one(t, load(t, dir), link+": is a symbolic link to "+filepath.Join(dir, "nordjylland.yaml")+", which is loaded already (remove the link; each region has exactly one file)")
	})
	t.Run("dangling link", func(t *testing.T) {
		dir := copyRepo(t, "sjaelland")
		os.Symlink("nowhere.yaml", sj(dir))
		set := load(t, dir)
		if len(set.Errors) != 1 || !strings.Contains(set.Errors[0].Message, "symbolic link that leads nowhere") {
			t.Fatalf("got %v", set.Errors)
		}
	})
	t.Run("file above the size limit", func(t *testing.T) {
		dir := copyRepo(t, "")
		b, _ := os.ReadFile(sj(dir))
		big := append(b, []byte("# "+strings.Repeat("x", 2<<20)+"\n")...)
		os.WriteFile(sj(dir), big, 0o644)
		one(t, load(t, dir), sj(dir)+": the file is 2.0 MiB, more than the limit of 1.0 MiB for a region file (a region file is a few kilobytes; check that this is the right file)")
		_, errs := LoadFile(sj(dir), BuiltinDefaults)
		if len(errs) != 1 || !strings.Contains(errs[0].Message, "limit of 1.0 MiB") {
			t.Errorf("LoadFile: %v", errs)
		}
		_, errs = Parse("big.yaml", big, BuiltinDefaults)
		if len(errs) != 1 || !strings.Contains(errs[0].Message, "limit of 1.0 MiB") {
			t.Errorf("Parse: %v", errs)
		}
	})
	t.Run("fifo is refused without blocking", func(t *testing.T) {
		dir := copyRepo(t, "sjaelland")
		if err := syscall.Mkfifo(sj(dir), 0o644); err != nil {
			t.Skip("mkfifo not supported here:", err)
		}
		one(t, load(t, dir), sj(dir)+": is not a regular file (a region file is one plain YAML file)")
	})
}

// assertDanish fails when an error's message or hint has no Danish form.
func assertDanish(t *testing.T, e Error) {
	t.Helper()
	da := e.In(Danish)
	if da.Message == e.Message || e.Hint != "" && da.Hint == e.Hint {
		t.Errorf("no Danish for %q (%q): got %q (%q)", e.Message, e.Hint, da.Message, da.Hint)
	}
	if strings.Contains(da.Message+da.Hint, "{") && !strings.Contains(e.Message+e.Hint, "{") {
		t.Errorf("a placeholder is left in %q (%q)", da.Message, da.Hint)
	}
}

func TestDanishExamples(t *testing.T) {
	for en, da := range map[string]string{
		`tags must be a list, not the text "ssp"`:                         `tags skal være en liste, ikke teksten "ssp"`,
		`each entry of members must be a single value, not a list`:        `hver post i members skal være én værdi, ikke en liste`,
		`unknown tag "polize"`:                                            `ukendt tag "polize"`,
		`unknown NSIS level "x"`:                                          `ukendt NSIS-niveau "x"`,
		`members lacks 2 municipalities of Region Sjælland: Stevns, Faxe`: `members mangler 2 kommuner i Region Sjælland: Stevns, Faxe`,
		`identity provider for Odense is not a member of Region Sjælland`: `login-udbyderen for Odense er ikke medlem af Region Sjælland`,
		`domain "x.example" is also used by regions/a.yaml`:               `domænet "x.example" bruges også af regions/a.yaml`,
		`contact hotline is missing`:                                      `contact hotline mangler`,
		`no Danish here`:                                                  `no Danish here`,
	} {
		if got := Translate(en); got != da {
			t.Errorf("Translate(%q) = %q, want %q", en, got, da)
		}
	}
	if got := Lang("", func(k string) string { return map[string]string{"LC_ALL": "en_US.UTF-8", "LANG": "da_DK"}[k] }); got != English {
		t.Errorf("LC_ALL wins over LANG: %s", got)
	}
	if got := Lang("", func(string) string { return "" }); got != Danish {
		t.Errorf("no locale: %s", got)
	}
}

func assertErrors(t *testing.T, errs Errors, want ...string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, e := range errs {
			if strings.Contains(e.String(), w) {
				found = true
			}
		}
		if !found {
			t.Errorf("want an error containing %q, got:\n%v", w, errs)
		}
	}
}

// FuzzParse feeds arbitrary bytes to the loader: it must return errors,
// never panic, and every error must carry a position.
func FuzzParse(f *testing.F) {
	f.Add([]byte(readBase(f)))
	f.Add([]byte("id: [\n"))
	f.Add([]byte("members: {a: b}\nhost: 851\nfile_drop: {max_file_size: 9999999 TB}"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("identity_providers: [{client_secret: x, roles: {admin: [1]}}]"))
	// hostile input of issue 11 and 13: bad bytes, broken quotes and
	// indentation, URLs with credentials, queries and fragments
	f.Add([]byte("id: nord\x00jylland\n"))
	f.Add([]byte("name: Br\xf8nderslev\nhost: x\n"))
	f.Add([]byte("\ufeffid: x\n\x1b\n"))
	f.Add([]byte("name: \"Region\nhost: Aalborg\ncontact:\n  hotline: \"99\"\n"))
	f.Add([]byte("a: 'it''s\nb: \"x\\\"y\n"))
	f.Add([]byte("list:\n  - name: x\n    t: y\n   - name: z\n"))
	f.Add([]byte("title: SSP: konsulent\n\tkind: x\n"))
	f.Add([]byte("identity_providers:\n  - issuer: https://u:p@idp.example/?a=b#c\ncontact: {accessibility_statement: \"https://x.example/a b\"}\n"))
	f.Add([]byte(strings.Repeat("- [", 200)))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, errs := Parse("fuzz.yaml", data, BuiltinDefaults)
		for _, e := range errs {
			if e.Line < 1 || e.Col < 1 || e.Message == "" {
				t.Fatalf("error without position or message: %#v", e)
			}
		}
	})
}

func BenchmarkValidateRegions(b *testing.B) {
	for i := 0; i < b.N; i++ {
		set, err := LoadDir("../../regions", BuiltinDefaults)
		if err != nil || len(set.Errors) > 0 {
			b.Fatal(err, set.Errors)
		}
	}
}

// BenchmarkValidatePersons checks that validation scales linearly with the
// number of resource persons: ns/person should stay flat across sizes.
func BenchmarkValidatePersons(b *testing.B) {
	base := readBase(b)
	for _, n := range []int{1000, 10000} {
		var sb strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&sb, "  - name: Person %d\n    title: Konsulent\n    organisation: Aalborg Kommune\n    kommune: Aalborg\n    email: p%d@aalborg.example\n    phone: \"%08d\"\n    tags: [ssp, family]\n", i, i, 20000000+i)
		}
		data := []byte(edit(b, base, "partners:", sb.String()+"partners:"))
		b.Run(fmt.Sprintf("persons=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, errs := Parse("synthetic.yaml", data, BuiltinDefaults)
				if len(errs) > 0 {
					b.Fatal(errs[0])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/person")
		})
	}
}
