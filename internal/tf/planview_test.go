package tf

import (
	"strings"
	"testing"
)

func TestElideFiles(t *testing.T) {
	in := `  # module.site.hubkit_site.this will be updated in-place
  ~ resource "hubkit_site" "this" {
      ~ bundle_hash          = "a" -> "b"
      ~ files                = {
          ~ "caddy.json"    = jsonencode(
              ~ {
                  ~ apps = {
                        files = {
                            "x" = 1
                        }
                    }
                }
            )
          ~ "site.json"     = jsonencode(
                {
                }
            )
            # (1 unchanged element hidden)
        }
        id                   = "nordjylland"
    }
`
	got := ElideFiles(in)
	want := `  # module.site.hubkit_site.this will be updated in-place
  ~ resource "hubkit_site" "this" {
      ~ bundle_hash          = "a" -> "b"
      ~ files = { ~caddy.json, ~site.json }  # bundle files, 14 lines not shown
        id                   = "nordjylland"
    }
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	destroy := "      - files                = {\n          - \"caddy.json\" = jsonencode(\n            )\n        } -> null\n      - id = \"x\"\n"
	if got := ElideFiles(destroy); got != "      - files = { -caddy.json } -> null  # bundle files, 2 lines not shown\n      - id = \"x\"\n" {
		t.Errorf("destroy: %q", got)
	}
	// An unclosed block (not Terraform's shape) is left as it is.
	odd := "      + files = {\n          + \"a\" = 1\n"
	if got := ElideFiles(odd); got != odd {
		t.Errorf("unclosed: %q", got)
	}
	if s := ElideFiles("No changes. Your infrastructure matches the configuration."); !strings.HasPrefix(s, "No changes.") {
		t.Error(s)
	}
}

func TestErrorLine(t *testing.T) {
	err := "exit status 1\n\nError: Error acquiring the state lock\n\nError message: Workspace is already locked"
	if got := errorLine(err); got != "Error: Error acquiring the state lock" {
		t.Errorf("errorLine = %q", got)
	}
	if got := errorLine("lock /x: busy\nmore"); got != "lock /x: busy" {
		t.Errorf("errorLine without Error: = %q", got)
	}
}
