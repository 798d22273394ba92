package identity_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/multicontact/multicontact/identity"
)

func TestParseFieldType(t *testing.T) {
	cases := []struct {
		in   string
		want identity.FieldType
		code string
	}{
		{in: "PHONE", want: identity.TypePhone},
		{in: "EMAIL", want: identity.TypeEmail},
		{in: "TEXT", want: identity.TypeText},
		{in: "ID", want: identity.TypeID},
		{in: "phone", code: identity.CodeInvalidFieldType},
		{in: "", code: identity.CodeInvalidFieldType},
	}
	for _, tc := range cases {
		got, err := identity.ParseFieldType(tc.in)
		if got != tc.want || identity.ErrorCode(err) != tc.code {
			t.Errorf("ParseFieldType(%q) = %q, %v; want %q, code %q", tc.in, got, err, tc.want, tc.code)
		}
	}
}

func TestParseSource(t *testing.T) {
	cases := []struct {
		in   string
		want identity.Source
		code string
	}{
		{in: "BOT", want: identity.SourceBot},
		{in: "WIDGET", want: identity.SourceWidget},
		{in: "OPERATOR", want: identity.SourceOperator},
		{in: "INTEGRATION", want: identity.SourceIntegration},
		{in: "IMPORT", want: identity.SourceImport},
		{in: "bot", code: identity.CodeInvalidSource},
		{in: "", code: identity.CodeInvalidSource},
	}
	for _, tc := range cases {
		got, err := identity.ParseSource(tc.in)
		if got != tc.want || identity.ErrorCode(err) != tc.code {
			t.Errorf("ParseSource(%q) = %q, %v; want %q, code %q", tc.in, got, err, tc.want, tc.code)
		}
	}
}

func TestBuiltinFields(t *testing.T) {
	var got []string
	for _, f := range identity.BuiltinFields() {
		if !f.BuiltIn || f.Label == "" {
			t.Errorf("built-in field %+v: want BuiltIn and a label", f)
		}
		got = append(got, f.Key+":"+string(f.Type))
	}
	want := []string{"phone:PHONE", "email:EMAIL", "skype:TEXT", "contract:TEXT", "externalId:ID"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BuiltinFields() = %v, want %v", got, want)
	}
}

func TestNewField(t *testing.T) {
	cases := []struct {
		key, label string
		typ        identity.FieldType
		want       identity.Field
		code       string
		field      string
	}{
		{key: "inn", label: " Tax number ", typ: identity.TypeID, want: identity.Field{Key: "inn", Label: "Tax number", Type: identity.TypeID}},
		{key: "loyaltyCard_2", label: "", typ: identity.TypeText, want: identity.Field{Key: "loyaltyCard_2", Label: "loyaltyCard_2", Type: identity.TypeText}},
		{key: "x" + strings.Repeat("y", 63), label: "L", typ: identity.TypeText, want: identity.Field{Key: "x" + strings.Repeat("y", 63), Label: "L", Type: identity.TypeText}},
		{key: "x" + strings.Repeat("y", 64), label: "L", typ: identity.TypeText, code: identity.CodeInvalidFieldKey, field: "key"},
		{key: "Inn", label: "L", typ: identity.TypeID, code: identity.CodeInvalidFieldKey, field: "key"},
		{key: "1inn", label: "L", typ: identity.TypeID, code: identity.CodeInvalidFieldKey, field: "key"},
		{key: "in-n", label: "L", typ: identity.TypeID, code: identity.CodeInvalidFieldKey, field: "key"},
		{key: "", label: "L", typ: identity.TypeID, code: identity.CodeInvalidFieldKey, field: "key"},
		{key: "phone", label: "L", typ: identity.TypePhone, code: identity.CodeFieldExists, field: "key"},
		{key: "externalId", label: "L", typ: identity.TypeID, code: identity.CodeFieldExists, field: "key"},
		{key: "inn", label: strings.Repeat("я", 101), typ: identity.TypeID, code: identity.CodeTooLong, field: "label"},
		{key: "inn", label: "a\x00b", typ: identity.TypeID, code: identity.CodeInvalidValue, field: "label"},
		{key: "inn", label: "L", typ: "NUMBER", code: identity.CodeInvalidFieldType, field: "type"},
	}
	for _, tc := range cases {
		got, err := identity.NewField(tc.key, tc.label, tc.typ)
		if got != tc.want || identity.ErrorCode(err) != tc.code {
			t.Errorf("NewField(%q, %q, %q) = %+v, %v; want %+v, code %q", tc.key, tc.label, tc.typ, got, err, tc.want, tc.code)
			continue
		}
		var e *identity.Error
		if err != nil && (!asError(err, &e) || e.Field != tc.field) {
			t.Errorf("NewField(%q, %q, %q) error field = %q, want %q", tc.key, tc.label, tc.typ, e.Field, tc.field)
		}
	}
}

func TestRegion(t *testing.T) {
	cases := []struct {
		in   string
		want string
		code string
	}{
		{in: "RU", want: "RU"},
		{in: " ru ", want: "RU"},
		{in: "by", want: "BY"},
		{in: "XX", code: identity.CodeInvalidRegion},
		{in: "001", code: identity.CodeInvalidRegion},
		{in: "RUS", code: identity.CodeInvalidRegion},
		{in: "", code: identity.CodeInvalidRegion},
	}
	for _, tc := range cases {
		got, err := identity.NormalizeRegion(tc.in)
		if got != tc.want || identity.ErrorCode(err) != tc.code {
			t.Errorf("NormalizeRegion(%q) = %q, %v; want %q, code %q", tc.in, got, err, tc.want, tc.code)
		}
	}
	if err := identity.ValidRegion("ru"); identity.ErrorCode(err) != identity.CodeInvalidRegion {
		t.Errorf("ValidRegion(ru) = %v, want code %s", err, identity.CodeInvalidRegion)
	}
}

func TestNewCatalog(t *testing.T) {
	custom := []identity.Field{
		{Key: "vk", Label: "VK", Type: identity.TypeText},
		{Key: "inn", Label: "INN", Type: identity.TypeID},
	}
	c, err := identity.NewCatalog("ru", append(identity.BuiltinFields(), custom...))
	if err != nil {
		t.Fatalf("NewCatalog: %v", err)
	}
	if c.Region != "RU" {
		t.Errorf("Region = %q, want RU", c.Region)
	}
	var got []string
	for _, f := range c.Fields() {
		got = append(got, f.Key)
	}
	want := []string{"phone", "email", "skype", "contract", "externalId", "inn", "vk"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Fields() = %v, want %v", got, want)
	}
	if f, ok := c.Field("inn"); !ok || f.Type != identity.TypeID || f.BuiltIn {
		t.Errorf("Field(inn) = %+v, %v; want a custom ID field", f, ok)
	}
	if _, ok := c.Field("fax"); ok {
		t.Error("Field(fax) found, want missing")
	}

	errCases := []struct {
		region string
		custom []identity.Field
		code   string
	}{
		{region: "XX", code: identity.CodeInvalidRegion},
		{region: "RU", custom: []identity.Field{{Key: "phone", Type: identity.TypeText}}, code: identity.CodeFieldExists},
		{region: "RU", custom: []identity.Field{{Key: "vk", Type: identity.TypeText}, {Key: "vk", Type: identity.TypeID}}, code: identity.CodeFieldExists},
		{region: "RU", custom: []identity.Field{{Key: "Vk", Type: identity.TypeText}}, code: identity.CodeInvalidFieldKey},
	}
	for _, tc := range errCases {
		if _, err := identity.NewCatalog(tc.region, tc.custom); identity.ErrorCode(err) != tc.code {
			t.Errorf("NewCatalog(%q, %+v) = %v, want code %q", tc.region, tc.custom, err, tc.code)
		}
	}
}

func TestCatalogNormalize(t *testing.T) {
	c, err := identity.NewCatalog("RU", []identity.Field{{Key: "inn", Label: "INN", Type: identity.TypeID}})
	if err != nil {
		t.Fatalf("NewCatalog: %v", err)
	}
	cases := []struct {
		field, raw string
		want       string
		code       string
	}{
		{field: "phone", raw: "8 (916) 123-45-67", want: "+79161234567"},
		{field: "email", raw: "User@Example.COM", want: "user@example.com"},
		{field: "skype", raw: "Live:John.Smith", want: "live:john.smith"},
		{field: "inn", raw: " 7701ABC ", want: "7701ABC"},
		{field: "phone", raw: "12345", code: identity.CodeInvalidPhone},
		{field: "email", raw: "", code: identity.CodeEmpty},
		{field: "fax", raw: "1", code: identity.CodeUnknownField},
	}
	for _, tc := range cases {
		got, err := c.Normalize(tc.field, tc.raw)
		if got != tc.want || identity.ErrorCode(err) != tc.code {
			t.Errorf("Normalize(%q, %q) = %q, %v; want %q, code %q", tc.field, tc.raw, got, err, tc.want, tc.code)
			continue
		}
		var e *identity.Error
		if err != nil && (!asError(err, &e) || e.Field != tc.field) {
			t.Errorf("Normalize(%q, %q) error field = %q, want %q", tc.field, tc.raw, e.Field, tc.field)
		}
	}
}

func TestCatalogNormalizeWithExtension(t *testing.T) {
	c, err := identity.NewCatalog("RU", []identity.Field{{Key: "workPhone", Label: "Work phone", Type: identity.TypePhone}})
	if err != nil {
		t.Fatalf("NewCatalog: %v", err)
	}
	cases := []struct {
		field, raw string
		want, ext  string
		code       string
	}{
		{field: "phone", raw: "+7 (495) 123-45-67 доб. 12", want: "+74951234567", ext: "12"},
		{field: "workPhone", raw: "рабочий 8 495 123 45 67, ext 305", want: "+74951234567", ext: "305"},
		{field: "phone", raw: "8 916 123-45-67", want: "+79161234567"},
		{field: "email", raw: "User@Example.COM", want: "user@example.com"},
		{field: "phone", raw: "8 916 123-45-67 или 8 926 765-43-21", code: identity.CodeAmbiguousPhone},
		{field: "fax", raw: "1", code: identity.CodeUnknownField},
	}
	for _, tc := range cases {
		got, ext, err := c.NormalizeWithExtension(tc.field, tc.raw)
		if got != tc.want || ext != tc.ext || identity.ErrorCode(err) != tc.code {
			t.Errorf("NormalizeWithExtension(%q, %q) = %q, %q, %v; want %q, %q, code %q", tc.field, tc.raw, got, ext, err, tc.want, tc.ext, tc.code)
			continue
		}
		var e *identity.Error
		if err != nil && (!asError(err, &e) || e.Field != tc.field) {
			t.Errorf("NormalizeWithExtension(%q, %q) error = %v, want field %q", tc.field, tc.raw, err, tc.field)
		}
		if plain, err := c.Normalize(tc.field, tc.raw); plain != got || identity.ErrorCode(err) != tc.code {
			t.Errorf("Normalize(%q, %q) = %q, %v; want the value of NormalizeWithExtension", tc.field, tc.raw, plain, err)
		}
	}
}
