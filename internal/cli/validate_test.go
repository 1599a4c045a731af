package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run invokes hubctl in-process from the repository root.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	wd, _ := os.Getwd()
	if err := os.Chdir("../.."); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	code = Main(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestValidateRepositoryRegions(t *testing.T) {
	out, errOut, code := run(t, "validate")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, id := range []string{"nordjylland", "midtjylland", "syddanmark", "hovedstaden", "sjaelland"} {
		if !strings.Contains(out, "ok  "+id) {
			t.Errorf("output lacks %s:\n%s", id, out)
		}
	}
}

// copyRegions copies the repository's region files into a new directory,
// leaving out the ids in skip.
func copyRegions(t *testing.T, skip ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, id := range []string{"nordjylland", "midtjylland", "syddanmark", "hovedstaden", "sjaelland"} {
		if strings.Contains(" "+strings.Join(skip, " ")+" ", " "+id+" ") {
			continue
		}
		b, err := os.ReadFile("../../regions/" + id + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, id+".yaml"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestValidateMissingRegion(t *testing.T) {
	dir := copyRegions(t, "sjaelland")
	out, errOut, code := run(t, "validate", "--lang", "en", "--regions", dir)
	want := filepath.Join(dir, "sjaelland.yaml") + ": Region Sjælland (sjaelland.yaml) is missing from " + dir + "/ (every region has one file; without it the region's 17 municipalities belong to no hub)\n"
	if code != 1 || out != want || !strings.Contains(errOut, "1 error(s); 4 region(s) valid") {
		t.Fatalf("exit %d\nstdout %q\nwant   %q\nstderr %s", code, out, want, errOut)
	}
	// one present region can still be checked on its own
	out, errOut, code = run(t, "validate", "--regions", dir, "--region", "nordjylland")
	if code != 0 || !strings.HasPrefix(out, "ok  nordjylland") {
		t.Fatalf("--region of a present file: exit %d\n%s%s", code, out, errOut)
	}
	// asking for the missing one names it
	out, _, code = run(t, "validate", "--lang", "en", "--regions", dir, "--region", "sjaelland")
	if code != 1 || out != want {
		t.Fatalf("--region sjaelland: exit %d\n%s", code, out)
	}
}

func TestValidateBadRegionExitsOne(t *testing.T) {
	dir := copyRegions(t, "nordjylland")
	src, err := os.ReadFile("../../regions/nordjylland.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(src), "\nmembers:", "\nmembrs:", 1)
	line := strings.Count(bad[:strings.Index(bad, "membrs:")], "\n") + 1
	if err := os.WriteFile(filepath.Join(dir, "nordjylland.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "validate", "--lang", "en", "--regions", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	want := fmt.Sprintf(`%s:%d:1: unknown key "membrs" (did you mean "members"?)`, filepath.Join(dir, "nordjylland.yaml"), line)
	if !strings.Contains(out, want) || !strings.Contains(errOut, "1 error(s)") {
		t.Errorf("want %q in\n%s\n%s", want, out, errOut)
	}

	out, _, code = run(t, "validate", "--lang", "en", "--regions", dir, "-o", "json", "--region", "nordjylland")
	var res struct {
		Valid  bool
		Errors []struct {
			File          string
			Line, Col     int
			Message, Hint string
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || res.Valid || len(res.Errors) != 1 {
		t.Fatalf("json output %q (exit %d): %v", out, code, err)
	}
	if e := res.Errors[0]; e.Line != line || e.Col != 1 || e.Hint != `did you mean "members"?` {
		t.Errorf("json error %+v", e)
	}
}

// TestValidateLanguages: Danish by default and with LANG=da_…, English
// with --lang en or LANG=en_…; the same errors at the same places.
func TestValidateLanguages(t *testing.T) {
	dir := copyRegions(t, "sjaelland")
	file := filepath.Join(dir, "nordjylland.yaml")
	src, _ := os.ReadFile(file)
	bad := strings.Replace(string(src), "\nhost: Aalborg", "\nhost: Aalbrog", 1)
	bad = strings.Replace(bad, "  hotline:", "  hotlin:", 1)
	os.WriteFile(file, []byte(bad), 0o644)
	lineOf := func(s string) int { return strings.Count(bad[:strings.Index(bad, s)], "\n") + 1 }
	da := fmt.Sprintf(`%[1]s:%[2]d:7: ukendt kommune "Aalbrog" (mente du "Aalborg"?)
%[1]s:%[3]d:3: ukendt nøgle "hotlin" i contact (mente du "hotline"?)
%[4]s: Region Sjælland (sjaelland.yaml) mangler i %[5]s/ (hver region har én fil; uden den hører regionens 17 kommuner ikke til nogen hub)
`, file, lineOf("host: Aalbrog"), lineOf("hotlin:"), filepath.Join(dir, "sjaelland.yaml"), dir)
	en := fmt.Sprintf(`%[1]s:%[2]d:7: unknown municipality "Aalbrog" (did you mean "Aalborg"?)
%[1]s:%[3]d:3: unknown key "hotlin" in contact (did you mean "hotline"?)
%[4]s: Region Sjælland (sjaelland.yaml) is missing from %[5]s/ (every region has one file; without it the region's 17 municipalities belong to no hub)
`, file, lineOf("host: Aalbrog"), lineOf("hotlin:"), filepath.Join(dir, "sjaelland.yaml"), dir)
	cases := []struct {
		name, lang, env, out, summary string
	}{
		{"default is Danish", "", "C.UTF-8", da, "3 fejl; 3 region(er) i orden\n"},
		{"LANG da", "", "da_DK.UTF-8", da, "3 fejl; 3 region(er) i orden\n"},
		{"LANG en", "", "en_GB.UTF-8", en, "3 error(s); 3 region(s) valid\n"},
		{"--lang en wins", "en", "da_DK.UTF-8", en, "3 error(s); 3 region(s) valid\n"},
		{"--lang da wins", "da", "en_US.UTF-8", da, "3 fejl; 3 region(er) i orden\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("LC_ALL", "")
			t.Setenv("LC_MESSAGES", "")
			t.Setenv("LANG", tc.env)
			args := []string{"validate", "--regions", dir}
			if tc.lang != "" {
				args = append(args, "--lang", tc.lang)
			}
			out, errOut, code := run(t, args...)
			if code != 1 || out != tc.out || errOut != tc.summary {
				t.Errorf("exit %d\n%s%s\nwant\n%s%s", code, out, errOut, tc.out, tc.summary)
			}
		})
	}
	t.Setenv("LANG", "C")
	out, _, _ := run(t, "validate", "--regions", dir, "-o", "json")
	if !strings.Contains(out, `"message": "ukendt kommune \"Aalbrog\""`) || !strings.Contains(out, `"hint": "mente du \"Aalborg\"?"`) {
		t.Errorf("json in Danish:\n%s", out)
	}
	if _, errOut, code := run(t, "validate", "--lang", "de"); code != 1 || !strings.Contains(errOut, `--lang "de": use da or en`) {
		t.Errorf("--lang de: exit %d %s", code, errOut)
	}
	// valid files: the ok lines in Danish
	out, _, code := run(t, "validate")
	if code != 0 || !strings.Contains(out, " 11 kommuner, 2 login-udbydere, 3 ressourcepersoner, 4 partnere") {
		t.Errorf("ok lines in Danish: exit %d\n%s", code, out)
	}
}

func TestValidateUnknownRegionFlag(t *testing.T) {
	_, errOut, code := run(t, "validate", "--region", "fyn")
	want := "hubctl: --region nordjyland: no region with that id in regions; did you mean nordjylland? (region ids: nordjylland, midtjylland, syddanmark, hovedstaden, sjaelland)\n"
	if _, errOut, code := run(t, "validate", "--region", "nordjyland"); code != 1 || errOut != want {
		t.Fatalf("exit %d:\n%q\nwant\n%q", code, errOut, want)
	}
	// far from any id: no guess, still the list
	if code != 1 || errOut != "hubctl: --region fyn: no region with that id in regions (region ids: nordjylland, midtjylland, syddanmark, hovedstaden, sjaelland)\n" {
		t.Fatalf("exit %d: %q", code, errOut)
	}
}

func TestConfigErrors(t *testing.T) {
	_, errOut, code := run(t, "validate", "--config", "does/not/exist.yaml")
	if code != 1 || !strings.Contains(errOut, "does/not/exist.yaml") {
		t.Fatalf("a missing explicit config must fail naming the file; exit %d: %s", code, errOut)
	}
	bad := filepath.Join(t.TempDir(), "hubkit.yaml")
	os.WriteFile(bad, []byte("regions_dri: x\n"), 0o644)
	_, errOut, code = run(t, "validate", "--config", bad)
	if code != 1 || !strings.Contains(errOut, "regions_dri") {
		t.Fatalf("an unknown config key must fail naming it; exit %d: %s", code, errOut)
	}
	t.Setenv("HUBKIT_TERRAFORM_BACKEND", "s3")
	_, errOut, code = run(t, "validate")
	if code != 1 || !strings.Contains(errOut, `terraform.backend "s3"`) {
		t.Fatalf("HUBKIT_* overrides must apply and be checked; exit %d: %s", code, errOut)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	out, _, code := run(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "hubctl version ") {
		t.Errorf("--version: %q", out)
	}
	out, _, code = run(t, "completion", "bash")
	if code != 0 || !strings.Contains(out, "__start_hubctl") {
		t.Errorf("completion bash failed: exit %d", code)
	}
}
