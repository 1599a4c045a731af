package region

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// doc is a parsed region file: the YAML node tree and, for every path, the
// node it names, so that checks made on the decoded struct can still point
// at a line and column.
type doc struct {
	file     string
	values   map[string]*yaml.Node // path → value node
	keys     map[string]*yaml.Node // path → key node of a mapping entry
	codes    []int                 // resolved code of each member entry, 0 when unknown
	errs     Errors
	broken   []string // paths with structural errors; checks below them are noise
	checking bool     // semantic checks under way
	decoded  bool     // the struct holds the file's values
	dupKey   bool     // a key is set twice: yaml.v3 decodes nothing then
}

// at records an error at path, or at the nearest enclosing node that exists
// when path itself is absent (a missing key is reported at its parent).
func (d *doc) at(path, msg, hint string) {
	if d.checking && d.isBroken(path) {
		return
	}
	n := d.node(path)
	line, col := 1, 1
	if n != nil {
		line, col = n.Line, n.Column
	}
	// A block list or mapping starts on the line after its key; point at
	// the key, where the reader looks.
	if k := d.keys[path]; k != nil && n == d.values[path] && n.Kind != yaml.ScalarNode && n.Style&yaml.FlowStyle == 0 {
		line, col = k.Line, k.Column
	}
	d.errs = append(d.errs, Error{File: d.file, Line: line, Col: col, Message: msg, Hint: hint, Path: path})
}

// atKey records an error at the key of path rather than its value.
func (d *doc) atKey(path, msg, hint string) {
	if k := d.keys[path]; k != nil {
		d.errs = append(d.errs, Error{File: d.file, Line: k.Line, Col: k.Column, Message: msg, Hint: hint, Path: path})
		return
	}
	d.at(path, msg, hint)
}

func (d *doc) node(path string) *yaml.Node {
	for {
		if n := d.values[path]; n != nil {
			return n
		}
		if path == "" {
			return nil
		}
		path = path[:strings.LastIndexByte(path, '/')]
	}
}

// has reports whether the file sets path.
func (d *doc) has(path string) bool {
	n := d.values[path]
	return n != nil && !(n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse reads one region file into r, reporting every structural problem
// (syntax, unknown keys, wrong types) with its position.
func parse(file string, data []byte, r *Region) *doc {
	d := &doc{file: file, values: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	if len(bytes.TrimSpace(stripComments(data))) == 0 {
		d.at("", "the file is empty", "a region file needs at least id, name, host, domain, members, contact and identity_providers; copy regions/nordjylland.yaml as a start")
		return d
	}
	if e := badChar(file, data); e != nil {
		d.errs = append(d.errs, *e)
		return d
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		d.errs = append(d.errs, syntaxError(file, data, err))
		return d
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errs = append(d.errs, Error{File: file, Line: extra.Line, Col: extra.Column,
			Message: "the file holds more than one YAML document", Hint: "remove the '---' line; one region per file"})
		return d
	}
	top := &root
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	d.walk(top, reflect.TypeOf(Region{}), "")
	for _, e := range d.errs {
		d.broken = append(d.broken, e.Path)
	}
	// yaml.v3 decodes what it can and reports the rest as a TypeError;
	// the walk has already reported those parts with their positions.
	// Any other failure (a duplicate key) leaves nothing worth checking.
	err := top.Decode(r)
	var te *yaml.TypeError
	switch {
	case err == nil || errors.As(err, &te) && !d.dupKey:
		d.decoded = true
	case len(d.errs) == 0:
		d.at("", "could not read the file: "+err.Error(), "")
	}
	return d
}

// isBroken reports whether path lies at or below a structural error, or is
// the key a typo most likely meant.
func (d *doc) isBroken(path string) bool {
	for _, b := range d.broken {
		if path == b || strings.HasPrefix(path, b+"/") {
			return true
		}
	}
	return false
}

func stripComments(data []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, t...)
		}
	}
	return out
}

var secretRefType = reflect.TypeOf(SecretRef{})

// walk checks node n against Go type t, recording every node by path.
func (d *doc) walk(n *yaml.Node, t reflect.Type, path string) {
	d.values[path] = n
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		d.at(path, "YAML anchors and aliases (&name, *name) are not supported in region files", "write the value out in full")
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // unset; required fields are checked later
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == secretRefType && n.Kind == yaml.ScalarNode:
		d.at(path, "a client secret must never be written in a region file",
			"refer to it instead: { env: HUBKIT_OIDC_..._SECRET } or { file: /etc/hubkit/secrets/name }")
	case t.Kind() == reflect.Struct:
		d.walkStruct(n, t, path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.at(path, fmt.Sprintf("%s must be a list, not %s", last(path), describe(n)), "write it as [a, b] or as lines starting with '- '")
			return
		}
		for i, item := range n.Content {
			d.walk(item, t.Elem(), path+"/"+strconv.Itoa(i))
		}
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.at(path, fmt.Sprintf("%s must be a single value, not %s", last(path), describe(n)), "")
		}
	case t.Kind() == reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.at(path, fmt.Sprintf("%s must be a whole number, not %s", last(path), describe(n)), "for example 30")
		} else if _, err := strconv.Atoi(n.Value); err != nil {
			d.at(path, fmt.Sprintf("%s is out of range: %s", last(path), n.Value), "")
		}
	case t.Kind() == reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.at(path, fmt.Sprintf("%s must be true or false, not %s", last(path), describe(n)), "")
		}
	default:
		d.at(path, "internal: no rule for "+t.String(), "")
	}
}

func (d *doc) walkStruct(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		d.at(path, fmt.Sprintf("%s must be a set of 'key: value' lines, not %s", orFile(last(path)), describe(n)), "")
		return
	}
	fields := yamlFields(t)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		p := path + "/" + escape(name)
		d.keys[p] = k
		if k.Kind != yaml.ScalarNode {
			d.values[p] = k
			d.at(p, "a key must be a plain name", "")
			continue
		}
		if prev := seen[name]; prev != nil {
			d.dupKey = true
			d.atKey(p, fmt.Sprintf("%q is set twice (first on line %d)", name, prev.Line), "keep one of them")
			continue
		}
		seen[name] = k
		ft, ok := fields[name]
		if !ok {
			hint, meant := keyHint(name, fields)
			d.atKey(p, fmt.Sprintf("unknown key %q%s", name, inWhat(path)), hint)
			if meant != "" {
				d.broken = append(d.broken, path+"/"+meant)
			}
			continue
		}
		d.walk(v, ft, p)
	}
}

// keyHint suggests the key an unknown one was meant to be.
func keyHint(name string, fields map[string]reflect.Type) (hint, meant string) {
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names)
	if c := closest(name, names, nil); c != "" {
		return fmt.Sprintf("did you mean %q?", c), c
	}
	return "allowed keys here: " + strings.Join(names, ", "), ""
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// yamlFields maps the yaml names of t's fields to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	defer fieldCache.Store(t, out)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "-" || tag == "" || !f.IsExported() {
			continue
		}
		out[tag] = f.Type
	}
	return out
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a set of 'key: value' lines"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!int", "!!float":
		return "the number " + n.Value
	case "!!bool":
		return n.Value
	}
	return fmt.Sprintf("the text %q", n.Value)
}

func last(path string) string {
	p := path[strings.LastIndexByte(path, '/')+1:]
	if _, err := strconv.Atoi(p); err == nil && path != "" {
		return "each entry of " + last(path[:strings.LastIndexByte(path, '/')])
	}
	return unescape(p)
}

func orFile(s string) string {
	if s == "" {
		return "the file"
	}
	return s
}

func inWhat(path string) string {
	if path == "" {
		return ""
	}
	return " in " + strings.TrimPrefix(last(path), "each entry of ")
}

// Paths are JSON-pointer style; '~' and '/' in keys are escaped.
var (
	escaper   = strings.NewReplacer("~", "~0", "/", "~1")
	unescaper = strings.NewReplacer("~1", "/", "~0", "~")
)

func escape(s string) string   { return escaper.Replace(s) }
func unescape(s string) string { return unescaper.Replace(s) }
