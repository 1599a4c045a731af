package region

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hubkit/hubkit/internal/kommune"
)

// Set is the result of loading a directory of region files: the regions
// that loaded cleanly and every error found, in file and line order.
type Set struct {
	Regions []*Region
	Errors  Errors
}

// Region returns the loaded region with the given id.
func (s *Set) Region(id string) *Region {
	for _, r := range s.Regions {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// LoadFile parses and checks a single region file on its own (no checks
// across files). The region is nil when it has errors.
func LoadFile(path string, def Defaults) (*Region, Errors) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Line: 1, Col: 1, Message: "cannot read the file: " + err.Error()}}
	}
	r, d := Parse(path, data, def)
	if len(d) > 0 {
		return nil, d
	}
	return r, nil
}

// Parse checks one region file's content; file names it in errors.
// It never panics, whatever the input.
func Parse(file string, data []byte, def Defaults) (*Region, Errors) {
	r, d := parseChecked(file, data, def)
	d.errs.Sort()
	return r, d.errs
}

func parseChecked(file string, data []byte, def Defaults) (*Region, *doc) {
	r := &Region{Source: file}
	d := parse(file, data, r)
	if d.decoded { // even if parts are wrong: report all errors at once
		d.check(r, def)
	}
	return r, d
}

// LoadDir loads every *.yaml and *.yml file in dir and checks them against
// each other: one file per region id and domain, each municipality in one
// region only. Regions with errors are left out of Set.Regions.
func LoadDir(dir string, def Defaults) (*Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read the regions directory %s: %w", dir, err)
	}
	var files []string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no region files (*.yaml) in %s", dir)
	}
	sort.Strings(files)
	set := &Set{}
	var docs []*doc
	var regions []*Region
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			set.Errors = append(set.Errors, Error{File: f, Line: 1, Col: 1, Message: "cannot read the file: " + err.Error()})
			continue
		}
		r, d := parseChecked(f, data, def)
		docs = append(docs, d)
		regions = append(regions, r)
	}
	crossCheck(docs, regions)
	for i, d := range docs {
		set.Errors = append(set.Errors, d.errs...)
		if len(d.errs) == 0 {
			set.Regions = append(set.Regions, regions[i])
		}
	}
	set.Errors.Sort()
	return set, nil
}

// crossCheck finds conflicts between files. Each conflict is reported in
// both files, so whoever edits either sees it.
func crossCheck(docs []*doc, regions []*Region) {
	type seen struct {
		i    int
		path string
	}
	ids, domains, mailDomains := map[string]seen{}, map[string]seen{}, map[string]seen{}
	codes := map[int]seen{}
	conflict := func(m map[string]seen, key string, i int, path, what string) {
		if key == "" {
			return
		}
		if prev, ok := m[key]; ok {
			pd := docs[prev.i]
			docs[i].at(path, fmt.Sprintf("%s %q is also used by %s", what, key, pd.file), "each region has its own file, id and domain")
			pd.at(prev.path, fmt.Sprintf("%s %q is also used by %s", what, key, docs[i].file), "each region has its own file, id and domain")
			return
		}
		m[key] = seen{i, path}
	}
	for i, r := range regions {
		conflict(ids, r.ID, i, "/id", "region id")
		conflict(domains, r.Domain, i, "/domain", "domain")
		for j, p := range r.IdentityProviders {
			for k, d := range p.EmailDomains {
				path := fmt.Sprintf("/identity_providers/%d/email_domains/%d", j, k)
				if prev, dup := mailDomains[d]; dup && prev.i == i {
					docs[i].at(path, fmt.Sprintf("mail domain %q is listed twice in this file", d), "a mail domain belongs to one municipality's provider")
					continue
				}
				conflict(mailDomains, d, i, path, "mail domain")
			}
		}
		for j, k := range docs[i].codes {
			if k == 0 {
				continue
			}
			path := fmt.Sprintf("/members/%d", j)
			if prev, dup := codes[k]; dup && prev.i != i {
				pd := docs[prev.i]
				name := kommuneName(k)
				docs[i].at(path, fmt.Sprintf("%s is also a member in %s", name, pd.file), "a municipality belongs to exactly one region")
				pd.at(prev.path, fmt.Sprintf("%s is also a member in %s", name, docs[i].file), "a municipality belongs to exactly one region")
				continue
			}
			codes[k] = seen{i, path}
		}
	}
}

func kommuneName(code int) string {
	k, _ := kommune.ByCode(code)
	return k.Name
}

func sortKommuner(ks []Kommune) {
	sort.Slice(ks, func(i, j int) bool { return ks[i].Code < ks[j].Code })
}
