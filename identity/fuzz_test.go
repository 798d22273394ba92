package identity_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/multicontact/multicontact/identity"
)

// checkFuzz checks what every normalizer promises for one input: an
// accepted value is valid UTF-8 without control characters and normalizes
// to itself; a refusal is a coded *identity.Error.
func checkFuzz(t *testing.T, raw string, fn func(string) (string, error)) {
	t.Helper()
	got, err := fn(raw)
	if err != nil {
		if identity.ErrorCode(err) == "" || got != "" {
			t.Fatalf("fn(%q) = %q, %v; want \"\" and a coded error", raw, got, err)
		}
		return
	}
	if got == "" || !utf8.ValidString(got) || strings.IndexFunc(got, unicode.IsControl) >= 0 {
		t.Fatalf("fn(%q) = %q: empty, invalid UTF-8 or control characters", raw, got)
	}
	again, err := fn(got)
	if err != nil || again != got {
		t.Fatalf("fn(%q) = %q, but fn(%q) = %q, %v", raw, got, got, again, err)
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{
		"8 (916) 123-45-67", "+7 916 123 45 67", "79161234567", "8-916-123-45-67", "+7 (495) 123-45-67",
		"+1 650-253-0000", "+44 20 7946 0958", "020 7946 0958", "+375 29 123-45-67", "8 029 123 45 67",
		"+39 06 1234 5678", "+800 1234 5678", "＋７ ９１６ １２３ ４５ ６７", "12345", "+7 000", "", "\x00", "++7",
		"мой номер 8 916 123-45-67", "+7 (916) 123-45-67 доб. 12", "8-916-123-45-67, звоните после 6",
		"8 916 123 45 67 8 926 765 43 21", "(800) 901-3355 ,x 7246433", "tel:+79161234567;ext=1", "abc415-666-7777",
	} {
		for _, region := range []string{"RU", "BY", "GB", "IT", "US", ""} {
			f.Add(region, s)
		}
	}
	f.Fuzz(func(t *testing.T, region, raw string) {
		if identity.ValidRegion(region) != nil {
			region = "RU"
		}
		checkFuzz(t, raw, func(s string) (string, error) { return identity.NormalizePhone(region, s) })
	})
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"User@Example.COM ", "user@пример.рф", "Иван@Пример.РФ", "John <j@x.com>", "a@b@c.com", "a@localhost",
		"user@ＥＸＡＭＰＬＥ．ＣＯＭ", "a@xn--e1afmkfd.xn--p1ai", `"a b"@x.com`, "a@[1.2.3.4]", "İ@x.com", "ǅ@x.com", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkFuzz(t, raw, identity.NormalizeEmail)
	})
}

func FuzzNormalizeText(f *testing.F) {
	for _, s := range []string{
		"ＡＢＣ", "Straße", "  John \t\n  Smith  ", "ﬁ", "Ⅻ", "ΟΔΟΣ", "İstanbul", "ǅ", "\u0345", "ᾳ", "ﷺ", "a\u00a0b", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkFuzz(t, raw, identity.NormalizeText)
	})
}

func FuzzNormalizeID(f *testing.F) {
	for _, s := range []string{"AbC-1", "  x ", "a\tb", "ＡＢＣ", "", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkFuzz(t, raw, identity.NormalizeID)
	})
}
