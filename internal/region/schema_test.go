package region

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// The JSON Schema in config/ is what editors check region files with while
// they are typed; the loader in this package is the authority. These tests
// keep the two describing the same format.

const (
	schemaTestFile    = "../../config/region.schema.json"
	schemaTestRegions = "../../regions/*.yaml"
	metaSchema2020    = "https://json-schema.org/draft/2020-12/schema"
)

// TestSchemaMatchesGoTypes walks region.Region by reflection alongside the
// schema and requires the same property names in both directions,
// "additionalProperties": false on every object, and enums equal to the
// model's vars.
func TestSchemaMatchesGoTypes(t *testing.T) {
	doc := schemaTestLoad(t)
	w := &schemaTestWalker{t: t, root: doc, nodes: map[string]map[string]any{}, ptr: map[string]string{}}
	w.walk(doc, "", reflect.TypeFor[Region](), "")

	// Every object in the schema, reached from Go or not, is closed.
	schemaTestEachNode(doc, "", func(ptr string, m map[string]any) {
		if schemaTestHasType(m, "object") || m["properties"] != nil {
			if ap, ok := m["additionalProperties"]; !ok || ap != false {
				t.Errorf(`schema %s: object must set "additionalProperties": false`, schemaTestPtr(ptr))
			}
		}
	})

	// Every $defs entry is used.
	refs := map[string]bool{}
	schemaTestEachNode(doc, "", func(_ string, m map[string]any) {
		if ref, ok := m["$ref"].(string); ok {
			refs[ref] = true
		}
	})
	defs, _ := doc["$defs"].(map[string]any)
	for _, name := range schemaTestSortedKeys(defs) {
		if !refs["#/$defs/"+name] {
			t.Errorf("schema /$defs/%s is never referenced", name)
		}
	}

	// Enums equal the model's vars. Keys are Go paths recorded by the walk,
	// so the checks follow the Go types wherever the schema puts the enum.
	for _, c := range []struct {
		goPath string
		name   string
		want   []string
	}{
		{"IdentityProvider.Kind", "ProviderKinds", ProviderKinds},
		{"NSIS.Minimum", "NSISLevels", NSISLevels},
		{"NSIS.Assume", "NSISLevels", NSISLevels},
		{"Person.Visibility", "Visibilities", Visibilities},
		{"Partner.Visibility", "Visibilities", Visibilities},
		{"Partner.Kind", "PartnerKinds", PartnerKinds},
		{"Person.Tags[]", "Tags", Tags},
	} {
		node, ok := w.nodes[c.goPath]
		if !ok {
			t.Errorf("schema has no node for region.%s (enum %s)", c.goPath, c.name)
			continue
		}
		ptr := schemaTestPtr(w.ptr[c.goPath])
		raw, ok := node["enum"].([]any)
		if !ok {
			t.Errorf("schema %s (region.%s) has no enum; want the values of %s %v", ptr, c.goPath, c.name, c.want)
			continue
		}
		var got []string
		for _, v := range raw {
			s, ok := v.(string)
			if !ok {
				t.Errorf("schema %s (region.%s): enum value %v is not a string", ptr, c.goPath, v)
				continue
			}
			got = append(got, s)
		}
		if missing, extra, dup := schemaTestSetDiff(got, c.want); len(missing)+len(extra)+len(dup) > 0 {
			t.Errorf("schema %s (region.%s): enum differs from %s: missing %q, extra %q, duplicated %q",
				ptr, c.goPath, c.name, missing, extra, dup)
		}
	}

	// The role and level maps are keyed by the vars (Role and Level rely on it).
	for _, c := range []struct {
		typ  reflect.Type
		name string
		want []string
	}{
		{reflect.TypeFor[RoleMap](), "Roles", Roles},
		{reflect.TypeFor[LevelMap](), "NSISLevels", NSISLevels},
	} {
		var got []string
		for _, f := range schemaTestYAMLFields(c.typ) {
			got = append(got, f.name)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s yaml keys %q differ from %s %q", c.typ, got, c.name, c.want)
		}
	}
}

// TestSchemaValidatesRegions checks the schema against the draft 2020-12
// meta-schema, validates every regions/*.yaml with it, and makes sure it
// rejects what it should.
func TestSchemaValidatesRegions(t *testing.T) {
	sch := schemaTestCompile(t)

	files, err := filepath.Glob(schemaTestRegions)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no region files match %s", schemaTestRegions)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(schemaTestYAML(t, data)); err != nil {
				t.Errorf("%s does not validate against %s:\n%v", file, schemaTestFile, err)
			}
		})
	}

	t.Run("valid inline region", func(t *testing.T) {
		if err := sch.Validate(schemaTestYAML(t, []byte(schemaTestBase))); err != nil {
			t.Fatalf("the base region of this test must validate:\n%v", err)
		}
	})

	t.Run("typo key and inline secret", func(t *testing.T) {
		const doc = `
id: test
name: Region Test
host: Aalborg
domain: test.hub.example
membrs: [Aalborg]
contact:
  hotline: "+45 99 31 00 00"
  email: hub@test.example
  accessibility_statement: https://test.hub.example/a11y
identity_providers:
  - kommune: Aalborg
    issuer: https://idp.test.example
    client_id: hubkit
    client_secret: hunter2
    roles: { consultant: [konsulent] }
`
		err := sch.Validate(schemaTestYAML(t, []byte(doc)))
		if err == nil {
			t.Fatal("schema accepted a region with key membrs and an inline client_secret")
		}
		// "members" is required and "membrs" unknown, both at the root.
		for _, loc := range []string{"", "/identity_providers/0/client_secret"} {
			if !schemaTestErrAt(err, loc) {
				t.Errorf("no validation error at %q; got:\n%v", loc, err)
			}
		}
		if !strings.Contains(err.Error(), "membrs") {
			t.Errorf("validation error does not name the typo key membrs:\n%v", err)
		}
	})

	for _, c := range []struct {
		name  string
		edit  func(r map[string]any)
		valid bool
		at    string // instance location of the expected error
	}{
		{"host as code", func(r map[string]any) { r["host"] = 851 }, true, ""},
		{"members mixing names and codes", func(r map[string]any) { r["members"] = []any{"Aalborg", 860} }, true, ""},
		{"host as list", func(r map[string]any) { r["host"] = []any{"Aalborg"} }, false, "/host"},
		{"id with capital", func(r map[string]any) { r["id"] = "Nordjylland" }, false, "/id"},
		{"missing contact", func(r map[string]any) { delete(r, "contact") }, false, ""},
		{"missing accessibility statement", func(r map[string]any) {
			delete(schemaTestMap(r, "contact"), "accessibility_statement")
		}, false, "/contact"},
		{"secret with env and file", func(r map[string]any) {
			schemaTestIdP(r)["client_secret"] = map[string]any{"env": "X_SECRET", "file": "/etc/x"}
		}, false, "/identity_providers/0/client_secret"},
		{"empty secret", func(r map[string]any) {
			schemaTestIdP(r)["client_secret"] = map[string]any{}
		}, false, "/identity_providers/0/client_secret"},
		{"secret env lower case", func(r map[string]any) {
			schemaTestIdP(r)["client_secret"] = map[string]any{"env": "hubkit_secret"}
		}, false, "/identity_providers/0/client_secret/env"},
		{"secret file relative", func(r map[string]any) {
			schemaTestIdP(r)["client_secret"] = map[string]any{"file": "secrets/x"}
		}, false, "/identity_providers/0/client_secret/file"},
		{"unknown provider kind", func(r map[string]any) { schemaTestIdP(r)["kind"] = "saml" }, false, "/identity_providers/0/kind"},
		{"unknown role", func(r map[string]any) {
			schemaTestIdP(r)["roles"] = map[string]any{"superuser": []any{"x"}}
		}, false, "/identity_providers/0/roles"},
		{"unknown NSIS level", func(r map[string]any) {
			schemaTestIdP(r)["nsis"] = map[string]any{"minimum": "medium"}
		}, false, "/identity_providers/0/nsis/minimum"},
		{"unknown tag", func(r map[string]any) {
			schemaTestFirst(r, "resource_persons")["tags"] = []any{"ssp", "plumbing"}
		}, false, "/resource_persons/0/tags/1"},
		{"person visibility", func(r map[string]any) {
			schemaTestFirst(r, "resource_persons")["visibility"] = "public"
		}, false, "/resource_persons/0/visibility"},
		{"person without email", func(r map[string]any) {
			delete(schemaTestFirst(r, "resource_persons"), "email")
		}, false, "/resource_persons/0"},
		{"unknown partner kind", func(r map[string]any) {
			schemaTestFirst(r, "partners")["kind"] = "church"
		}, false, "/partners/0/kind"},
		{"empty partner contact", func(r map[string]any) {
			schemaTestFirst(r, "partners")["contact"] = map[string]any{}
		}, false, "/partners/0/contact"},
		{"file size without unit", func(r map[string]any) {
			schemaTestMap(r, "file_drop")["max_file_size"] = "2"
		}, false, "/file_drop/max_file_size"},
		{"file size without space", func(r map[string]any) {
			schemaTestMap(r, "file_drop")["max_file_size"] = "500MB"
		}, true, ""},
		{"zero retention", func(r map[string]any) {
			schemaTestMap(r, "file_drop")["max_retention_days"] = 0
		}, false, "/file_drop/max_retention_days"},
		{"fractional files per drop", func(r map[string]any) {
			schemaTestMap(r, "file_drop")["max_files_per_drop"] = 2.5
		}, false, "/file_drop/max_files_per_drop"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, ok := schemaTestYAML(t, []byte(schemaTestBase)).(map[string]any)
			if !ok {
				t.Fatal("base region is not a mapping")
			}
			c.edit(r)
			err := sch.Validate(schemaTestJSON(t, r))
			switch {
			case c.valid && err != nil:
				t.Errorf("schema rejected a valid region:\n%v", err)
			case !c.valid && err == nil:
				t.Errorf("schema accepted an invalid region")
			case !c.valid && !schemaTestErrAt(err, c.at):
				t.Errorf("no validation error at %q; got:\n%v", c.at, err)
			}
		})
	}
}

// schemaTestBase is a small valid region the negative cases break.
const schemaTestBase = `
id: test
name: Region Test
host: Aalborg
domain: test.hub.example
members: [Aalborg, Hjørring]
contact:
  hotline: "+45 99 31 00 00"
  email: hub@test.example
  accessibility_statement: https://test.hub.example/a11y
identity_providers:
  - kommune: Aalborg
    kind: os2faktor
    issuer: https://idp.test.example
    client_id: hubkit
    client_secret: { env: HUBKIT_OIDC_TEST }
    roles: { consultant: [konsulent] }
    nsis: { minimum: substantial }
resource_persons:
  - name: Test Person
    title: SSP-konsulent
    organisation: Aalborg Kommune
    kommune: 851
    email: test@aalborg.example
    tags: [ssp]
partners:
  - name: Lev Uden Vold
    kind: helpline
    contact: { phone: "1888" }
file_drop:
  max_file_size: 2 GiB
  max_files_per_drop: 20
  default_retention_days: 30
  max_retention_days: 90
`

// schemaTestWalker walks a Go type and its schema node side by side.
type schemaTestWalker struct {
	t     *testing.T
	root  map[string]any
	nodes map[string]map[string]any // Go path (Type.Field[]) -> resolved schema node
	ptr   map[string]string         // Go path -> JSON pointer of that node
}

// resolve follows local $refs into $defs.
func (w *schemaTestWalker) resolve(node map[string]any, ptr string) (map[string]any, string, bool) {
	for range 16 {
		ref, ok := node["$ref"].(string)
		if !ok {
			return node, ptr, true
		}
		name, ok := strings.CutPrefix(ref, "#/$defs/")
		if !ok {
			w.t.Errorf("schema %s: $ref %q does not point into #/$defs/", schemaTestPtr(ptr), ref)
			return nil, "", false
		}
		defs, _ := w.root["$defs"].(map[string]any)
		def, ok := defs[name].(map[string]any)
		if !ok {
			w.t.Errorf("schema %s: $ref %q names no $defs entry", schemaTestPtr(ptr), ref)
			return nil, "", false
		}
		node, ptr = def, "/$defs/"+name
	}
	w.t.Errorf("schema %s: $ref chain too long", schemaTestPtr(ptr))
	return nil, "", false
}

func (w *schemaTestWalker) walk(node map[string]any, ptr string, typ reflect.Type, goPath string) {
	node, ptr, ok := w.resolve(node, ptr)
	if !ok {
		return
	}
	if goPath != "" {
		w.nodes[goPath] = node
		w.ptr[goPath] = ptr
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	where := schemaTestPtr(ptr)
	switch typ.Kind() {
	case reflect.Struct:
		w.wantType(node, where, "object", typ)
		if ap, ok := node["additionalProperties"]; !ok || ap != false {
			w.t.Errorf(`schema %s (%s) must set "additionalProperties": false`, where, typ)
		}
		props, _ := node["properties"].(map[string]any)
		fields := schemaTestYAMLFields(typ)
		have := map[string]bool{}
		for _, f := range fields {
			have[f.name] = true
			sub, ok := props[f.name].(map[string]any)
			if !ok {
				w.t.Errorf("schema %s lacks property %q of %s (field %s)", where, f.name, typ, f.goName)
				continue
			}
			w.walk(sub, ptr+"/properties/"+f.name, f.typ, typ.Name()+"."+f.goName)
		}
		for _, name := range schemaTestSortedKeys(props) {
			if !have[name] {
				w.t.Errorf("schema %s has property %q that %s has no yaml field for", where, name, typ)
			}
		}
		req, _ := node["required"].([]any)
		for _, r := range req {
			if name, _ := r.(string); !have[name] {
				w.t.Errorf("schema %s requires %v, which is no yaml field of %s", where, r, typ)
			}
		}
	case reflect.Slice, reflect.Array:
		w.wantType(node, where, "array", typ)
		items, ok := node["items"].(map[string]any)
		if !ok {
			w.t.Errorf("schema %s (%s) has no items schema", where, typ)
			return
		}
		w.walk(items, ptr+"/items", typ.Elem(), goPath+"[]")
	case reflect.String:
		w.wantType(node, where, "string", typ)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		w.wantType(node, where, "integer", typ)
	case reflect.Bool:
		w.wantType(node, where, "boolean", typ)
	default:
		w.t.Errorf("schema %s: %s has kind %s, which this test does not know; extend it", where, typ, typ.Kind())
	}
}

func (w *schemaTestWalker) wantType(node map[string]any, where, want string, typ reflect.Type) {
	if !schemaTestHasType(node, want) {
		w.t.Errorf("schema %s: type is %v, want it to include %q for %s", where, node["type"], want, typ)
	}
}

type schemaTestField struct {
	name, goName string
	typ          reflect.Type
}

// schemaTestYAMLFields lists the keys yaml.v3 maps typ's fields to,
// skipping yaml:"-" and unexported fields and flattening ",inline".
func schemaTestYAMLFields(typ reflect.Type) []schemaTestField {
	var out []schemaTestField
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if slices.Contains(strings.Split(opts, ","), "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			out = append(out, schemaTestYAMLFields(ft)...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name) // yaml.v3's default key
		}
		out = append(out, schemaTestField{name: name, goName: f.Name, typ: f.Type})
	}
	return out
}

func schemaTestHasType(node map[string]any, want string) bool {
	switch v := node["type"].(type) {
	case string:
		return v == want
	case []any:
		return slices.Contains(v, any(want))
	}
	return false
}

// schemaTestEachNode calls fn on every JSON object in the document.
func schemaTestEachNode(v any, ptr string, fn func(ptr string, m map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		fn(ptr, v)
		for _, k := range schemaTestSortedKeys(v) {
			schemaTestEachNode(v[k], ptr+"/"+k, fn)
		}
	case []any:
		for i, e := range v {
			schemaTestEachNode(e, fmt.Sprintf("%s/%d", ptr, i), fn)
		}
	}
}

func schemaTestSortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func schemaTestPtr(ptr string) string {
	if ptr == "" {
		return "/ (root)"
	}
	return ptr
}

// schemaTestSetDiff compares got with want as sets.
func schemaTestSetDiff(got, want []string) (missing, extra, dup []string) {
	seen := map[string]bool{}
	for _, g := range got {
		if seen[g] {
			dup = append(dup, g)
		}
		seen[g] = true
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	for _, w := range want {
		if !seen[w] {
			missing = append(missing, w)
		}
	}
	return missing, extra, dup
}

func schemaTestLoad(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(schemaTestFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", schemaTestFile, err)
	}
	return doc
}

// schemaTestCompile checks the schema against the draft 2020-12 meta-schema
// and compiles it, asserting formats as editors do.
func schemaTestCompile(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaTestFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", schemaTestFile, err)
	}
	if s, _ := doc.(map[string]any)["$schema"].(string); s != metaSchema2020 {
		t.Errorf("%s: $schema is %q, want %q", schemaTestFile, s, metaSchema2020)
	}
	meta, err := jsonschema.NewCompiler().Compile(metaSchema2020)
	if err != nil {
		t.Fatal(err)
	}
	if err := meta.Validate(doc); err != nil {
		t.Fatalf("%s is not a valid draft 2020-12 schema:\n%v", schemaTestFile, err)
	}
	abs, err := filepath.Abs(schemaTestFile)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(abs, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(abs)
	if err != nil {
		t.Fatalf("compile %s: %v", schemaTestFile, err)
	}
	return sch
}

// schemaTestYAML decodes YAML into JSON values (string keys, json.Number).
func schemaTestYAML(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return schemaTestJSON(t, v)
}

// schemaTestJSON turns decoded YAML into what jsonschema validates: maps get
// string keys, then a JSON round trip normalises scalars (numbers, times).
func schemaTestJSON(t *testing.T, v any) any {
	t.Helper()
	var conv func(any) any
	conv = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			m := make(map[string]any, len(v))
			for k, e := range v {
				m[k] = conv(e)
			}
			return m
		case map[any]any:
			m := make(map[string]any, len(v))
			for k, e := range v {
				m[fmt.Sprint(k)] = conv(e)
			}
			return m
		case []any:
			s := make([]any, len(v))
			for i, e := range v {
				s[i] = conv(e)
			}
			return s
		}
		return v
	}
	data, err := json.Marshal(conv(v))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// schemaTestErrAt reports whether err or one of its causes is about the
// value at JSON pointer loc.
func schemaTestErrAt(err error, loc string) bool {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	var find func(*jsonschema.ValidationError) bool
	find = func(e *jsonschema.ValidationError) bool {
		p := ""
		for _, tok := range e.InstanceLocation {
			p += "/" + tok
		}
		if p == loc && len(e.Causes) == 0 {
			return true
		}
		return slices.ContainsFunc(e.Causes, find)
	}
	return find(ve)
}

func schemaTestMap(r map[string]any, key string) map[string]any {
	m, _ := r[key].(map[string]any)
	return m
}

func schemaTestFirst(r map[string]any, key string) map[string]any {
	s, _ := r[key].([]any)
	m, _ := s[0].(map[string]any)
	return m
}

func schemaTestIdP(r map[string]any) map[string]any { return schemaTestFirst(r, "identity_providers") }
