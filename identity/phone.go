package identity

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// maxPhoneAnswerRunes bounds what is searched for a phone number: a short
// answer to "your phone?", not a letter.
const maxPhoneAnswerRunes = 160

// Phone is the one phone number found in what a person wrote.
type Phone struct {
	// Number is the number in E.164 (+79161234567): the value that is
	// stored and matched, so every spelling of one line compares equal.
	Number string
	// Extension is the extension dialled after the call connects, ASCII
	// digits ("12" of "доб. 12", "ext. 12", "x12"), or "" when there is
	// none. It is not part of Number and so not part of matching.
	Extension string
}

// ParsePhone finds the one phone number in raw, a short answer as a person
// writes it ("мой номер 8 916 123-45-67", "phone: +7 916 123 45 67",
// "+7 (916) 123-45-67 доб. 12"), reading national numbers with the default
// region (e.g. "RU"; "" when the project has none: then only international
// numbers are found). Numbers are found as libphonenumber's
// PhoneNumberMatcher finds them at its VALID leniency: a valid number, not
// glued to Latin letters, money or a percent sign, with matching brackets.
// An answer with no number is refused with CodeInvalidPhone, one with two
// different numbers with CodeAmbiguousPhone; the same number written twice
// is one number.
func ParsePhone(region, raw string) (Phone, error) {
	p, err := parsePhone(region, raw)
	if err != nil || p.Number == raw {
		return p, err
	}
	// A stored value must normalize to itself, or the same line would be
	// stored under two spellings.
	if again, err := parsePhone(region, p.Number); err != nil || again.Number != p.Number || again.Extension != "" {
		return Phone{}, invalidPhone(region)
	}
	return p, nil
}

// NormalizePhone returns the number of ParsePhone, in E.164; an extension
// is accepted and dropped (ParsePhone returns it).
func NormalizePhone(region, raw string) (string, error) {
	p, err := ParsePhone(region, raw)
	return p.Number, err
}

// parsePhone is one pass of ParsePhone.
func parsePhone(region, raw string) (Phone, error) {
	s, err := precheck(raw, false)
	if err != nil {
		return Phone{}, err
	}
	if region != "" {
		if err := ValidRegion(region); err != nil {
			return Phone{}, Errorf("", CodeInvalidRegion, "unknown region %q; use a two-letter country code such as RU", region)
		}
	}
	if utf8.RuneCountInString(s) > maxPhoneAnswerRunes {
		return Phone{}, Errorf("", CodeTooLong, "the answer is too long; please send just the phone number")
	}
	if trunk8.MatchString(s) && phonenumbers.GetNddPrefixForRegion(region, true) == "8" {
		// "+8 916 …": the trunk prefix 8 written with a plus. No country
		// code is 8 alone, so this is no international number.
		s = trunk8.ReplaceAllString(s, "${1}8$2")
	}
	var found []Phone
	for _, m := range findPhones(s, region) {
		p := Phone{Number: phonenumbers.Format(m, phonenumbers.E164), Extension: phonenumbers.NormalizeDigitsOnly(m.GetExtension())}
		found = addPhone(found, p)
	}
	switch len(found) {
	case 0:
		return Phone{}, invalidPhone(region)
	case 1:
		return found[0], nil
	}
	return Phone{}, Errorf("", CodeAmbiguousPhone, "this answer holds more than one phone number (%s and %s); please send just one",
		spell(found[0]), spell(found[1]))
}

// addPhone adds p to found unless it is a number already there; the same
// number with and without an extension is one number, with the extension.
func addPhone(found []Phone, p Phone) []Phone {
	for i, f := range found {
		if f.Number != p.Number || f.Extension != p.Extension && f.Extension != "" && p.Extension != "" {
			continue
		}
		if f.Extension == "" {
			found[i].Extension = p.Extension
		}
		return found
	}
	return append(found, p)
}

// spell writes p as a person reads it, for messages.
func spell(p Phone) string {
	s := p.Number
	if n, err := phonenumbers.Parse(p.Number, ""); err == nil {
		s = phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
	}
	if p.Extension != "" {
		s += " ext. " + p.Extension
	}
	return s
}

// invalidPhone builds the refusal of a phone number, with an example of the
// region so the person knows what to send instead.
func invalidPhone(region string) *Error {
	example := "+7 916 123-45-67"
	if region != "" {
		if n := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE); n != nil {
			example = phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
		}
	}
	return Errorf("", CodeInvalidPhone, "this does not look like a valid phone number; please send it with the country code, e.g. %s", example)
}

// The Go port of libphonenumber parses and validates numbers but has no
// PhoneNumberMatcher (phonenumbers.NewPhoneNumberMatcher returns nil). What
// follows is the smallest part of the Java matcher
// (java/libphonenumber/src/com/google/i18n/phonenumbers/PhoneNumberMatcher.java)
// that finds numbers at leniency VALID: its candidate patterns, built from
// the library's own constants, and its checks around the library's
// ParseAndKeepRawInput, IsValidNumber, ContainsOnlyValidXChars and
// IsNationalPrefixPresentIfRequired.
const (
	openingParens = `(\[（［`
	closingParens = `)\]）］`
	nonParens     = `[^` + openingParens + closingParens + `]`
	leadChars     = openingParens + phonenumbers.PLUS_CHARS
	// punctuation is a run of at most 4 separators, white space included.
	punctuation = `[` + phonenumbers.VALID_PUNCTUATION + `]{0,4}`
)

var (
	// phoneCandidate is a run of digits between separators, with at most
	// two leading brackets or plus signs and an optional extension. The
	// Java pattern also caps digits per block and blocks per run, against
	// backtracking; Go's regexp runs in linear time, answers are short, and
	// the caps made it five times slower, so they are left out: a run that
	// long is no number either way.
	phoneCandidate = regexp.MustCompile(`(?:[` + leadChars + `]` + punctuation + `){0,2}\p{Nd}+(?:` + punctuation + `\p{Nd}+)*` +
		`(?i:` + phonenumbers.EXTN_PATTERNS_FOR_MATCHING + `)?`)
	// leadClass is what may open a number: brackets and plus signs.
	leadClass = regexp.MustCompile(`^[` + leadChars + `]`)
	// groupSeparator is white space and whatever follows it that cannot
	// start a number: where a number may end and another begin.
	groupSeparator = regexp.MustCompile(`\p{Z}[^` + leadChars + `\p{Nd}]*`)
	// matchingBrackets: brackets are closed and hold something, at most 4
	// pairs; an opening one at the start may stay open.
	matchingBrackets = regexp.MustCompile(`^(?:[` + openingParens + `])?(?:` + nonParens + `+[` + closingParens + `])?` +
		nonParens + `+(?:[` + openingParens + `]` + nonParens + `+[` + closingParens + `]){0,3}` + nonParens + `*$`)
	// pubPages, slashDates and timeStamps are page ranges ("211-227 (2003)"),
	// dates ("31/10/96") and times ("2012-01-02 08:00"), not numbers.
	pubPages        = regexp.MustCompile(`\d{1,5}-+\d{1,5}\s{0,4}\(\d{1,4}`)
	slashDates      = regexp.MustCompile(`(?:(?:[0-3]?\d/[01]?\d)|(?:[01]?\d/[0-3]?\d))/(?:[12]\d)?\d{2}`)
	timeStamps      = regexp.MustCompile(`[12]\d{3}[-/]?[01]\d[-/]?[0-3]\d [0-2]\d$`)
	timeStampSuffix = regexp.MustCompile(`^:[0-5]\d`)
)

// trunk8 is "+8" written as a group of its own at the start of a number.
var trunk8 = regexp.MustCompile(`(^|[^\p{Nd}+])\+8([\p{Z}(-])`)

// findPhones returns the valid numbers in text, in order.
func findPhones(text, region string) []*phonenumbers.PhoneNumber {
	var found []*phonenumbers.PhoneNumber
	for index := 0; index < len(text); {
		loc := phoneCandidate.FindStringIndex(text[index:])
		if loc == nil {
			break
		}
		start := index + loc[0]
		candidate := text[start : index+loc[1]]
		if i := phonenumbers.SECOND_NUMBER_START_PATTERN.FindStringIndex(candidate); i != nil {
			candidate = candidate[:i[0]]
		}
		if n, end := extractPhone(text, candidate, start, region); n != nil {
			found = append(found, n)
			index = end
			continue
		}
		index = max(start+len(candidate), start+1)
	}
	return found
}

// extractPhone finds a number in candidate, which starts at offset in text,
// and returns it with the offset in text where it ends.
func extractPhone(text, candidate string, offset int, region string) (*phonenumbers.PhoneNumber, int) {
	if pubPages.MatchString(candidate) || slashDates.MatchString(candidate) {
		return nil, 0
	}
	if timeStamps.MatchString(candidate) && timeStampSuffix.MatchString(text[offset+len(candidate):]) {
		return nil, 0
	}
	if n := verifyPhone(text, candidate, offset, region); n != nil {
		return n, offset + len(candidate)
	}
	// An inner match: white space may end one number and start another,
	// so try the first group alone, the candidate without its first group,
	// and without its last group, as the Java matcher does.
	seps := groupSeparator.FindAllStringIndex(candidate, -1)
	if seps == nil {
		return nil, 0
	}
	try := func(from, to int) (*phonenumbers.PhoneNumber, int) {
		s := strings.TrimRightFunc(candidate[from:to], unwantedEnd)
		if n := verifyPhone(text, s, offset+from, region); n != nil {
			return n, offset + from + len(s)
		}
		return nil, 0
	}
	if n, end := try(0, seps[0][0]); n != nil {
		return n, end
	}
	// Unlike Java, not when the first group is a country code ("+1 916 123
	// 45 67", "+380 …"): the number without it is another person's.
	if !strings.ContainsAny(candidate[:seps[0][0]], phonenumbers.PLUS_CHARS) {
		if n, end := try(seps[0][1], len(candidate)); n != nil {
			return n, end
		}
	}
	// Java then tries the candidate without its last group and gives up.
	// We also try shorter prefixes, longest first, so that two numbers
	// written one after the other with only spaces between them
	// ("8 916 123 45 67 8 926 765 43 21") are both found, and so refused
	// as two, rather than neither.
	for i := len(seps) - 1; i >= 1; i-- {
		if n, end := try(0, seps[i][0]); n != nil {
			return n, end
		}
	}
	return nil, 0
}

// unwantedEnd reports whether r may be trimmed off the end of a number:
// anything but a letter, a digit or "#" (which may end an extension).
func unwantedEnd(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsNumber(r) && r != '#'
}

// verifyPhone parses candidate, which starts at offset in text, and returns
// the number when it is one at leniency VALID, else nil.
func verifyPhone(text, candidate string, offset int, region string) *phonenumbers.PhoneNumber {
	if candidate == "" || !matchingBrackets.MatchString(candidate) {
		return nil
	}
	// Skip numbers glued to Latin letters (abc8005001234), money or a
	// percent sign; a leading bracket or plus separates well enough.
	if offset > 0 && !leadClass.MatchString(candidate) {
		if r, _ := utf8.DecodeLastRuneInString(text[:offset]); isLatinLetter(r) || isMoneyOrPercent(r) {
			return nil
		}
	}
	if end := offset + len(candidate); end < len(text) {
		if r, _ := utf8.DecodeRuneInString(text[end:]); isLatinLetter(r) || isMoneyOrPercent(r) {
			return nil
		}
	}
	n, err := phonenumbers.ParseAndKeepRawInput(candidate, region)
	if err == nil && phonenumbers.IsValidNumber(n) && phonenumbers.ContainsOnlyValidXChars(n, candidate) &&
		phonenumbers.IsNationalPrefixPresentIfRequired(n) {
		return n
	}
	return withoutPlus(candidate, region)
}

// withoutPlus reads candidate as a number written internationally without
// its "+", like 79161234567 in a RU project, which the region's own rules
// do not always read so.
func withoutPlus(candidate, region string) *phonenumbers.PhoneNumber {
	if region == "" || strings.ContainsAny(candidate, phonenumbers.PLUS_CHARS) {
		return nil
	}
	national, ext := phonenumbers.MaybeSeparateExtensionFromPhone(candidate)
	if strings.IndexFunc(national, unicode.IsLetter) >= 0 {
		return nil // an "x" that is no extension, or a vanity number
	}
	d := phonenumbers.NormalizeDigitsOnly(national)
	if len(d) < 11 || !strings.HasPrefix(d, strconv.Itoa(phonenumbers.GetCountryCodeForRegion(region))) {
		return nil
	}
	if ext != "" {
		d += " ext. " + ext
	}
	n, err := phonenumbers.Parse("+"+d, region)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return nil
	}
	return n
}

// isLatinLetter reports whether r is a letter (or a combining mark, which
// belongs to a letter) of the Latin blocks, as the Java matcher's
// isLatinLetter does.
func isLatinLetter(r rune) bool {
	if !unicode.IsLetter(r) && !unicode.Is(unicode.Mn, r) {
		return false
	}
	return r <= 0x024F || 0x0300 <= r && r <= 0x036F || 0x1E00 <= r && r <= 0x1EFF
}

// isMoneyOrPercent reports whether r is a currency symbol or "%".
func isMoneyOrPercent(r rune) bool {
	return r == '%' || unicode.Is(unicode.Sc, r)
}
