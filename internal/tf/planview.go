package tf

import (
	"fmt"
	"regexp"
	"strings"
)

// filesAttr is the first line of the bundle's files in a human-readable
// plan: `      + files                = {`.
var filesAttr = regexp.MustCompile(`^( *)([-+~]|-/\+|\+/-)? *files += \{$`)

// fileKey is one file of that map: `          ~ "site.json" = jsonencode(`.
var fileKey = regexp.MustCompile(`^ *([-+~]|-/\+|\+/-)? *"([^"]+)" *=`)

// ElideFiles replaces the contents of hubkit_site's files attribute (the
// whole rendered bundle, thousands of lines) in a human-readable plan by
// one line naming the files that change; what the change means is in the
// summary table.
func ElideFiles(plan string) string {
	lines := strings.Split(plan, "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		m := filesAttr.FindStringSubmatch(lines[i])
		if m == nil {
			out = append(out, lines[i])
			continue
		}
		indent := len(m[1])
		keyIndent := strings.Repeat(" ", indent+4)
		end := strings.Repeat(" ", indent+2) + "}"
		var files []string
		j := i + 1
		for ; j < len(lines) && !strings.HasPrefix(lines[j], end); j++ {
			l := lines[j]
			if strings.HasPrefix(l, keyIndent) && len(l) > len(keyIndent) && l[len(keyIndent)] != ' ' {
				if k := fileKey.FindStringSubmatch(l); k != nil {
					files = append(files, k[1]+k[2])
				}
			}
		}
		if j == len(lines) { // not the shape expected: keep it as it is
			out = append(out, lines[i])
			continue
		}
		tail := strings.TrimPrefix(lines[j], end) // e.g. " -> null"
		out = append(out, fmt.Sprintf("%s%s files = { %s }%s  # bundle files, %d lines not shown",
			m[1], m[2], strings.Join(files, ", "), tail, j-i-1))
		i = j
	}
	return strings.Join(out, "\n")
}
