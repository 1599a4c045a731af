package region

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dustin/go-humanize"

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

// MaxFileSize bounds a region file. A real one is a few kilobytes; a
// larger file is a mistake (a log, an export) and parsing it would cost
// hundreds of megabytes of memory.
const MaxFileSize = 1 << 20

// LoadFile parses and checks a single region file on its own (no checks
// across files). The region is nil when it has errors.
func LoadFile(path string, def Defaults) (*Region, Errors) {
	data, e := readFile(path, "")
	if e != nil {
		return nil, Errors{*e}
	}
	r, d := Parse(path, data, def)
	if len(d) > 0 {
		return nil, d
	}
	return r, nil
}

// readFile reads one region file, refusing what is not a regular file of
// at most MaxFileSize bytes before reading it. When dir is set, a
// symbolic link must lead to a file inside dir.
func readFile(path, dir string) ([]byte, *Error) {
	whole := func(msg, hint string) *Error { return &Error{File: path, Message: msg, Hint: hint} }
	li, err := os.Lstat(path)
	if err != nil {
		return nil, whole("cannot read the file: "+err.Error(), "")
	}
	if li.Mode()&fs.ModeSymlink != 0 && dir != "" {
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return nil, whole("is a symbolic link that leads nowhere: "+err.Error(), "put the region file itself here")
		}
		if !inside(dir, target) {
			return nil, whole(fmt.Sprintf("is a symbolic link to %s, outside %s", target, dir),
				"region files live in the regions folder itself; copy the file here instead of linking to it")
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, whole("cannot read the file: "+err.Error(), "")
	}
	switch {
	case fi.IsDir():
		return nil, whole("is a directory, not a region file", "remove or rename it; a region file is one YAML file")
	case !fi.Mode().IsRegular():
		return nil, whole("is not a regular file", "a region file is one plain YAML file")
	case fi.Size() > MaxFileSize:
		return nil, tooLarge(path, fi.Size())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, whole("cannot read the file: "+err.Error(), "")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, whole("cannot read the file: "+err.Error(), "")
	}
	if len(data) > MaxFileSize { // grew since the stat
		return nil, tooLarge(path, int64(len(data)))
	}
	return data, nil
}

func tooLarge(file string, size int64) *Error {
	what := "is larger than"
	if size > MaxFileSize+1 {
		what = "is " + humanize.IBytes(uint64(size)) + ", more than"
	}
	return &Error{File: file, Message: fmt.Sprintf("the file %s the limit of %s for a region file", what, humanize.IBytes(MaxFileSize)),
		Hint: "a region file is a few kilobytes; check that this is the right file"}
}

// inside reports whether path (with links resolved) lies in dir.
func inside(dir, path string) bool {
	d, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	d, _ = filepath.Abs(d)
	p, _ := filepath.Abs(path)
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// Parse checks one region file's content; file names it in errors.
// It never panics, whatever the input.
func Parse(file string, data []byte, def Defaults) (*Region, Errors) {
	if len(data) > MaxFileSize {
		return nil, Errors{*tooLarge(file, int64(len(data)))}
	}
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
// region only, and every Danish region present. Regions with errors are
// left out of Set.Regions.
func LoadDir(dir string, def Defaults) (*Set, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read the regions directory %s: %w", dir, err)
	}
	var files []string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if ext == ".yaml" || ext == ".yml" {
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
	present := map[string]bool{}
	// A link to another region file of the folder would load it twice.
	plain := map[string]string{} // resolved path → the plain file
	for _, f := range files {
		if li, err := os.Lstat(f); err == nil && li.Mode()&fs.ModeSymlink == 0 {
			if rp, err := filepath.EvalSymlinks(f); err == nil {
				plain[rp] = f
			}
		}
	}
	for _, f := range files {
		present[baseID(f)] = true
		data, e := readFile(f, dir)
		if e != nil {
			set.Errors = append(set.Errors, *e)
			continue
		}
		if rp, err := filepath.EvalSymlinks(f); err == nil && plain[rp] != "" && plain[rp] != f {
			set.Errors = append(set.Errors, Error{File: f, Message: "is a symbolic link to " + plain[rp] + ", which is loaded already",
				Hint: "remove the link; each region has exactly one file"})
			continue
		}
		r, d := parseChecked(f, data, def)
		docs = append(docs, d)
		regions = append(regions, r)
		present[r.ID] = true
	}
	crossCheck(docs, regions)
	for i, d := range docs {
		set.Errors = append(set.Errors, d.errs...)
		if len(d.errs) == 0 {
			set.Regions = append(set.Regions, regions[i])
		}
	}
	for _, reg := range kommune.Regions() {
		if !present[reg.ID] {
			n := len(kommune.InRegion(reg.ID))
			set.Errors = append(set.Errors, Error{File: filepath.Join(dir, reg.ID+".yaml"),
				Message: fmt.Sprintf("Region %s (%s.yaml) is missing from %s", reg.Name, reg.ID, strings.TrimSuffix(dir, "/")+"/"),
				Hint:    fmt.Sprintf("every region has one file; without it the region's %d municipalities belong to no hub", n)})
		}
	}
	set.Errors.Sort()
	return set, nil
}

// baseID is a file's name without its extension: regions/<id>.yaml is the
// convention.
func baseID(file string) string {
	b := filepath.Base(file)
	return strings.TrimSuffix(b, filepath.Ext(b))
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
