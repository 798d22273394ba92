// Package keyring holds the service's own keys, kept outside Neo4j: they
// encrypt the secrets that the graph stores (AES-256-GCM), so that whoever
// reads the graph does not read them, and they sign the tokens that the
// service hands out (HMAC-SHA256). The first key encrypts and signs; every
// key decrypts and verifies, so that a key is rotated by putting a new one
// first and dropping the old one once nothing needs it.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a key: 32 bytes, AES-256.
const KeySize = 32

// sealedPrefix starts every sealed value; the key id and the ciphertext follow.
const sealedPrefix = "mcs1."

// Keyring is an ordered set of keys. It is safe for concurrent use.
type Keyring struct {
	keys []key
}

type key struct {
	id   string      // hex of a hash of the key, to find it again; reveals nothing of it
	aead cipher.AEAD // under a key derived for sealing
	sign []byte      // a key derived for signing
}

// ErrUnknownKey says that a sealed value was sealed under none of the keys.
var ErrUnknownKey = errors.New("sealed under a key that is not configured")

// New returns a keyring of the given keys, the first one current. Each key
// is KeySize random bytes.
func New(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("a keyring needs at least one key")
	}
	k := &Keyring{}
	seen := map[string]bool{}
	for i, raw := range keys {
		if len(raw) != KeySize {
			return nil, fmt.Errorf("key %d is %d bytes; a key is %d random bytes (base64: 44 characters)", i+1, len(raw), KeySize)
		}
		id := sha256.Sum256(append([]byte("multicontact key id\x00"), raw...))
		kid := hex.EncodeToString(id[:6])
		if seen[kid] {
			continue
		}
		seen[kid] = true
		block, err := aes.NewCipher(derive(raw, "seal"))
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.keys = append(k.keys, key{id: kid, aead: aead, sign: derive(raw, "sign")})
	}
	return k, nil
}

// Parse reads keys written in base64 (standard or URL alphabet, padded or
// not), one per line or separated by commas; empty lines and lines starting
// with '#' are skipped. The first key is the current one.
func Parse(text string) (*Keyring, error) {
	var keys [][]byte
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, field := range strings.Split(line, ",") {
			if field = strings.TrimSpace(field); field == "" {
				continue
			}
			raw, err := decodeKey(field)
			if err != nil {
				return nil, fmt.Errorf("key %d is not base64 of %d bytes", len(keys)+1, KeySize)
			}
			keys = append(keys, raw)
		}
	}
	return New(keys...)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil && len(raw) == KeySize {
			return raw, nil
		}
	}
	return nil, errors.New("not a key")
}

// Generate returns a new random key, in the base64 that Parse reads.
func Generate() string {
	raw := make([]byte, KeySize)
	_, _ = rand.Read(raw) // never fails (crypto/rand)
	return base64.StdEncoding.EncodeToString(raw)
}

// derive makes a key for one purpose from a configured key, so that the
// same key is never used by two algorithms.
func derive(raw []byte, purpose string) []byte {
	m := hmac.New(sha256.New, raw)
	m.Write([]byte("multicontact/" + purpose))
	return m.Sum(nil)
}

// Seal encrypts plaintext under the current key. context (e.g. the project
// and property it belongs to) is authenticated, not stored: Open needs the
// same, so a sealed value copied elsewhere does not open.
func (k *Keyring) Seal(plaintext, context string) (string, error) {
	cur := k.keys[0]
	nonce := make([]byte, cur.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := cur.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return sealedPrefix + cur.id + "." + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal with the same context. stale says it
// was sealed under an older key and should be sealed again.
func (k *Keyring) Open(sealed, context string) (plaintext string, stale bool, err error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	kid, body, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return "", false, errors.New("not a sealed value")
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return "", false, errors.New("not a sealed value")
	}
	for i, key := range k.keys {
		if key.id != kid {
			continue
		}
		n := key.aead.NonceSize()
		if len(raw) < n {
			return "", false, errors.New("not a sealed value")
		}
		out, err := key.aead.Open(nil, raw[:n], raw[n:], []byte(context))
		if err != nil {
			return "", false, errors.New("the sealed value is corrupt or belongs elsewhere")
		}
		return string(out), i > 0, nil
	}
	return "", false, ErrUnknownKey
}

// IsSealed reports whether s looks like a value made by Seal.
func IsSealed(s string) bool { return strings.HasPrefix(s, sealedPrefix) }

// Sign returns the base64url HMAC-SHA256 of msg under the current key,
// for purpose (which separates the tokens of different uses).
func (k *Keyring) Sign(purpose, msg string) string {
	return base64.RawURLEncoding.EncodeToString(mac(k.keys[0].sign, purpose, msg))
}

// Verify reports whether sig is Sign(purpose, msg) under any of the keys.
func (k *Keyring) Verify(purpose, msg, sig string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	for _, key := range k.keys {
		if hmac.Equal(raw, mac(key.sign, purpose, msg)) {
			return true
		}
	}
	return false
}

func mac(key []byte, purpose, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(msg))
	return m.Sum(nil)
}
