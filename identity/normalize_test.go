package identity_test

import (
	"strings"
	"testing"

	"github.com/multicontact/multicontact/identity"
)

// normalizeCase is one row of the normalizer tables: either want or code.
type normalizeCase struct {
	name   string
	region string
	raw    string
	want   string
	code   string
}

// checkNormalize runs fn over cases and checks values, codes and that an
// accepted value normalizes to itself.
func checkNormalize(t *testing.T, cases []normalizeCase, fn func(region, raw string) (string, error)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fn(tc.region, tc.raw)
			if gotCode := identity.ErrorCode(err); gotCode != tc.code {
				t.Fatalf("fn(%q, %q) error = %v (code %q), want code %q", tc.region, tc.raw, err, gotCode, tc.code)
			}
			if err != nil {
				if got != "" {
					t.Errorf("fn(%q, %q) = %q with an error, want \"\"", tc.region, tc.raw, got)
				}
				var e *identity.Error
				if !asError(err, &e) || e.Message == "" || e.Field != "" {
					t.Errorf("fn(%q, %q) error = %#v, want *identity.Error with a message and no field", tc.region, tc.raw, err)
				}
				return
			}
			if got != tc.want {
				t.Errorf("fn(%q, %q) = %q, want %q", tc.region, tc.raw, got, tc.want)
			}
			again, err := fn(tc.region, got)
			if err != nil || again != got {
				t.Errorf("fn(%q, %q) = %q, %v; want it unchanged", tc.region, got, again, err)
			}
		})
	}
}

func TestNormalizePhone(t *testing.T) {
	cases := []normalizeCase{
		{name: "RU national with 8", region: "RU", raw: "8 (916) 123-45-67", want: "+79161234567"},
		{name: "RU international", region: "RU", raw: "+7 916 123 45 67", want: "+79161234567"},
		{name: "RU without plus", region: "RU", raw: "79161234567", want: "+79161234567"},
		{name: "RU dashes", region: "RU", raw: "8-916-123-45-67", want: "+79161234567"},
		{name: "RU Moscow landline", region: "RU", raw: "+7 (495) 123-45-67", want: "+74951234567"},
		{name: "RU ten digits", region: "RU", raw: "9161234567", want: "+79161234567"},
		{name: "RU fullwidth digits", region: "RU", raw: "８ ９１６ １２３ ４５ ６７", want: "+79161234567"},
		{name: "RU surrounding white space", region: "RU", raw: " \t+7 916 1234567\n", want: "+79161234567"},
		{name: "RU project, BY number", region: "RU", raw: "+375 29 123-45-67", want: "+375291234567"},
		{name: "US national", region: "US", raw: "(202) 555-0143", want: "+12025550143"},
		{name: "US international", region: "US", raw: "+1 650-253-0000", want: "+16502530000"},
		{name: "US without plus", region: "US", raw: "16502530000", want: "+16502530000"},
		{name: "GB international", region: "GB", raw: "+44 20 7946 0958", want: "+442079460958"},
		{name: "GB national", region: "GB", raw: "020 7946 0958", want: "+442079460958"},
		{name: "GB mobile", region: "GB", raw: "07400 123456", want: "+447400123456"},
		{name: "DE international", region: "DE", raw: "+49 30 1234567", want: "+49301234567"},
		{name: "DE national mobile", region: "DE", raw: "01512 3456789", want: "+4915123456789"},
		{name: "KZ international", region: "KZ", raw: "+7 701 123 4567", want: "+77011234567"},
		{name: "KZ national", region: "KZ", raw: "8 701 123 45 67", want: "+77011234567"},
		{name: "KZ without plus", region: "KZ", raw: "77011234567", want: "+77011234567"},
		{name: "BY international", region: "BY", raw: "+375 29 123-45-67", want: "+375291234567"},
		{name: "BY national", region: "BY", raw: "8 029 123 45 67", want: "+375291234567"},
		{name: "BY without plus", region: "BY", raw: "375291234567", want: "+375291234567"},
		{name: "no region, international", region: "", raw: "+7 916 123 45 67", want: "+79161234567"},
		{name: "no region, national", region: "", raw: "8 916 123 45 67", code: identity.CodeInvalidPhone},
		{name: "short", region: "RU", raw: "12345", code: identity.CodeInvalidPhone},
		{name: "letters", region: "RU", raw: "abc", code: identity.CodeInvalidPhone},
		{name: "vanity letters", region: "US", raw: "1-800-FLOWERS", code: identity.CodeInvalidPhone},
		{name: "too short international", region: "RU", raw: "+7 000", code: identity.CodeInvalidPhone},
		{name: "extension dropped", region: "RU", raw: "+7 916 123 45 67 ext. 12", want: "+79161234567"},
		{name: "tel URI", region: "RU", raw: "tel:+79161234567", want: "+79161234567"},
		{name: "in a sentence", region: "RU", raw: "мой номер 8 916 123-45-67", want: "+79161234567"},
		{name: "two numbers", region: "RU", raw: "8 916 123-45-67, 8 926 765-43-21", code: identity.CodeAmbiguousPhone},
		{name: "digits only, too many", region: "RU", raw: strings.Repeat("1", 65), code: identity.CodeInvalidPhone},
		{name: "empty", region: "RU", raw: "", code: identity.CodeEmpty},
		{name: "blank", region: "RU", raw: " \t ", code: identity.CodeEmpty},
		{name: "too long", region: "RU", raw: strings.Repeat("1", 161), code: identity.CodeTooLong},
		{name: "huge", region: "RU", raw: strings.Repeat("1", 5000), code: identity.CodeTooLong},
		{name: "NUL inside", region: "RU", raw: "+7 916\x00123 45 67", code: identity.CodeInvalidValue},
		{name: "invalid UTF-8", region: "RU", raw: "+7 916 \xff", code: identity.CodeInvalidValue},
		{name: "unknown region", region: "XX", raw: "8 916 123 45 67", code: identity.CodeInvalidRegion},
	}
	checkNormalize(t, cases, identity.NormalizePhone)
}

func TestNormalizePhoneMessage(t *testing.T) {
	_, err := identity.NormalizePhone("RU", "12345")
	got := err.Error()
	if !strings.Contains(got, "country code") || !strings.Contains(got, "+7 ") {
		t.Errorf("NormalizePhone(RU, 12345) error = %q, want a hint with the country code and a RU example", got)
	}
}

func TestNormalizeEmail(t *testing.T) {
	long := strings.Repeat("a", 64)
	domain := func(last int) string {
		return strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", last) + ".com"
	}
	cases := []normalizeCase{
		{name: "case and spaces", raw: "User@Example.COM ", want: "user@example.com"},
		{name: "control white space at the ends", raw: "\tuser@example.com\r\n", want: "user@example.com"},
		{name: "plus and dots", raw: "First.Last+tag@Mail.Example.org", want: "first.last+tag@mail.example.org"},
		{name: "IDN domain", raw: "user@пример.рф", want: "user@xn--e1afmkfd.xn--p1ai"},
		{name: "IDN domain upper-case", raw: "user@ПРИМЕР.РФ", want: "user@xn--e1afmkfd.xn--p1ai"},
		{name: "non-ASCII local part", raw: "Иван@Пример.РФ", want: "иван@xn--e1afmkfd.xn--p1ai"},
		{name: "punycode upper-case", raw: "user@XN--E1AFMKFD.XN--P1AI", want: "user@xn--e1afmkfd.xn--p1ai"},
		{name: "fullwidth domain", raw: "user@ＥＸＡＭＰＬＥ．ＣＯＭ", want: "user@example.com"},
		{name: "zero-width space pasted in the local part", raw: "anna\u200b@example.ru", want: "anna@example.ru"},
		{name: "byte-order mark pasted before it", raw: "\ufeffanna@example.ru", want: "anna@example.ru"},
		{name: "local part in NFD", raw: "e\u0301lise@example.fr", want: "\u00e9lise@example.fr"},
		{name: "longest local part", raw: long + "@example.com", want: long + "@example.com"},
		{name: "longest address", raw: long + "@" + domain(57), want: long + "@" + domain(57)},
		{name: "display name", raw: "John <j@example.com>", code: identity.CodeInvalidEmail},
		{name: "angle brackets", raw: "<j@example.com>", code: identity.CodeInvalidEmail},
		{name: "quoted display name", raw: `"John" <j@example.com>`, code: identity.CodeInvalidEmail},
		{name: "comment", raw: "j@example.com (John)", code: identity.CodeInvalidEmail},
		{name: "quoted local part", raw: `"j"@example.com`, code: identity.CodeInvalidEmail},
		{name: "no at", raw: "user.example.com", code: identity.CodeInvalidEmail},
		{name: "two at", raw: "a@b@example.com", code: identity.CodeInvalidEmail},
		{name: "two addresses", raw: "a@example.com, b@example.com", code: identity.CodeInvalidEmail},
		{name: "no dot in domain", raw: "a@localhost", code: identity.CodeInvalidEmail},
		{name: "empty label", raw: "a@example..com", code: identity.CodeInvalidEmail},
		{name: "trailing dot", raw: "a@example.com.", code: identity.CodeInvalidEmail},
		{name: "hyphen label", raw: "a@-example.com", code: identity.CodeInvalidEmail},
		{name: "underscore domain", raw: "a@ex_ample.com", code: identity.CodeInvalidEmail},
		{name: "domain whose punycode does not read back", raw: "a@aℵ.com", code: identity.CodeInvalidEmail},
		{name: "address literal", raw: "a@[127.0.0.1]", code: identity.CodeInvalidEmail},
		{name: "space inside", raw: "a b@example.com", code: identity.CodeInvalidEmail},
		{name: "empty local part", raw: "@example.com", code: identity.CodeInvalidEmail},
		{name: "local part too long", raw: long + "a@example.com", code: identity.CodeTooLong},
		{name: "address too long", raw: long + "@" + domain(58), code: identity.CodeTooLong},
		{name: "empty", raw: "  ", code: identity.CodeEmpty},
		{name: "NUL", raw: "a\x00@example.com", code: identity.CodeInvalidValue},
		{name: "huge", raw: strings.Repeat("a", 2000) + "@example.com", code: identity.CodeTooLong},
	}
	checkNormalize(t, cases, func(_, raw string) (string, error) { return identity.NormalizeEmail(raw) })
}

func TestNormalizeText(t *testing.T) {
	cases := []normalizeCase{
		{name: "fullwidth", raw: "ＡＢＣ", want: "abc"},
		{name: "sharp s", raw: "Straße", want: "strasse"},
		{name: "ligature", raw: "ﬁle", want: "file"},
		{name: "roman numeral", raw: "Ⅻ", want: "xii"},
		{name: "final sigma", raw: "ΟΔΟΣ", want: "οδοσ"},
		{name: "white space", raw: "  John \t\n  Smith  ", want: "john smith"},
		{name: "no-break and ideographic spaces", raw: "a\u00a0\u3000b", want: "a b"},
		{name: "Cyrillic", raw: "Иван Петров", want: "иван петров"},
		{name: "zero-width space", raw: "live:anna\u200b", want: "live:anna"},
		{name: "soft hyphen", raw: "live:an\u00adna", want: "live:anna"},
		{name: "byte-order mark and word joiner", raw: "\ufefflive:\u2060anna", want: "live:anna"},
		{name: "longest", raw: strings.Repeat("A", identity.MaxValueLen), want: strings.Repeat("a", identity.MaxValueLen)},
		{name: "too long", raw: strings.Repeat("a", identity.MaxValueLen+1), code: identity.CodeTooLong},
		{name: "too long after NFKC", raw: strings.Repeat("ﬀ", 200), code: identity.CodeTooLong},
		{name: "huge", raw: strings.Repeat("a", 4*identity.MaxValueLen+1), code: identity.CodeTooLong},
		{name: "empty", raw: "\n", code: identity.CodeEmpty},
		{name: "NUL", raw: "a\x00b", code: identity.CodeInvalidValue},
		{name: "unit separator", raw: "a\x1fb", code: identity.CodeInvalidValue},
		{name: "C1 control", raw: "a\u0080b", code: identity.CodeInvalidValue},
		{name: "invalid UTF-8", raw: "a\xc3", code: identity.CodeInvalidValue},
	}
	checkNormalize(t, cases, func(_, raw string) (string, error) { return identity.NormalizeText(raw) })
}

func TestNormalizeID(t *testing.T) {
	cases := []normalizeCase{
		{name: "exact", raw: "AbC-1", want: "AbC-1"},
		{name: "trimmed", raw: "  AbC-1\n", want: "AbC-1"},
		{name: "inner spaces kept", raw: "a  b", want: "a  b"},
		{name: "no NFKC", raw: "ＡＢＣ", want: "ＡＢＣ"},
		{name: "longest", raw: strings.Repeat("x", identity.MaxValueLen), want: strings.Repeat("x", identity.MaxValueLen)},
		{name: "too long", raw: strings.Repeat("x", identity.MaxValueLen+1), code: identity.CodeTooLong},
		{name: "tab inside", raw: "a\tb", code: identity.CodeInvalidValue},
		{name: "empty", raw: "", code: identity.CodeEmpty},
	}
	checkNormalize(t, cases, func(_, raw string) (string, error) { return identity.NormalizeID(raw) })
}

func TestNormalize(t *testing.T) {
	cases := []struct {
		typ  identity.FieldType
		raw  string
		want string
		code string
	}{
		{typ: identity.TypePhone, raw: "8 916 123 45 67", want: "+79161234567"},
		{typ: identity.TypeEmail, raw: "A@B.CD", want: "a@b.cd"},
		{typ: identity.TypeText, raw: "A  B", want: "a b"},
		{typ: identity.TypeID, raw: "A  B", want: "A  B"},
		{typ: "DATE", raw: "x", code: identity.CodeInvalidFieldType},
	}
	for _, tc := range cases {
		got, err := identity.Normalize(tc.typ, "RU", tc.raw)
		if got != tc.want || identity.ErrorCode(err) != tc.code {
			t.Errorf("Normalize(%s, RU, %q) = %q, %v; want %q, code %q", tc.typ, tc.raw, got, err, tc.want, tc.code)
		}
	}
}
