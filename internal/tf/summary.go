package tf

import (
	"fmt"
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// HubAttributes are the hubkit_site attributes that say what a change
// means for the people using the hub.
var HubAttributes = []string{"members", "resource_persons", "partners", "identity_providers"}

// Summary is what a region's plan would do.
type Summary struct {
	Region  string              `json:"region"`
	Add     int                 `json:"add"`
	Change  int                 `json:"change"`
	Destroy int                 `json:"destroy"`
	Drift   int                 `json:"drift"` // resources changed outside Terraform
	Hub     map[string]ListDiff `json:"hub,omitempty"`
	Release bool                `json:"release"`           // a new bundle is deployed
	Created map[string]int      `json:"created,omitempty"` // a new hub: how many of each
	Removed bool                `json:"removed,omitempty"` // the hub is removed
}

// ListDiff is what was added to and removed from a list attribute.
type ListDiff struct {
	Added   []string `json:"added,omitempty"`
	Removed []string `json:"removed,omitempty"`
}

// Changes reports whether the plan changes anything.
func (s Summary) Changes() bool { return s.Add+s.Change+s.Destroy > 0 }

// Summarise reads a saved plan's JSON.
func Summarise(region string, p *tfjson.Plan) Summary {
	s := Summary{Region: region, Hub: map[string]ListDiff{}}
	if p == nil {
		return s
	}
	s.Drift = len(p.ResourceDrift)
	for _, rc := range p.ResourceChanges {
		if rc.Change == nil {
			continue
		}
		a := rc.Change.Actions
		switch {
		case a.Create():
			s.Add++
		case a.Update():
			s.Change++
		case a.Delete():
			s.Destroy++
		case a.Replace():
			s.Add++
			s.Destroy++
		default:
			continue
		}
		if rc.Type != "hubkit_site" {
			continue
		}
		before, _ := rc.Change.Before.(map[string]any)
		after, _ := rc.Change.After.(map[string]any)
		switch {
		case a.Delete():
			s.Removed = true
			continue
		case a.Create():
			s.Created = map[string]int{}
			for _, attr := range HubAttributes {
				s.Created[attr] = len(strList(after[attr]))
			}
			continue
		}
		if fmt.Sprint(before["bundle_hash"]) != fmt.Sprint(after["bundle_hash"]) {
			s.Release = true
		}
		for _, attr := range HubAttributes {
			d := diffLists(strList(before[attr]), strList(after[attr]))
			if len(d.Added)+len(d.Removed) > 0 {
				s.Hub[attr] = d
			}
		}
	}
	return s
}

func strList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func diffLists(before, after []string) ListDiff {
	in := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	b, a := in(before), in(after)
	var d ListDiff
	for s := range a {
		if !b[s] {
			d.Added = append(d.Added, s)
		}
	}
	for s := range b {
		if !a[s] {
			d.Removed = append(d.Removed, s)
		}
	}
	sort.Strings(d.Added)
	sort.Strings(d.Removed)
	return d
}

// Labels for the hub attributes in summaries.
var hubLabels = map[string]string{
	"members": "members", "resource_persons": "people", "partners": "partners", "identity_providers": "identity providers",
}

// Table renders summaries as the table hubctl plan prints.
func Table(sums []Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %5s %7s %8s  %s\n", "REGION", "ADD", "CHANGE", "DESTROY", "IN HUB TERMS")
	for _, s := range sums {
		var notes []string
		if s.Removed {
			notes = append(notes, "hub removed (data kept)")
		}
		if s.Created != nil {
			var parts []string
			for _, attr := range HubAttributes {
				parts = append(parts, fmt.Sprintf("%d %s", s.Created[attr], hubLabels[attr]))
			}
			notes = append(notes, "new hub: "+strings.Join(parts, ", "))
		}
		if s.Release {
			notes = append(notes, "new release")
		}
		if s.Drift > 0 {
			notes = append(notes, fmt.Sprintf("%d drifted", s.Drift))
		}
		for _, attr := range HubAttributes {
			d, ok := s.Hub[attr]
			if !ok {
				continue
			}
			var parts []string
			for _, x := range d.Added {
				parts = append(parts, "+"+x)
			}
			for _, x := range d.Removed {
				parts = append(parts, "-"+x)
			}
			notes = append(notes, hubLabels[attr]+": "+strings.Join(parts, ", "))
		}
		if len(notes) == 0 {
			notes = append(notes, "no changes")
		}
		fmt.Fprintf(&b, "%-12s %5d %7d %8d  %s\n", s.Region, s.Add, s.Change, s.Destroy, strings.Join(notes, "; "))
	}
	return b.String()
}
