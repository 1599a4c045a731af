package provider

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// SyncLockFile makes the hubkit entry of <moduleDir>/.terraform.lock.hcl
// name the package that WriteMirror put below mirrorDir: its version, and
// its h1: hash as the only hash. Other providers' entries are left as
// they are. It does nothing when there is no lock file or no hubkit
// entry yet (terraform init writes them), and reports whether it changed
// the file. When there is no lock file or no hubkit entry yet it writes
// one: left to terraform init, the entry would get hashes Terraform
// computed itself, and init warns "Incomplete lock file information for
// providers" on every first init. See the comment at the top of mirror.go
// for why hubctl owns this entry.
func SyncLockFile(moduleDir, mirrorDir, version string) (changed bool, err error) {
	hash, err := PackageHash(mirrorDir, version)
	if err != nil {
		return false, fmt.Errorf("hash the provider package in %s (write the mirror first): %w", mirrorDir, err)
	}
	file := filepath.Join(moduleDir, lockFileName)
	src, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		src, err = []byte(lockFileHeader), nil
	}
	if err != nil {
		return false, err
	}
	f, diags := hclwrite.ParseConfig(src, file, hcl.InitialPos)
	if diags.HasErrors() {
		return false, fmt.Errorf("%s: %s (delete the file; terraform init writes it again)", file, diags.Error())
	}
	for _, b := range f.Body().Blocks() {
		if b.Type() != "provider" || len(b.Labels()) != 1 || b.Labels()[0] != Address {
			continue
		}
		body := b.Body()
		if attrText(body, "version") == strconv.Quote(version) && onlyHash(attrText(body, "hashes"), hash) {
			return false, nil
		}
		body.SetAttributeValue("version", cty.StringVal(version))
		body.SetAttributeRaw("hashes", hashList(hash))
		if err := writeFileAtomic(file, hclwrite.Format(f.Bytes()), 0o644); err != nil {
			return false, err
		}
		return true, nil
	}
	b := f.Body()
	if len(b.Blocks()) > 0 || len(b.Attributes()) > 0 {
		b.AppendNewline()
	}
	body := b.AppendNewBlock("provider", []string{Address}).Body()
	body.SetAttributeValue("version", cty.StringVal(version))
	body.SetAttributeRaw("hashes", hashList(hash))
	if err := writeFileAtomic(file, hclwrite.Format(f.Bytes()), 0o644); err != nil {
		return false, err
	}
	return true, nil
}

// lockFileHeader is the comment Terraform starts its lock files with.
const lockFileHeader = `# This file is maintained automatically by "terraform init".
# Manual edits may be lost in future updates.

`

// attrText is the source text of an attribute's expression, "" when absent.
func attrText(body *hclwrite.Body, name string) string {
	a := body.GetAttribute(name)
	if a == nil {
		return ""
	}
	return strings.TrimSpace(string(a.Expr().BuildTokens(nil).Bytes()))
}

// onlyHash reports whether a hashes list holds hash and no other hash.
func onlyHash(list, hash string) bool {
	return strings.Contains(list, strconv.Quote(hash)) && strings.Count(list, `"h1:`)+strings.Count(list, `"zh:`) == 1
}

// hashList is a one-element list written as Terraform writes it:
//
//	[
//	  "h1:…",
//	]
func hashList(hash string) hclwrite.Tokens {
	toks := hclwrite.Tokens{
		{Type: hclsyntax.TokenOBrack, Bytes: []byte("[")},
		{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")},
	}
	toks = append(toks, hclwrite.TokensForValue(cty.StringVal(hash))...)
	return append(toks,
		&hclwrite.Token{Type: hclsyntax.TokenComma, Bytes: []byte(",")},
		&hclwrite.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")},
		&hclwrite.Token{Type: hclsyntax.TokenCBrack, Bytes: []byte("]")},
	)
}
