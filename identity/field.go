package identity

import (
	"errors"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// FieldType says how the values of a field are normalized and compared.
type FieldType string

// The field types; see the Normalize functions for what each does.
const (
	// TypePhone is a phone number, stored in E.164.
	TypePhone FieldType = "PHONE"
	// TypeEmail is an e-mail address, lower-cased with an ASCII domain.
	TypeEmail FieldType = "EMAIL"
	// TypeText is free text, NFKC, case-folded, white space collapsed.
	TypeText FieldType = "TEXT"
	// TypeID is an identifier of another system, compared exactly.
	TypeID FieldType = "ID"
)

// ParseFieldType turns the name of a field type, as an API caller writes
// it, into a FieldType, refusing unknown names with CodeInvalidFieldType.
func ParseFieldType(s string) (FieldType, error) {
	switch t := FieldType(s); t {
	case TypePhone, TypeEmail, TypeText, TypeID:
		return t, nil
	}
	return "", Errorf("type", CodeInvalidFieldType, "unknown field type %q; use PHONE, EMAIL, TEXT or ID", s)
}

// Field is a kind of identifier a client can hold: built in (phone, email,
// ...) or defined by the project.
type Field struct {
	Key     string
	Label   string
	Type    FieldType
	BuiltIn bool
}

// Limits of custom fields and rules.
const (
	maxFieldKeyLen = 64
	maxLabelRunes  = 100
)

// BuiltinFields returns the fields every project has: phone (PHONE), email
// (EMAIL), skype (TEXT), contract (TEXT) and externalId (ID), in this order.
// It returns a fresh slice on each call, so callers may change it.
func BuiltinFields() []Field {
	return []Field{
		{Key: "phone", Label: "Phone", Type: TypePhone, BuiltIn: true},
		{Key: "email", Label: "Email", Type: TypeEmail, BuiltIn: true},
		{Key: "skype", Label: "Skype", Type: TypeText, BuiltIn: true},
		{Key: "contract", Label: "Contract number", Type: TypeText, BuiltIn: true},
		{Key: "externalId", Label: "External ID", Type: TypeID, BuiltIn: true},
	}
}

// isBuiltinKey reports whether key names a built-in field.
func isBuiltinKey(key string) bool {
	switch key {
	case "phone", "email", "skype", "contract", "externalId":
		return true
	}
	return false
}

// validFieldKey reports whether key matches ^[a-z][a-zA-Z0-9_]{0,63}$.
func validFieldKey(key string) bool {
	if key == "" || len(key) > maxFieldKeyLen || key[0] < 'a' || key[0] > 'z' {
		return false
	}
	for i := 1; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// NewField validates a custom field a project defines: the key matches
// ^[a-z][a-zA-Z0-9_]{0,63}$ and is not a built-in key, the label is at most
// 100 characters (trimmed; empty means the key), the type is known.
func NewField(key, label string, t FieldType) (Field, error) {
	if !validFieldKey(key) {
		return Field{}, Errorf("key", CodeInvalidFieldKey, "a field key starts with a lower-case letter and holds at most %d letters, digits or underscores", maxFieldKeyLen)
	}
	if isBuiltinKey(key) {
		return Field{}, Errorf("key", CodeFieldExists, "%q is a built-in field", key)
	}
	label = strings.TrimSpace(label)
	if label == "" {
		label = key
	}
	if !utf8.ValidString(label) || strings.IndexFunc(label, unicode.IsControl) >= 0 {
		return Field{}, Errorf("label", CodeInvalidValue, "the label contains control characters")
	}
	if utf8.RuneCountInString(label) > maxLabelRunes {
		return Field{}, Errorf("label", CodeTooLong, "the label is too long (at most %d characters)", maxLabelRunes)
	}
	if _, err := ParseFieldType(string(t)); err != nil {
		return Field{}, err
	}
	return Field{Key: key, Label: label, Type: t}, nil
}

// Source says where a value came from, so rules can weigh trust and
// operators can see who claimed what.
type Source string

// The sources of values.
const (
	// SourceBot is a chat bot asking the person.
	SourceBot Source = "BOT"
	// SourceWidget is the website widget's JavaScript API.
	SourceWidget Source = "WIDGET"
	// SourceOperator is an operator typing it in the console.
	SourceOperator Source = "OPERATOR"
	// SourceIntegration is a CRM or other system calling the API.
	SourceIntegration Source = "INTEGRATION"
	// SourceImport is a bulk import.
	SourceImport Source = "IMPORT"
)

// ParseSource turns the name of a source, as an API caller writes it, into
// a Source; it accepts exactly the upper-case names.
func ParseSource(s string) (Source, error) {
	switch src := Source(s); src {
	case SourceBot, SourceWidget, SourceOperator, SourceIntegration, SourceImport:
		return src, nil
	}
	return "", Errorf("source", CodeInvalidSource, "unknown source %q; use BOT, WIDGET, OPERATOR, INTEGRATION or IMPORT", s)
}

// ValidRegion checks that region is an upper-case ISO 3166 alpha-2 code
// that phonenumbers knows, since phones are read against it.
func ValidRegion(region string) error {
	if len(region) != 2 || !phonenumbers.GetSupportedRegions()[region] {
		return Errorf("region", CodeInvalidRegion, "unknown region %q; use a two-letter country code such as RU", region)
	}
	return nil
}

// NormalizeRegion trims and upper-cases s and checks it with ValidRegion,
// so callers may accept "ru" or " RU ".
func NormalizeRegion(s string) (string, error) {
	r := strings.ToUpper(strings.TrimSpace(s))
	if err := ValidRegion(r); err != nil {
		return "", err
	}
	return r, nil
}

// Catalog is a project's view of its fields and default region, used to
// normalize values. It is immutable once built and safe for concurrent use.
type Catalog struct {
	Region string
	fields map[string]Field
	order  []Field
}

// NewCatalog builds the catalog of a project from its default region
// ("ru" is read as "RU") and custom fields, each validated as NewField
// does; built-ins are always present. Entries of custom marked BuiltIn with
// a built-in key are skipped, so a caller may pass the full list of Fields.
func NewCatalog(region string, custom []Field) (*Catalog, error) {
	r, err := NormalizeRegion(region)
	if err != nil {
		return nil, err
	}
	c := &Catalog{Region: r, fields: make(map[string]Field)}
	for _, f := range BuiltinFields() {
		c.fields[f.Key] = f
		c.order = append(c.order, f)
	}
	var extra []Field
	for _, f := range custom {
		if f.BuiltIn && isBuiltinKey(f.Key) {
			continue
		}
		nf, err := NewField(f.Key, f.Label, f.Type)
		if err != nil {
			return nil, err
		}
		if _, ok := c.fields[nf.Key]; ok {
			return nil, Errorf("key", CodeFieldExists, "field %q is defined twice", nf.Key)
		}
		c.fields[nf.Key] = nf
		extra = append(extra, nf)
	}
	slices.SortFunc(extra, func(a, b Field) int { return strings.Compare(a.Key, b.Key) })
	c.order = append(c.order, extra...)
	return c, nil
}

// Field returns the field with the given key, if the project has it.
func (c *Catalog) Field(key string) (Field, bool) {
	f, ok := c.fields[key]
	return f, ok
}

// Fields returns the project's fields: built-ins first in the order of
// BuiltinFields, then custom ones sorted by key. The slice is a copy.
func (c *Catalog) Fields() []Field {
	return slices.Clone(c.order)
}

// Normalize normalizes raw as a value of the field with the given key,
// with the project's region for phones. An unknown key is refused with
// CodeUnknownField; every *Error returned carries Field = key.
func (c *Catalog) Normalize(field, raw string) (string, error) {
	f, ok := c.fields[field]
	if !ok {
		return "", Errorf(field, CodeUnknownField, "unknown field %q", field)
	}
	v, err := Normalize(f.Type, c.Region, raw)
	return v, withField(err, field)
}

// NormalizeWithExtension is Normalize that also returns the extension of
// a PHONE value ("12" of "+7 495 123-45-67 доб. 12"), which Normalize
// drops: the value (E.164) is what is stored and matched, the extension is
// for a store to keep beside it. For the other types extension is "".
func (c *Catalog) NormalizeWithExtension(field, raw string) (value, extension string, err error) {
	f, ok := c.fields[field]
	if !ok || f.Type != TypePhone {
		v, err := c.Normalize(field, raw)
		return v, "", err
	}
	p, err := ParsePhone(c.Region, raw)
	return p.Number, p.Extension, withField(err, field)
}

// withField sets the Field of the *Error in err's chain, if any, to field.
func withField(err error, field string) error {
	var e *Error
	if errors.As(err, &e) {
		e.Field = field
	}
	return err
}
