package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"

	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multicontact/multicontact/webhook"
)

// Verify checks a Multicontact-Signature header against the raw body.
func Verify(secret, header string, body []byte, now time.Time) bool {
	var ts, v1 string
	for _, part := range strings.Split(header, ",") {
		switch k, v, _ := strings.Cut(part, "="); k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(t, 0)).Abs() > 5*time.Minute {
		return false
	}
	got, err := hex.DecodeString(v1)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil)) // constant time
}

// The receiver's check that docs/api.md shows in Go is Verify above, which
// the delivery tests use on every request they receive.
func TestTheDocsVerifyIsTested(t *testing.T) {
	fn := func(path string) string {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		start := strings.Index(text, "// Verify checks a Multicontact-Signature header")
		if start < 0 {
			t.Fatalf("%s has no Verify", path)
		}
		end := strings.Index(text[start:], "\n}\n")
		return text[start : start+end+3]
	}
	if doc, here := fn("../docs/api.md"), fn("docs_test.go"); doc != here {
		t.Errorf("docs/api.md's Verify:\n%s\nis not the tested one:\n%s", doc, here)
	}
	body := []byte(`{"eventId":"acme:1"}`)
	now := time.Now()
	for _, c := range []struct {
		header string
		want   bool
	}{
		{sigOf("s", now, body), true},
		{sigOf("other", now, body), false},
		{sigOf("s", now.Add(-10*time.Minute), body), false},
		{"", false},
		{"t=1,v1=zz", false},
	} {
		if got := Verify("s", c.header, body, now); got != c.want {
			t.Errorf("Verify(%q) = %v, want %v", c.header, got, c.want)
		}
	}
}

func sigOf(secret string, at time.Time, body []byte) string {
	return webhook.Signature(secret, at, body)
}
