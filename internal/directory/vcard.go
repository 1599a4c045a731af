package directory

import (
	"io"
	"strings"

	"github.com/emersion/go-vcard"
	"github.com/google/uuid"
)

// uidSpace is the namespace of the name-based UUIDs that identify exported
// cards, so that importing a newer export updates a contact instead of
// duplicating it.
var uidSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://hubkit.example/directory"))

// Card returns the vCard 4.0 (RFC 6350) of an entry, with labels in lang.
// Kommune entries carry no contact details and give a card with only names.
func Card(e Entry, lang string) vcard.Card {
	c := vcard.Card{}
	c.SetValue(vcard.FieldVersion, "4.0")
	c.SetValue(vcard.FieldProductID, "-//hubkit//directory//EN")
	c.SetValue(vcard.FieldUID, "urn:uuid:"+uuid.NewSHA1(uidSpace, []byte(e.Region+"/"+e.ID)).String())
	c.SetValue(vcard.FieldFormattedName, clean(e.Name))

	if e.Kind == Person {
		c.SetKind(vcard.KindIndividual)
		c.SetName(personName(e.Name))
		if e.Organisation != "" {
			c.SetValue(vcard.FieldOrganization, component(e.Organisation))
		}
		if e.Title != "" {
			c.SetValue(vcard.FieldTitle, clean(e.Title))
		}
	} else {
		c.SetKind(vcard.KindOrganization)
		c.SetValue(vcard.FieldOrganization, component(e.Name))
	}
	if e.Email != "" {
		c.Add(vcard.FieldEmail, &vcard.Field{Value: clean(e.Email), Params: vcard.Params{vcard.ParamType: {vcard.TypeWork}}})
	}
	if e.Phone != "" {
		c.Add(vcard.FieldTelephone, telField(e.Phone))
	}
	if e.URL != "" {
		c.SetValue(vcard.FieldURL, clean(e.URL))
	}
	// One CATEGORIES property per tag: go-vcard escapes the commas of a
	// joined list, which would make it one category.
	for _, t := range e.Tags {
		c.AddValue(vcard.FieldCategories, clean(TagLabel(t, lang)))
	}
	note := e.RegionName
	if e.Description != "" {
		note = e.Description + " — " + note
	}
	if note != "" {
		c.SetValue(vcard.FieldNote, clean(note))
	}
	return c
}

// WriteVCards writes the cards of the entries that can be reached (e-mail,
// phone or web site) and returns how many it wrote.
func WriteVCards(w io.Writer, entries []Entry, lang string) (int, error) {
	enc := vcard.NewEncoder(w)
	n := 0
	for _, e := range entries {
		if !Reachable(e) {
			continue
		}
		if err := enc.Encode(Card(e, lang)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Reachable says whether an entry has a way to contact it, so a card of it
// is worth exporting.
func Reachable(e Entry) bool { return e.Email != "" || e.Phone != "" || e.URL != "" }

// telField is a work voice number: a tel: URI for an international number
// (as RFC 6350 recommends), text for a short service number such as 1888,
// which has no global form.
func telField(phone string) *vcard.Field {
	p := vcard.Params{vcard.ParamType: {vcard.TypeWork, vcard.TypeVoice}}
	digits := strings.TrimPrefix(phone, "+")
	if strings.HasPrefix(phone, "+") && digits != "" && strings.Trim(digits, "0123456789") == "" {
		p.Set(vcard.ParamValue, "uri")
		return &vcard.Field{Value: "tel:" + phone, Params: p}
	}
	p.Set(vcard.ParamValue, "text")
	return &vcard.Field{Value: clean(phone), Params: p}
}

// personName splits a full name into family name (the last word) and given
// names, which is right for the Danish names the directory holds.
func personName(full string) *vcard.Name {
	words := strings.Fields(component(full))
	if len(words) == 0 {
		return &vcard.Name{}
	}
	return &vcard.Name{
		FamilyName: words[len(words)-1],
		GivenName:  strings.Join(words[:len(words)-1], " "),
	}
}

// clean keeps a value on one line: the encoder escapes newlines but not
// carriage returns, so a stray CR could start a property of its own.
func clean(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
}

// component is clean for a component of a structured value (N, ORG), in
// which a semicolon would start the next component and the encoder does not
// escape it.
func component(s string) string { return strings.ReplaceAll(clean(s), ";", ",") }
