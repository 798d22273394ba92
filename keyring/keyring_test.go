package keyring_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/multicontact/multicontact/keyring"
)

func mustParse(t *testing.T, text string) *keyring.Keyring {
	t.Helper()
	k, err := keyring.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpensOnlyWithItsContextAndKey(t *testing.T) {
	a, b := keyring.Generate(), keyring.Generate()
	k := mustParse(t, a)
	sealed, err := k.Seal("s3cret", "project/acme/identitySecret")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "s3cret") || !keyring.IsSealed(sealed) {
		t.Fatalf("sealed %q shows the plaintext or lacks the prefix", sealed)
	}
	got, stale, err := k.Open(sealed, "project/acme/identitySecret")
	if err != nil || got != "s3cret" || stale {
		t.Errorf("Open = %q, %v, %v; want s3cret, fresh", got, stale, err)
	}
	if _, _, err := k.Open(sealed, "project/other/identitySecret"); err == nil {
		t.Error("a sealed value opened under another project's context")
	}
	if _, _, err := mustParse(t, b).Open(sealed, "project/acme/identitySecret"); err == nil {
		t.Error("a sealed value opened without its key")
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, _, err := k.Open(tampered, "project/acme/identitySecret"); err == nil {
		t.Error("a tampered sealed value opened")
	}
}

func TestRotationKeepsOldValuesReadableAndMarksThemStale(t *testing.T) {
	old, cur := keyring.Generate(), keyring.Generate()
	sealed, err := mustParse(t, old).Seal("v", "c")
	if err != nil {
		t.Fatal(err)
	}
	sig := mustParse(t, old).Sign("visitor", "m")
	rotated := mustParse(t, cur+"\n# the previous key\n"+old+"\n")
	got, stale, err := rotated.Open(sealed, "c")
	if err != nil || got != "v" || !stale {
		t.Errorf("Open after rotation = %q, %v, %v; want v, stale", got, stale, err)
	}
	if !rotated.Verify("visitor", "m", sig) {
		t.Error("a signature under the previous key no longer verifies")
	}
	if rotated.Verify("other purpose", "m", sig) || rotated.Verify("visitor", "m2", sig) {
		t.Error("a signature verified for another purpose or message")
	}
	if s := rotated.Sign("visitor", "m"); s == sig {
		t.Error("the rotated keyring still signs with the previous key")
	}
}

func TestParseRefusesBadKeys(t *testing.T) {
	short := base64.StdEncoding.EncodeToString([]byte("too short"))
	for _, text := range []string{"", "# only a comment", "not base64!", short} {
		if _, err := keyring.Parse(text); err == nil {
			t.Errorf("Parse(%q) accepted", text)
		}
	}
	if _, err := keyring.Parse(keyring.Generate() + "," + keyring.Generate()); err != nil {
		t.Errorf("two comma-separated keys: %v", err)
	}
}
