package kommune

import "testing"

func TestCounts(t *testing.T) {
	want := map[string]int{"nordjylland": 11, "midtjylland": 19, "syddanmark": 22, "hovedstaden": 29, "sjaelland": 17}
	total := 0
	for id, n := range want {
		if got := len(InRegion(id)); got != n {
			t.Errorf("%s: %d municipalities, want %d", id, got, n)
		}
		total += n
	}
	if len(All()) != 98 || total != 98 {
		t.Errorf("%d municipalities, want 98", len(All()))
	}
}

func TestLookup(t *testing.T) {
	cases := []struct {
		in   string
		code int
	}{
		{"Aalborg", 851}, {"851", 851}, {"0851", 851}, {"aalborg", 851},
		{"Aabenraa", 580}, {"Åbenrå", 580}, {"ÅBENRÅ", 580},
		{"Høje-Taastrup", 169}, {"Hoeje-Taastrup", 169}, {"hoje taastrup", 169},
		{"København", 101}, {"Koebenhavn", 101}, {"Kobenhavn", 101},
		{"Lyngby-Taarbæk", 173}, {"Lyngby-Taarbaek", 173},
		{"Ærø", 492}, {"Aeroe", 492}, {"  Tønder ", 550},
	}
	for _, c := range cases {
		k, ok := Lookup(c.in)
		if !ok || k.Code != c.code {
			t.Errorf("Lookup(%q) = %v, %v; want code %d", c.in, k, ok, c.code)
		}
	}
	for _, bad := range []string{"", "Aalbrog", "999", "Sverige", "-1"} {
		if k, ok := Lookup(bad); ok {
			t.Errorf("Lookup(%q) = %v, want not found", bad, k)
		}
	}
}

func FuzzLookup(f *testing.F) {
	for _, s := range []string{"Aalborg", "Høje-Taastrup", "0851", "ÆØÅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if k, ok := Lookup(s); ok && k.Name == "" {
			t.Fatalf("found an empty municipality for %q", s)
		}
	})
}
