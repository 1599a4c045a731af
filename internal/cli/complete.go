package cli

import (
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hubkit/hubkit/internal/kommune"
)

// completeRegions offers the five region ids.
func completeRegions(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	var ids []string
	for _, r := range kommune.Regions() {
		ids = append(ids, r.ID)
	}
	return ids, cobra.ShellCompDirectiveNoFileComp
}

func baseName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}
