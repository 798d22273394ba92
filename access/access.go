// Package access says who may do what in a project: the roles of API keys,
// which role includes which, and how key secrets are made and stored. It is
// pure: the store keeps keys, the API checks roles, both through this.
package access

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Role is what an API key may do in its project.
type Role string

// The roles of API keys. ADMIN includes WRITE, which includes READ; WIDGET
// may only write identifiers of the visitor it proves, and includes nothing.
const (
	RoleAdmin  Role = "ADMIN"
	RoleWrite  Role = "WRITE"
	RoleRead   Role = "READ"
	RoleWidget Role = "WIDGET"
)

// rank orders the roles that include one another; WIDGET is apart.
var rank = map[Role]int{RoleRead: 1, RoleWrite: 2, RoleAdmin: 3}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r == RoleWidget || rank[r] > 0 }

// Includes reports whether a key of role r may do what needs role need.
func (r Role) Includes(need Role) bool {
	if r == RoleWidget || need == RoleWidget {
		return r == need
	}
	return rank[r] > 0 && rank[need] > 0 && rank[r] >= rank[need]
}

// NewSecret returns a new key secret: shown once to whoever creates the
// key, never stored.
func NewSecret() string { return secretPrefix + rand.Text() + rand.Text() }

// secretPrefix and secretLen are the shape of every secret NewSecret made:
// the prefix and two rand.Text() of 26 base32 characters.
const (
	secretPrefix = "mck_"
	secretLen    = len(secretPrefix) + 52
)

// WellFormed reports whether secret has the shape of a key secret, so that
// a token that cannot be one is refused without looking it up.
func WellFormed(secret string) bool {
	if len(secret) != secretLen || !strings.HasPrefix(secret, secretPrefix) {
		return false
	}
	for _, c := range secret[len(secretPrefix):] {
		if !('A' <= c && c <= 'Z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// Hash is how a key secret is stored and looked up: its SHA-256, in hex.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
