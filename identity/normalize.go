package identity

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// MaxValueLen bounds a normalized TEXT or ID value in bytes, so match keys
// and graph properties stay small. Raw input longer than 4*MaxValueLen bytes
// is refused before any work is done on it.
const MaxValueLen = 256

// Limits of the other types, from RFC 5321 and common practice for phones.
const (
	maxRawLen        = 4 * MaxValueLen
	maxEmailLocalLen = 64
	maxEmailLen      = 254
	maxDomainLen     = 253
	maxLabelLen      = 63
	maxTextPasses    = 4
)

// Normalize normalizes raw as a value of type t, so that two spellings of
// one identifier compare equal; region is the default region for phones
// (e.g. "RU"). A returned *Error has an empty Field: Catalog fills it.
func Normalize(t FieldType, region, raw string) (string, error) {
	switch t {
	case TypePhone:
		return NormalizePhone(region, raw)
	case TypeEmail:
		return NormalizeEmail(raw)
	case TypeText:
		return NormalizeText(raw)
	case TypeID:
		return NormalizeID(raw)
	}
	return "", Errorf("", CodeInvalidFieldType, "unknown field type %q", string(t))
}

// precheck does what every type shares: it refuses huge, invalid UTF-8 and
// empty input and returns raw trimmed of surrounding white space. Control
// characters inside the value are refused unless allowSpaceControls is set,
// in which case the white-space ones (tab, new line...) pass, for TEXT to
// collapse them.
func precheck(raw string, allowSpaceControls bool) (string, error) {
	if len(raw) > maxRawLen {
		return "", Errorf("", CodeTooLong, "the value is too long")
	}
	if !utf8.ValidString(raw) {
		return "", Errorf("", CodeInvalidValue, "the value is not valid text")
	}
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", Errorf("", CodeEmpty, "the value is empty")
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(allowSpaceControls && unicode.IsSpace(r)) {
			return "", Errorf("", CodeInvalidValue, "the value contains control characters")
		}
	}
	return s, nil
}

// withoutFormatChars drops the invisible format characters (Unicode Cf:
// zero-width spaces and joiners, a byte-order mark, a soft hyphen) that
// copying and pasting leaves in a value: "anna\u200b@example.ru" is
// anna@example.ru to the person who typed it.
func withoutFormatChars(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
}

// stable runs core on raw and checks that its result is a fixed point of
// core, refusing raw with unstable otherwise: a stored value must normalize
// to itself, or the same identifier would be stored under two spellings.
func stable(raw string, core func(string) (string, error), unstable func() *Error) (string, error) {
	out, err := core(raw)
	if err != nil {
		return "", err
	}
	if out != raw {
		if again, err := core(out); err != nil || again != out {
			return "", unstable()
		}
	}
	return out, nil
}

// NormalizeEmail checks that raw is one bare e-mail address and returns it
// lower-cased with its domain in ASCII (IDNA), so that case and Unicode
// spellings of one mailbox compare equal.
func NormalizeEmail(raw string) (string, error) {
	return stable(raw, normalizeEmail, invalidEmail)
}

// invalidEmail builds the refusal of an e-mail address.
func invalidEmail() *Error {
	return Errorf("", CodeInvalidEmail, "this does not look like an e-mail address; please send just the address, e.g. name@example.com")
}

// normalizeEmail is one pass of NormalizeEmail.
func normalizeEmail(raw string) (string, error) {
	s, err := precheck(raw, false)
	if err != nil {
		return "", err
	}
	s = norm.NFC.String(withoutFormatChars(s))
	bad := invalidEmail()
	if strings.Count(s, "@") != 1 {
		return "", bad
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", bad
	}
	at := strings.IndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil || len(ascii) > maxDomainLen {
		return "", bad
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return "", bad
	}
	for _, l := range labels {
		if l == "" || len(l) > maxLabelLen {
			return "", bad
		}
	}
	local = strings.ToLower(local)
	if len(local) > maxEmailLocalLen {
		return "", Errorf("", CodeTooLong, "the part of the e-mail address before @ is too long")
	}
	out := local + "@" + strings.ToLower(ascii)
	if len(out) > maxEmailLen {
		return "", Errorf("", CodeTooLong, "the e-mail address is too long")
	}
	return out, nil
}

// NormalizeText returns raw in Unicode NFKC, case-folded, trimmed and with
// inner white space collapsed to single spaces, so free-text identifiers
// (a Skype name, a contract number) match however they were typed.
func NormalizeText(raw string) (string, error) {
	s, err := precheck(raw, true)
	if err != nil {
		return "", err
	}
	s = withoutFormatChars(s)
	fold := cases.Fold()
	// NFKC and case folding each can undo the other's fixed point on rare
	// characters; a few passes reach one that both keep, else s is refused.
	for i := 0; ; i++ {
		next := strings.Join(strings.Fields(norm.NFKC.String(fold.String(norm.NFKC.String(s)))), " ")
		if next == s {
			break
		}
		if i == maxTextPasses {
			return "", Errorf("", CodeInvalidValue, "the value cannot be stored in a stable form")
		}
		s = next
	}
	if s == "" {
		return "", Errorf("", CodeEmpty, "the value is empty")
	}
	if len(s) > MaxValueLen {
		return "", Errorf("", CodeTooLong, "the value is too long (at most %d bytes)", MaxValueLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", Errorf("", CodeInvalidValue, "the value contains control characters")
		}
	}
	return s, nil
}

// NormalizeID returns raw trimmed and otherwise unchanged: an external id
// belongs to another system, which alone knows what its case and spelling
// mean.
func NormalizeID(raw string) (string, error) {
	s, err := precheck(raw, false)
	if err != nil {
		return "", err
	}
	if len(s) > MaxValueLen {
		return "", Errorf("", CodeTooLong, "the value is too long (at most %d bytes)", MaxValueLen)
	}
	return s, nil
}
