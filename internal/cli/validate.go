package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/hubkit/hubkit/internal/region"
)

func (a *app) validateCmd() *cobra.Command {
	var (
		dir    string
		ids    []string
		output string
		lang   string
	)
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the region files and report every error at once",
		Long: `validate checks the region files against the format and against each other
(every municipality in exactly one region, unique ids and domains) and reports
every problem as FILE:LINE:COL: message (hint).

Messages are in Danish; --lang en (or LANG=en_…) gives English.

Exit status: 0 when valid, 1 when there are errors.`,
		Example: `  hubctl validate
  hubctl validate --region nordjylland
  hubctl validate -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("-o %q: use text or json", output)
			}
			lang = region.Lang(lang, os.Getenv)
			if lang != region.Danish && lang != region.English {
				return fmt.Errorf("--lang %q: use da or en", lang)
			}
			if dir == "" {
				dir = a.cfg.RegionsDir
			}
			set, err := a.loadRegions(dir, ids)
			if err != nil {
				return err
			}
			set.Errors = set.Errors.In(lang)
			if output == "json" {
				writeValidationJSON(a.stdout, set)
			} else {
				writeValidationText(a.stdout, a.stderr, set, lang)
			}
			if len(set.Errors) > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "regions", "", "directory of region files (default from config: regions_dir)")
	cmd.Flags().StringSliceVar(&ids, "region", nil, "only this region (repeatable); checks across files still use all files")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&lang, "lang", "", "language of the messages: da or en (default: en when LANG says English, else da)")
	_ = cmd.RegisterFlagCompletionFunc("lang", cobra.FixedCompletions([]string{"da", "en"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("region", completeRegions)
	return cmd
}

// loadRegions loads all region files of dir and narrows the result to ids
// (all when empty). Errors of other regions' files are dropped; errors that
// involve a selected region's file are kept.
func (a *app) loadRegions(dir string, ids []string) (*region.Set, error) {
	set, err := region.LoadDir(dir, a.cfg.Defaults)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return set, nil
	}
	files := map[string]bool{}
	out := &region.Set{}
	for _, id := range ids {
		file := ""
		for _, r := range set.Regions {
			if r.ID == id {
				out.Regions = append(out.Regions, r)
				file = r.Source
			}
		}
		if file == "" {
			file = fileOfRegion(set, dir, id)
		}
		if file == "" {
			return nil, unknownRegion(id, dir)
		}
		files[file] = true
	}
	for _, e := range set.Errors {
		if files[e.File] {
			out.Errors = append(out.Errors, e)
		}
	}
	return out, nil
}

// validRegions loads the regions and fails, printing every error, when
// any file is invalid: nothing is rendered or provisioned from bad input.
func (a *app) validRegions(dir string) (*region.Set, error) {
	set, err := region.LoadDir(dir, a.cfg.Defaults)
	if err != nil {
		return nil, err
	}
	if len(set.Errors) > 0 {
		writeValidationText(a.stderr, a.stderr, set, region.English)
		return nil, exitError{1}
	}
	return set, nil
}

// fileOfRegion finds the file of a region that failed to load, by its file
// name (regions/<id>.yaml is the convention).
func fileOfRegion(set *region.Set, dir, id string) string {
	for _, e := range set.Errors {
		if base := baseName(e.File); base == id {
			return e.File
		}
	}
	return ""
}

func writeValidationText(stdout, stderr io.Writer, set *region.Set, lang string) {
	for _, e := range set.Errors {
		fmt.Fprintln(stdout, e.String())
	}
	summary, line := "%d error(s); %d region(s) valid\n", "ok  %-12s %-28s %2d kommuner, %d identity providers, %d resource persons, %d partners\n"
	if lang == region.Danish {
		summary, line = "%d fejl; %d region(er) i orden\n", "ok  %-12s %-28s %2d kommuner, %d login-udbydere, %d ressourcepersoner, %d partnere\n"
	}
	if len(set.Errors) > 0 {
		fmt.Fprintf(stderr, summary, len(set.Errors), len(set.Regions))
		return
	}
	for _, r := range set.Regions {
		fmt.Fprintf(stdout, line, r.ID, r.Source, len(r.Kommuner), len(r.IdentityProviders), len(r.ResourcePersons), len(r.Partners))
	}
}

func writeValidationJSON(w io.Writer, set *region.Set) {
	type regionOut struct {
		ID   string `json:"id"`
		File string `json:"file"`
	}
	out := struct {
		Valid   bool           `json:"valid"`
		Regions []regionOut    `json:"regions"`
		Errors  []region.Error `json:"errors"`
	}{Valid: len(set.Errors) == 0, Regions: []regionOut{}, Errors: set.Errors}
	if out.Errors == nil {
		out.Errors = []region.Error{}
	}
	for _, r := range set.Regions {
		out.Regions = append(out.Regions, regionOut{r.ID, r.Source})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}
