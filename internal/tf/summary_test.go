package tf

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

func TestSummarise(t *testing.T) {
	p := &tfjson.Plan{
		ResourceChanges: []*tfjson.ResourceChange{{
			Type: "hubkit_site",
			Change: &tfjson.Change{
				Actions: tfjson.Actions{tfjson.ActionUpdate},
				Before: map[string]any{"bundle_hash": "a", "resource_persons": []any{"Maja <m@x.example>"},
					"members": []any{"Aalborg"}},
				After: map[string]any{"bundle_hash": "b", "resource_persons": []any{"Maja <m@x.example>", "Ny Person <n@x.example>"},
					"members": []any{"Aalborg"}},
			},
		}, {
			Type:   "hubkit_site",
			Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionNoop}},
		}},
		ResourceDrift: []*tfjson.ResourceChange{{Type: "hubkit_site"}},
	}
	s := Summarise("nordjylland", p)
	if s.Add != 0 || s.Change != 1 || s.Destroy != 0 || !s.Release || s.Drift != 1 || !s.Changes() {
		t.Fatalf("summary %+v", s)
	}
	if d := s.Hub["resource_persons"]; len(d.Added) != 1 || d.Added[0] != "Ny Person <n@x.example>" || len(d.Removed) != 0 {
		t.Errorf("people diff %+v", d)
	}
	if _, ok := s.Hub["members"]; ok {
		t.Error("unchanged members reported")
	}
	table := Table([]Summary{s, {Region: "syddanmark"}})
	for _, want := range []string{"nordjylland      0       1        0  new release; 1 drifted; people: +Ny Person <n@x.example>", "syddanmark       0       0        0  no changes"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestCombine(t *testing.T) {
	for _, c := range []struct {
		in   []int
		want int
	}{{nil, 0}, {[]int{0, 0}, 0}, {[]int{0, 2}, 2}, {[]int{2, 1, 0}, 1}, {[]int{1, 2}, 1}} {
		if got := Combine(c.in...); got != c.want {
			t.Errorf("Combine(%v) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	a, b := newPrefixWriter(&mu, &out, "nordjylland"), newPrefixWriter(&mu, &out, "sjaelland")
	a.Write([]byte("one\ntw"))
	b.Write([]byte("x\n"))
	a.Write([]byte("o\n"))
	a.Write([]byte("tail"))
	a.Flush()
	want := "nordjylland | one\nsjaelland   | x\nnordjylland | two\nnordjylland | tail\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestSummariseCreateAndDelete(t *testing.T) {
	mk := func(a tfjson.Action, before, after any) *tfjson.Plan {
		return &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{{Type: "hubkit_site",
			Change: &tfjson.Change{Actions: tfjson.Actions{a}, Before: before, After: after}}}}
	}
	s := Summarise("x", mk(tfjson.ActionCreate, nil, map[string]any{"members": []any{"A", "B"}, "resource_persons": []any{"p"}}))
	if s.Add != 1 || s.Created["members"] != 2 || s.Created["resource_persons"] != 1 || len(s.Hub) != 0 {
		t.Errorf("create: %+v", s)
	}
	if tb := Table([]Summary{s}); !strings.Contains(tb, "new hub: 2 members, 1 people, 0 partners, 0 identity providers") {
		t.Errorf("create row: %s", tb)
	}
	s = Summarise("x", mk(tfjson.ActionDelete, map[string]any{"members": []any{"A"}}, nil))
	if s.Destroy != 1 || !s.Removed || len(s.Hub) != 0 || !strings.Contains(Table([]Summary{s}), "hub removed (data kept)") {
		t.Errorf("delete: %+v", s)
	}
}
