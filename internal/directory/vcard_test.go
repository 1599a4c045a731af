package directory

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-vcard"
)

func decodeAll(t *testing.T, b []byte) []vcard.Card {
	t.Helper()
	var cards []vcard.Card
	dec := vcard.NewDecoder(bytes.NewReader(b))
	for {
		c, err := dec.Decode()
		if errors.Is(err, io.EOF) {
			return cards
		}
		if err != nil {
			t.Fatalf("export does not parse: %v\n%s", err, b)
		}
		cards = append(cards, c)
	}
}

func TestPersonCard(t *testing.T) {
	d := New(testSite(t, "nordjylland"))
	e, ok := find(d.Search(Query{Text: "søren kjær"}), "Søren Kjær")
	if !ok {
		t.Fatal("no Søren Kjær")
	}
	var buf bytes.Buffer
	n, err := WriteVCards(&buf, []Entry{e}, "da")
	if err != nil || n != 1 {
		t.Fatalf("WriteVCards = %d, %v", n, err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("BEGIN:VCARD\r\nVERSION:4.0\r\n")) {
		t.Errorf("not a vCard 4.0 with CRLF lines:\n%q", buf.String())
	}
	cards := decodeAll(t, buf.Bytes())
	if len(cards) != 1 {
		t.Fatalf("%d cards, want 1", len(cards))
	}
	c := cards[0]
	want := map[string]string{
		vcard.FieldFormattedName: "Søren Kjær",
		vcard.FieldOrganization:  "Nordjyllands Politi",
		vcard.FieldTitle:         "Forebyggelseskonsulent",
		vcard.FieldEmail:         "soeren.kjaer@politi.example",
		vcard.FieldTelephone:     "tel:+4596301448",
		vcard.FieldNote:          "Region Nordjylland",
		vcard.FieldKind:          "individual",
	}
	for k, v := range want {
		if got := c.Value(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if n := c.Name(); n == nil || n.FamilyName != "Kjær" || n.GivenName != "Søren" {
		t.Errorf("N = %+v, want Kjær;Søren", n)
	}
	tel := c.Get(vcard.FieldTelephone)
	if !tel.Params.HasType("work") || !tel.Params.HasType("voice") || tel.Params.Get(vcard.ParamValue) != "uri" {
		t.Errorf("TEL params = %v, want TYPE work and voice, VALUE=uri", tel.Params)
	}
	if !c.Get(vcard.FieldEmail).Params.HasType("work") {
		t.Errorf("EMAIL params = %v, want TYPE=work", c.Get(vcard.FieldEmail).Params)
	}
	if got := c.Values(vcard.FieldCategories); !slices.Equal(got, []string{"Politi", "Forebyggelse"}) {
		t.Errorf("CATEGORIES = %q, want Politi, Forebyggelse", got)
	}
	if uid := c.Value(vcard.FieldUID); !strings.HasPrefix(uid, "urn:uuid:") {
		t.Errorf("UID = %q, want a urn:uuid", uid)
	}
	// English labels on request; the same UID, so re-import updates.
	en := Card(e, "en")
	if got := en.Values(vcard.FieldCategories); !slices.Equal(got, []string{"Police", "Prevention"}) {
		t.Errorf("English CATEGORIES = %q", got)
	}
	if en.Value(vcard.FieldUID) != c.Value(vcard.FieldUID) {
		t.Error("UID depends on language")
	}
}

func TestExportList(t *testing.T) {
	d := New(testSite(t, "hovedstaden"))
	entries := d.Search(Query{})
	var buf bytes.Buffer
	n, err := WriteVCards(&buf, entries, "da")
	if err != nil {
		t.Fatal(err)
	}
	cards := decodeAll(t, buf.Bytes())
	if len(cards) != n {
		t.Fatalf("wrote %d, decoded %d", n, len(cards))
	}
	reachable := 0
	for _, e := range entries {
		if Reachable(e) {
			reachable++
		}
	}
	if n != reachable || n == 0 {
		t.Errorf("exported %d cards, want the %d reachable entries", n, reachable)
	}
	var short bool
	for _, c := range cards {
		if c.Value(vcard.FieldFormattedName) == "" {
			t.Errorf("card without FN: %v", c)
		}
		if c.Value(vcard.FieldTelephone) == "1888" {
			short = true
			if v := c.Get(vcard.FieldTelephone).Params.Get(vcard.ParamValue); v != "text" {
				t.Errorf("short number 1888 as VALUE=%s, want text", v)
			}
		}
	}
	if !short {
		t.Error("Lev Uden Vold's 1888 not exported")
	}
}

func TestCardInjection(t *testing.T) {
	e := Entry{
		ID: "p-1", Kind: Person, Name: "Eve\r\nEVIL:1; x", Title: "a\rb", Organisation: "Org; Unit",
		Email: "eve@example.test\r\nTEL:666", Region: "x", RegionName: "X",
	}
	var buf bytes.Buffer
	if _, err := WriteVCards(&buf, []Entry{e}, "da"); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\r\n") {
		if strings.HasPrefix(line, "EVIL") || strings.HasPrefix(line, "TEL:666") || strings.Contains(line, "\r") || strings.Contains(line, "\n") {
			t.Errorf("value broke out of its line: %q", line)
		}
	}
	c := decodeAll(t, buf.Bytes())[0]
	if got := c.Value(vcard.FieldOrganization); got != "Org, Unit" {
		t.Errorf("ORG = %q, want the semicolon kept out of the structure", got)
	}
	if len(c[vcard.FieldTelephone]) != 0 {
		t.Errorf("injected TEL: %v", c[vcard.FieldTelephone])
	}
}
