package filedrop

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCreateDropValidation(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	many := make([]string, MaxRecipients+1)
	for i := range many {
		many[i] = fmt.Sprintf("851:user%d", i)
	}
	tests := []struct {
		name  string
		edit  func(*DropSpec)
		field string
	}{
		{"no case ref", func(s *DropSpec) { s.CaseRef = "  " }, "case_ref"},
		{"case ref with a newline", func(s *DropSpec) { s.CaseRef = "2026\n42" }, "case_ref"},
		{"case ref with quotes", func(s *DropSpec) { s.CaseRef = `"; DROP TABLE drops` }, "case_ref"},
		{"case ref too long", func(s *DropSpec) { s.CaseRef = strings.Repeat("a", MaxCaseRefLen+1) }, "case_ref"},
		{"case ref starting with a dash", func(s *DropSpec) { s.CaseRef = "-42" }, "case_ref"},
		{"unknown purpose", func(s *DropSpec) { s.Purpose = "curiosity" }, "purpose"},
		{"other without text", func(s *DropSpec) { s.Purpose = PurposeOther }, "purpose_text"},
		{"text without other", func(s *DropSpec) { s.PurposeText = "because" }, "purpose_text"},
		{"retention over the maximum", func(s *DropSpec) { s.RetentionDays = 91 }, "retention"},
		{"negative retention", func(s *DropSpec) { s.RetentionDays = -1 }, "retention"},
		{"retain until in the past", func(s *DropSpec) { s.RetainUntil = now.Add(-time.Hour) }, "retention"},
		{"retain until past the maximum", func(s *DropSpec) { s.RetainUntil = now.Add(91 * 24 * time.Hour) }, "retention"},
		{"both retention forms", func(s *DropSpec) { s.RetentionDays = 3; s.RetainUntil = now.Add(time.Hour) }, "retention"},
		{"no recipients", func(s *DropSpec) { s.Recipients = nil }, "recipients"},
		{"too many recipients", func(s *DropSpec) { s.Recipients = many }, "recipients"},
		{"empty recipient", func(s *DropSpec) { s.Recipients = []string{" "} }, "recipients[0]"},
		{"unknown municipality", func(s *DropSpec) { s.Recipients = []string{bob.UserKey, "999:x"} }, "recipients[1]"},
		{"no subject", func(s *DropSpec) { s.Recipients = []string{"851:"} }, "recipients[0]"},
		{"bare name", func(s *DropSpec) { s.Recipients = []string{"bob"} }, "recipients[0]"},
		{"address with display name", func(s *DropSpec) { s.Recipients = []string{"Bob <bob@aalborg.dk>"} }, "recipients[0]"},
		{"two addresses", func(s *DropSpec) { s.Recipients = []string{"a@b.dk, c@d.dk"} }, "recipients[0]"},
		{"subject with a space", func(s *DropSpec) { s.Recipients = []string{"851:a b"} }, "recipients[0]"},
		{"message too long", func(s *DropSpec) { s.Message = strings.Repeat("x", MaxMessageLen+1) }, "message"},
		{"message with a bidi override", func(s *DropSpec) { s.Message = "see \u202efdp.exe" }, "message"},
		{"message with a NUL", func(s *DropSpec) { s.Message = "a\x00b" }, "message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := spec()
			tc.edit(&s)
			_, err := e.d.CreateDrop(ctx, alice, s)
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) || ve.Field != tc.field {
				t.Fatalf("CreateDrop = %v, want a validation error on %s", err, tc.field)
			}
		})
	}
	if out, _ := e.d.Sent(ctx, alice); len(out) != 0 {
		t.Fatalf("refused specs created %d drops", len(out))
	}
	if _, err := e.d.CreateDrop(ctx, Actor{}, spec()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("CreateDrop without an actor = %v", err)
	}
}

func TestCreateDropNormalises(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	s := spec()
	s.CaseRef = "  27.12.08-A00-1-26 "
	s.Purpose, s.PurposeText = PurposeOther, "Aftale med borgerens advokat"
	s.Recipients = []string{"851:bob", "851:bob", "ANNA@Aalborg.dk", "anna@aalborg.dk", "9B0C3F4E-1A2B-4C3D-8E9F-001122334455:oid"}
	s.RetainUntil = now.Add(90 * 24 * time.Hour)
	s.Message = "Linje 1\r\nLinje 2\tmed tab"
	dr := e.mustCreate(s)
	if dr.CaseRef != "27.12.08-A00-1-26" || dr.PurposeText != "Aftale med borgerens advokat" || dr.Message != "Linje 1\nLinje 2\tmed tab" {
		t.Errorf("drop = %+v", dr)
	}
	if !dr.RetainUntil.Equal(s.RetainUntil) {
		t.Errorf("RetainUntil = %v, want %v (exactly the maximum is allowed)", dr.RetainUntil, s.RetainUntil)
	}
	var named []string
	for _, r := range dr.Recipients {
		named = append(named, r.Named)
	}
	if want := "851:bob,9b0c3f4e-1a2b-4c3d-8e9f-001122334455:oid,anna@aalborg.dk"; strings.Join(named, ",") != want {
		t.Errorf("recipients %v, want %s (deduplicated, normalised)", named, want)
	}
	s = spec()
	s.RetentionDays = 90
	if dr := e.mustCreate(s); !dr.RetainUntil.Equal(now.Add(90 * 24 * time.Hour)) {
		t.Errorf("90 days: RetainUntil = %v", dr.RetainUntil)
	}
}
