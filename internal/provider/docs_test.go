package provider

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
)

// The provider's documentation in docs/provider/ is generated from its
// schema and the examples in testdata/examples/:
//
//	go test ./internal/provider -run TestDocs -update
//
// TestDocs fails when the committed documentation is not what the schema
// says, so a schema change cannot leave the docs behind.
var update = flag.Bool("update", false, "rewrite docs/provider from the provider's schema")

const docsDir = "../../docs/provider"

func TestDocs(t *testing.T) {
	ctx := context.Background()
	docs := map[string][]byte{}

	var ps provider.SchemaResponse
	(&Provider{}).Schema(ctx, provider.SchemaRequest{}, &ps)
	p := docPage{kind: "Provider", name: TypeName, desc: ps.Schema.Description, example: example(t, "provider.tf")}
	for n, a := range ps.Schema.Attributes {
		p.attrs = append(p.attrs, docAttrOf(n, a))
	}
	docs["index.md"] = p.render()

	var ds datasource.SchemaResponse
	NewBundleDataSource().Schema(ctx, datasource.SchemaRequest{}, &ds)
	d := docPage{kind: "Data Source", name: TypeName + "_bundle", desc: ds.Schema.Description, example: example(t, "data-source-bundle.tf")}
	for n, a := range ds.Schema.Attributes {
		d.attrs = append(d.attrs, docAttrOf(n, a))
	}
	docs[filepath.Join("data-sources", "bundle.md")] = d.render()

	var rs resource.SchemaResponse
	NewSiteResource().Schema(ctx, resource.SchemaRequest{}, &rs)
	r := docPage{kind: "Resource", name: TypeName + "_site", desc: rs.Schema.Description, example: example(t, "resource-site.tf"),
		importNote: "Local sites can be imported by region and directory:\n\n```shell\nterraform import hubkit_site.nordjylland nordjylland:/srv/hubkit/nordjylland\n```\n"}
	for n, a := range rs.Schema.Attributes {
		r.attrs = append(r.attrs, docAttrOf(n, a))
	}
	for n, b := range rs.Schema.Blocks {
		r.blocks = append(r.blocks, docBlockOf(t, n, b))
	}
	docs[filepath.Join("resources", "site.md")] = r.render()

	for name, want := range docs {
		file := filepath.Join(docsDir, name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("%v: generate the docs with go test ./internal/provider -run TestDocs -update", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not up to date with the provider's schema: run go test ./internal/provider -run TestDocs -update", file)
		}
	}
}

// example reads an example configuration, checked by terraform fmt.
func example(t *testing.T, name string) string {
	t.Helper()
	file := filepath.Join("testdata", "examples", name)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(terraformBinary(), "fmt", "-check", "-diff", file)
	cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE=/dev/null", "CHECKPOINT_DISABLE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("terraform fmt -check %s: %v\n%s", file, err, out)
	}
	return string(b)
}

func terraformBinary() string {
	if p := os.Getenv("TF_ACC_TERRAFORM_PATH"); p != "" {
		return p
	}
	return "/usr/local/bin/terraform"
}

type docAttr struct {
	name, typ, desc              string
	required, optional, computed bool
}

type docBlock struct {
	name, desc string
	attrs      []docAttr
	blocks     []docBlock
}

type docPage struct {
	kind, name, desc, example, importNote string
	attrs                                 []docAttr
	blocks                                []docBlock
}

// schemaAttribute is what the provider, data source and resource
// schemas' attributes have in common.
type schemaAttribute interface {
	GetDescription() string
	GetType() attr.Type
	IsRequired() bool
	IsOptional() bool
	IsComputed() bool
}

// requiredNote starts the description of what the framework sees as
// optional but a validator requires (attributes of nested blocks, which
// are only required when their block is there); the docs list them as
// required.
const requiredNote = "Required. "

func docAttrOf(name string, a schemaAttribute) docAttr {
	d := docAttr{name: name, typ: typeName(a.GetType()), desc: a.GetDescription(),
		required: a.IsRequired(), optional: a.IsOptional(), computed: a.IsComputed()}
	if rest, ok := strings.CutPrefix(d.desc, requiredNote); ok {
		d.desc, d.required, d.optional = rest, true, false
	}
	return d
}

func docBlockOf(t *testing.T, name string, b rschema.Block) docBlock {
	sb, ok := b.(rschema.SingleNestedBlock)
	if !ok {
		t.Fatalf("docs: block %s is a %T; teach docs_test.go about it", name, b)
	}
	db := docBlock{name: name, desc: sb.Description}
	for n, a := range sb.Attributes {
		db.attrs = append(db.attrs, docAttrOf(n, a))
	}
	for n, nb := range sb.Blocks {
		db.blocks = append(db.blocks, docBlockOf(t, n, nb))
	}
	sort.Slice(db.blocks, func(i, j int) bool { return db.blocks[i].name < db.blocks[j].name })
	return db
}

func typeName(t attr.Type) string {
	switch t := t.(type) {
	case basetypes.StringType:
		return "String"
	case basetypes.BoolType:
		return "Boolean"
	case basetypes.Int64Type:
		return "Number"
	case basetypes.MapType:
		return "Map of " + typeName(t.ElemType)
	case basetypes.ListType:
		return "List of " + typeName(t.ElemType)
	}
	return fmt.Sprintf("%s", t)
}

func (p docPage) render() []byte {
	var b strings.Builder
	title := p.name + " " + p.kind
	if p.kind != "Provider" {
		title += " - " + TypeName
	}
	fmt.Fprintf(&b, "---\npage_title: %q\ndescription: |-\n  %s\n---\n\n", title, firstSentence(p.desc))
	fmt.Fprintf(&b, "<!-- Generated from the provider's schema by `go test ./internal/provider -run TestDocs -update`; do not edit. -->\n\n")
	fmt.Fprintf(&b, "# %s (%s)\n\n%s\n\n", p.name, p.kind, p.desc)
	fmt.Fprintf(&b, "## Example Usage\n\n```terraform\n%s```\n\n", p.example)
	b.WriteString("## Schema\n")
	writeAttrs(&b, p.attrs, p.blocks, "")
	for _, bl := range p.blocks {
		writeBlock(&b, bl, "")
	}
	if p.importNote != "" {
		fmt.Fprintf(&b, "\n## Import\n\n%s", p.importNote)
	}
	return []byte(b.String())
}

// writeAttrs lists attributes as tfplugindocs does: Required, Optional,
// Read-Only, with nested blocks among the optional ones.
func writeAttrs(b *strings.Builder, attrs []docAttr, blocks []docBlock, prefix string) {
	// Blocks are listed with the attributes, as required or optional.
	for _, bl := range blocks {
		desc, required := strings.CutPrefix(bl.desc, requiredNote)
		attrs = append(attrs, docAttr{name: bl.name, typ: "Block", required: required, optional: !required,
			desc: fmt.Sprintf("%s (see [below for nested schema](#nestedblock--%s))", desc, anchor(prefix+bl.name))})
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].name < attrs[j].name })
	section := func(title string, keep func(docAttr) bool) {
		var lines []string
		for _, a := range attrs {
			if keep(a) {
				lines = append(lines, fmt.Sprintf("- `%s` (%s) %s", a.name, a.typ, a.desc))
			}
		}
		if len(lines) > 0 {
			fmt.Fprintf(b, "\n### %s\n\n%s\n", title, strings.Join(lines, "\n"))
		}
	}
	section("Required", func(a docAttr) bool { return a.required })
	section("Optional", func(a docAttr) bool { return a.optional })
	section("Read-Only", func(a docAttr) bool { return a.computed && !a.optional && !a.required })
}

func writeBlock(b *strings.Builder, bl docBlock, prefix string) {
	path := prefix + bl.name
	fmt.Fprintf(b, "\n<a id=\"nestedblock--%s\"></a>\n### Nested Schema for `%s`\n", anchor(path), path)
	writeAttrs(b, bl.attrs, bl.blocks, path+".")
	for _, nb := range bl.blocks {
		writeBlock(b, nb, path+".")
	}
}

func anchor(path string) string { return strings.ReplaceAll(path, ".", "--") }

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}
