package identity_test

import (
	"strings"
	"testing"

	"github.com/multicontact/multicontact/identity"
)

// phoneCase is one answer to "your phone?": the number and extension it
// holds, or the code of its refusal.
type phoneCase struct {
	region string
	raw    string
	want   string
	ext    string
	code   string
}

// checkParsePhone runs ParsePhone on tc and checks its number, extension
// or refusal, and that the number normalizes to itself.
func checkParsePhone(t *testing.T, tc phoneCase) {
	t.Helper()
	got, err := identity.ParsePhone(tc.region, tc.raw)
	if code := identity.ErrorCode(err); code != tc.code {
		t.Fatalf("ParsePhone(%q, %q) = %+v, %v (code %q), want code %q", tc.region, tc.raw, got, err, code, tc.code)
	}
	if err != nil {
		if got != (identity.Phone{}) {
			t.Errorf("ParsePhone(%q, %q) = %+v with an error, want the zero Phone", tc.region, tc.raw, got)
		}
		return
	}
	if want := (identity.Phone{Number: tc.want, Extension: tc.ext}); got != want {
		t.Errorf("ParsePhone(%q, %q) = %+v, want %+v", tc.region, tc.raw, got, want)
	}
	if again, err := identity.NormalizePhone(tc.region, got.Number); err != nil || again != got.Number {
		t.Errorf("NormalizePhone(%q, %q) = %q, %v; want it unchanged", tc.region, got.Number, again, err)
	}
}

// TestParsePhoneAnswers: what people answer a bot that asks for their
// phone, in a RU project.
func TestParsePhoneAnswers(t *testing.T) {
	cases := []phoneCase{
		{region: "RU", raw: "мой номер 8 916 123-45-67", want: "+79161234567"},
		{region: "RU", raw: "phone: +7 916 123 45 67", want: "+79161234567"},
		{region: "RU", raw: "Телефон:+79161234567", want: "+79161234567"},
		{region: "RU", raw: "tel:+79161234567", want: "+79161234567"},
		{region: "RU", raw: "+7 (916) 123-45-67 доб. 12", want: "+79161234567", ext: "12"},
		{region: "RU", raw: "+7 (495) 123-45-67, ДОБ 305, спросить Ивана", want: "+74951234567", ext: "305"},
		{region: "RU", raw: "+7 916 123 45 67 ext. 12", want: "+79161234567", ext: "12"},
		{region: "RU", raw: "8-916-123-45-67, звоните после 6", want: "+79161234567"},
		{region: "RU", raw: "звоните после 18:00 на 8 (916) 123-45-67", want: "+79161234567"},
		{region: "RU", raw: "916 123 45 67", want: "+79161234567"},
		{region: "RU", raw: "79161234567!", want: "+79161234567"},
		{region: "RU", raw: "+7 916 123-45-67 (это мобильный)", want: "+79161234567"},
		{region: "RU", raw: "my number is ８ ９１６ １２３ ４５ ６７", want: "+79161234567"},
		{region: "RU", raw: "+375 29 123-45-67, Минск", want: "+375291234567"},
		{region: "KZ", raw: "номер 8 701 123 45 67", want: "+77011234567"},

		// The same number twice is one number; with an extension once,
		// it keeps the extension.
		{region: "RU", raw: "+7 916 123 45 67, он же 8 (916) 123-45-67", want: "+79161234567"},
		{region: "RU", raw: "+7 495 123-45-67 доб. 12, а без добавочного +7 495 123-45-67", want: "+74951234567", ext: "12"},

		// Two numbers: which one?
		{region: "RU", raw: "8 916 123-45-67 или 8 926 765-43-21", code: identity.CodeAmbiguousPhone},
		{region: "RU", raw: "рабочий +7 495 123-45-67, мобильный +7 916 123-45-67", code: identity.CodeAmbiguousPhone},
		{region: "RU", raw: "8 916 123 45 67 8 926 765 43 21", code: identity.CodeAmbiguousPhone},
		{region: "RU", raw: "+7 495 123-45-67 доб. 12 или +7 495 123-45-67 доб. 13", code: identity.CodeAmbiguousPhone},

		// A country code written is never dropped: what is left is another
		// person's number.
		{region: "RU", raw: "+1 916 123 45 67", code: identity.CodeInvalidPhone},
		{region: "RU", raw: "+380 916 123 45 67", code: identity.CodeInvalidPhone},
		{region: "RU", raw: "+33 916 123 45 67", code: identity.CodeInvalidPhone},

		// "+8 …" is the trunk prefix 8 written with a plus, where 8 is the
		// trunk prefix; "+84…" in one group stays a Vietnamese number.
		{region: "RU", raw: "+8 916 123 45 67", want: "+79161234567"},
		{region: "RU", raw: "+8 495 123-45-67", want: "+74951234567"},
		{region: "RU", raw: "+8 (495) 123-45-67", want: "+74951234567"},
		{region: "KZ", raw: "+8 701 123 45 67", want: "+77011234567"},
		{region: "RU", raw: "+84951234567", want: "+84951234567"},

		// No number.
		{region: "RU", raw: "не скажу", code: identity.CodeInvalidPhone},
		{region: "RU", raw: "abc", code: identity.CodeInvalidPhone},
		{region: "RU", raw: "мой номер 123", code: identity.CodeInvalidPhone},
		{region: "RU", raw: "12345", code: identity.CodeInvalidPhone},
		{region: "RU", raw: "+7 000", code: identity.CodeInvalidPhone},
		{region: "RU", raw: "8 916 123-45", code: identity.CodeInvalidPhone},
		{region: "RU", raw: "phone89161234567", code: identity.CodeInvalidPhone},
		{region: "US", raw: "1-800-FLOWERS", code: identity.CodeInvalidPhone},
		{region: "", raw: "мой номер 8 916 123 45 67", code: identity.CodeInvalidPhone},
		{region: "RU", raw: strings.Repeat("мой номер ", 16) + "8 916 123 45 67", code: identity.CodeTooLong},
	}
	for _, tc := range cases {
		t.Run(tc.raw, func(t *testing.T) { checkParsePhone(t, tc) })
	}
}

func TestParsePhoneAmbiguousMessage(t *testing.T) {
	_, err := identity.ParsePhone("RU", "8 916 123-45-67 или 8 926 765-43-21 доб. 5")
	got := err.Error()
	for _, want := range []string{"+7 916 123-45-67", "+7 926 765-43-21 ext. 5", "just one"} {
		if !strings.Contains(got, want) {
			t.Errorf("ParsePhone error = %q, want it to name both numbers and ask for one (%q)", got, want)
		}
	}
}

// TestParsePhoneLibphonenumber runs a representative part of the cases
// that libphonenumber publishes for its matcher, from
// java/libphonenumber/test/com/google/i18n/phonenumbers/PhoneNumberMatcherTest.java
// (and the extension spellings of PhoneNumberUtilTest.java's
// testParseExtensions), at leniency VALID. Upstream runs them against its
// test metadata; here only the cases whose numbers are valid (or invalid)
// in the real metadata too are kept.
func TestParsePhoneLibphonenumber(t *testing.T) {
	// doTestFindInContext: numbers found alone and in each of inContext.
	findInContext := []phoneCase{
		// testFindNationalNumber
		{region: "NZ", raw: "033316005", want: "+6433316005"},
		{region: "NZ", raw: "03-331 6005", want: "+6433316005"},
		{region: "NZ", raw: "03 331 6005", want: "+6433316005"},
		{region: "NZ", raw: "0064 3 331 6005", want: "+6433316005"},
		{region: "US", raw: "01164 3 331 6005", want: "+6433316005"},
		{region: "US", raw: "+64 3 331 6005", want: "+6433316005"},
		// testFindWithInternationalPrefixes
		{region: "NZ", raw: "+1 (650) 333-6000", want: "+16503336000"},
		{region: "US", raw: "1-650-333-6000", want: "+16503336000"},
		{region: "SG", raw: "0011-650-333-6000", want: "+16503336000"},
		{region: "SG", raw: "0081-650-333-6000", want: "+16503336000"},
		{region: "SG", raw: "0191-650-333-6000", want: "+16503336000"},
		{region: "PL", raw: "0~01-650-333-6000", want: "+16503336000"},
		{region: "PL", raw: "++1 (650) 333-6000", want: "+16503336000"},
		{region: "SG", raw: "\uFF0B1 (650) 333-6000", want: "+16503336000"},
		{region: "SG", raw: "\uFF0B\uFF11\u3000\uFF08\uFF16\uFF15\uFF10\uFF09\u3000\uFF13\uFF13\uFF13\uFF0D\uFF16\uFF10\uFF10\uFF10", want: "+16503336000"},
		// testFindWithLeadingZero
		{region: "NZ", raw: "+39 02-36618 300", want: "+390236618300"},
		{region: "IT", raw: "02-36618 300", want: "+390236618300"},
		// testFindNumbersMexico
		{region: "MX", raw: "+52 (449)978-0001", want: "+524499780001"},
		{region: "MX", raw: "(449)978-0001", want: "+524499780001"},
		// testFindNumbersWithPlusWithNoRegion
		{region: "", raw: "+64 3 331 6005", want: "+6433316005"},
		// testFindExtensions
		{region: "NZ", raw: "03 331 6005 ext 3456", want: "+6433316005", ext: "3456"},
		{region: "NZ", raw: "03-3316005x3456", want: "+6433316005", ext: "3456"},
		{region: "NZ", raw: "03-3316005 int.3456", want: "+6433316005", ext: "3456"},
		{region: "NZ", raw: "03 3316005 #3456", want: "+6433316005", ext: "3456"},
		{region: "GB", raw: "+44 2034567890x456", want: "+442034567890", ext: "456"},
		{region: "GB", raw: "+44 2034567890 X 456", want: "+442034567890", ext: "456"},
		{region: "GB", raw: "+44 2034567890  X 456", want: "+442034567890", ext: "456"},
		{region: "US", raw: "(800) 901-3355 x 7246433", want: "+18009013355", ext: "7246433"},
		{region: "US", raw: "(800) 901-3355 , ext 7246433", want: "+18009013355", ext: "7246433"},
		{region: "US", raw: "(800) 901-3355 ,extension 7246433", want: "+18009013355", ext: "7246433"},
		{region: "US", raw: "(800) 901-3355 ,x 7246433", want: "+18009013355", ext: "7246433"},
		{region: "US", raw: "(800) 901-3355 ext: 7246433", want: "+18009013355", ext: "7246433"},
		// testFindInterspersedWithSpace
		{region: "NZ", raw: "0 3   3 3 1   6 0 0 5", want: "+6433316005"},
	}
	// findPossibleInContext and findValidInContext, less the contexts that
	// glue the number to Latin letters ("Hi call", "forme"), where
	// upstream finds it only at leniency POSSIBLE.
	inContext := [][2]string{
		{"   ", "\t"},
		{"Hello ", ""},
		{"", " to call me!"},
		{"Hi there, call ", " to reach me!"},
		{"Hi there, call ", ", or don't"},
		{"It's cheap! Call ", " before 6:30"},
		{"As quoted by Alfonso 12-15 (2009), you may call me at ", ""},
		{"As quoted by Alfonso et al. 12-15 (2009), you may call me at ", ""},
		{"As I said on 03/10/2011, you may call me at ", ""},
		{"", ", 45 days a year"},
		{"Call ", "/x12 more"},
		{"It's only 9.99! Call ", " to buy"},
		{"Call me on 21.6.1984 at ", ""},
		{"Call me on 06/21 at ", ""},
		{"Call me on 21.6. at ", ""},
		{"Call me on 06/21/84 at ", ""},
	}
	for _, tc := range findInContext {
		t.Run(tc.region+" "+tc.raw, func(t *testing.T) {
			checkParsePhone(t, tc)
			raw := tc.raw
			for _, c := range inContext {
				tc.raw = c[0] + raw + c[1]
				checkParsePhone(t, tc)
			}
		})
	}

	// testMatchesWithSurroundingChineseChars, ...Punctuation and
	// testPhoneNumberWithLeadingOrTrailingMoneyMatches, around 415-666-7777.
	for _, c := range [][2]string{
		{"\u6211\u7684\u7535\u8BDD\u53F7\u7801\u662F", ""},
		{"", "\u662F\u6211\u7684\u7535\u8BDD\u53F7\u7801"},
		{"\u8BF7\u62E8\u6253", "\u6211\u5728\u660E\u5929"},
		{"My number-", ""},
		{"", ".Nice day."},
		{"Tel:", "."},
		{"Tel: ", " on Saturdays."},
		{"$20 ", ""},
		{"", " 100$"},
	} {
		tc := phoneCase{region: "US", raw: c[0] + "415-666-7777" + c[1], want: "+14156667777"}
		t.Run(tc.raw, func(t *testing.T) { checkParsePhone(t, tc) })
	}

	// EXACT_GROUPING_CASES and STRICT_GROUPING_CASES (VALID_CASES are odd
	// spellings that upstream's test metadata alone makes valid), the
	// Russian "доб" of PhoneNumberUtilTest's testParseExtensions, alone.
	for _, tc := range []phoneCase{
		{region: "US", raw: "4156667777", want: "+14156667777"},
		{region: "US", raw: "4156667777 x 123", want: "+14156667777", ext: "123"},
		{region: "US", raw: "415-666-7777", want: "+14156667777"},
		{region: "US", raw: "415/666-7777", want: "+14156667777"},
		{region: "US", raw: "415-666-7777 ext. 503", want: "+14156667777", ext: "503"},
		{region: "US", raw: "1 415 666 7777 x 123", want: "+14156667777", ext: "123"},
		{region: "US", raw: "+1 415-666-7777", want: "+14156667777"},
		{region: "US", raw: "\uFF14\uFF11\uFF15\uFF16\uFF16\uFF16\uFF17\uFF17\uFF17\uFF17", want: "+14156667777"},
		{region: "US", raw: "\uFF14\uFF11\uFF15-\uFF16\uFF16\uFF16-\uFF17\uFF17\uFF17\uFF17", want: "+14156667777"},
		{region: "MX", raw: "01 (33) 3461 2234", want: "+523334612234"},
		{region: "MX", raw: "(33) 3461 2234", want: "+523334612234"},
		{region: "US", raw: "(415) 6667777", want: "+14156667777"},
		{region: "US", raw: "415-6667777", want: "+14156667777"},
		{region: "RU", raw: "8 (423) 202-25-11, доб. 100", want: "+74232022511", ext: "100"},
		{region: "RU", raw: "8 (423) 202-25-11 доб. 100", want: "+74232022511", ext: "100"},
		{region: "RU", raw: "8 (423) 202-25-11, доб 100", want: "+74232022511", ext: "100"},
		{region: "RU", raw: "8 (423) 202-25-11 доб 100", want: "+74232022511", ext: "100"},
		{region: "RU", raw: "8 (423) 202-25-11доб100", want: "+74232022511", ext: "100"},
		{region: "RU", raw: "8 (423) 202-25-11, ДОБ. 100", want: "+74232022511", ext: "100"},
	} {
		t.Run(tc.region+" "+tc.raw, func(t *testing.T) { checkParsePhone(t, tc) })
	}

	notFound := []phoneCase{
		// IMPOSSIBLE_CASES
		{region: "US", raw: "12345"},
		{region: "US", raw: "23456789"},
		{region: "US", raw: "234567890112"},
		{region: "US", raw: "650+253+1234"},
		{region: "CA", raw: "3/10/1984"},
		{region: "US", raw: "03/27/2011"},
		{region: "US", raw: "31/8/2011"},
		{region: "US", raw: "1/12/2011"},
		{region: "DE", raw: "10/12/82"},
		{region: "US", raw: "650x2531234"},
		{region: "US", raw: "2012-01-02 08:00"},
		{region: "US", raw: "2012/01/02 08:00"},
		{region: "US", raw: "20120102 08:00"},
		// POSSIBLE_ONLY_CASES: an "x" that is neither a carrier code nor
		// an extension; a national prefix that GB requires, left out
		{region: "US", raw: "1650 x 253 - 1234"},
		{region: "US", raw: "650 x 253 - 1234"},
		{region: "US", raw: "6502531x234"},
		{region: "GB", raw: "(20) 3346 1234"},
		// testMatchesWithSurroundingLatinChars, testMoneyNotSeenAsPhoneNumber,
		// testPercentageNotSeenAsPhoneNumber
		{region: "US", raw: "abc415-666-7777def"},
		{region: "US", raw: "abc415-666-7777"},
		{region: "US", raw: "415-666-7777def"},
		{region: "US", raw: "\u00C9415-666-7777"},
		{region: "US", raw: "e\u0301415-666-7777"},
		{region: "US", raw: "$415-666-7777"},
		{region: "US", raw: "415-666-7777$"},
		{region: "US", raw: "\u00A3415-666-7777"},
		{region: "US", raw: "\u00A5415-666-7777"},
		{region: "US", raw: "415-666-7777%"},
		// testMatchesWithSurroundingLatinCharsAndLeadingPunctuation
		{region: "US", raw: "+14156667777def"},
		{region: "US", raw: "(415)6667777\u00C9"},
		// testNonMatchingBracketsAreInvalid
		{region: "US", raw: "80.585 [79.964, 81.191]"},
		{region: "US", raw: "80.585 [79.964]"},
		{region: "US", raw: "80.585 ((79.964)"},
		{region: "US", raw: "(80).(585) (79).(9)64"},
		// testNoMatchIfRegionIsNull, testNoMatchIfNoNumber
		{region: "", raw: "Random text body - number is 0331 6005, see you there"},
		{region: "US", raw: "Random text body - number is foobar, see you there"},
		// testDoesNotMatchMultiplePhoneNumbersSeparatedWithNoWhiteSpace
		{region: "US", raw: "Call 650-253-4561--455-234-3451"},
	}
	for _, tc := range notFound {
		tc.code = identity.CodeInvalidPhone
		t.Run("not found "+tc.region+" "+tc.raw, func(t *testing.T) { checkParsePhone(t, tc) })
	}

	more := []phoneCase{
		// testMatchesWithSurroundingLatinCharsAndLeadingPunctuation: a
		// leading "+" or "(" separates the number from letters before it.
		{region: "US", raw: "abc+14156667777", want: "+14156667777"},
		{region: "US", raw: "\u00C9(415)6667777.", want: "+14156667777"},
		{region: "US", raw: "\u00C9+14156667777 def", want: "+14156667777"},
		// testMatchWithSurroundingZipcodes
		{region: "US", raw: "My address is CA 34215 - 415-666-7777 is my number.", want: "+14156667777"},
		{region: "US", raw: "My number is (415) 666 7777. 34215 is my zip-code.", want: "+14156667777"},
		// testDoubleIteration: the same number twice is one number.
		{region: "", raw: "+14156667777 foobar +14156667777 ", want: "+14156667777"},
		// testMatchesMultiplePhoneNumbersSeparatedByPhoneNumberPunctuation
		// and testSequences find two numbers, which is one too many here.
		// (Upstream's 455-234-3451 is valid only in its test metadata.)
		{region: "US", raw: "Call 650-253-4561 -- 415-666-7777", code: identity.CodeAmbiguousPhone},
		{region: "NZ", raw: "Call 033316005  or 034316005!", code: identity.CodeAmbiguousPhone},
	}
	for _, tc := range more {
		t.Run(tc.region+" "+tc.raw, func(t *testing.T) { checkParsePhone(t, tc) })
	}
}
