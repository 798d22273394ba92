package graph

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// Role is what an API key may do in its project.
type Role string

// The roles of API keys. ADMIN includes WRITE, which includes READ; WIDGET
// may only write identifiers of the visitor it names.
const (
	RoleAdmin  Role = "ADMIN"
	RoleWrite  Role = "WRITE"
	RoleRead   Role = "READ"
	RoleWidget Role = "WIDGET"
)

// APIKey is a project's API key as stored: its secret only as a SHA-256 hash.
type APIKey struct {
	ID        string
	Project   string
	Role      Role
	CreatedAt time.Time
	Revoked   bool
}

// ErrUnknownKey says a presented secret matches no live API key.
var ErrUnknownKey = errors.New("unknown or revoked API key")

// HashSecret is how API key secrets are stored and looked up.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CreateAPIKey makes a key for the project and returns it with its secret,
// which is not stored and cannot be shown again.
func (s *Store) CreateAPIKey(ctx context.Context, project string, role Role) (APIKey, string, error) {
	switch role {
	case RoleAdmin, RoleWrite, RoleRead, RoleWidget:
	default:
		return APIKey{}, "", identity.Errorf("role", identity.CodeInvalidArgument, "unknown role %q", role)
	}
	k := APIKey{ID: newID("key"), Project: project, Role: role, CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	secret := "mck_" + rand.Text() + rand.Text()
	_, err := writeT(ctx, s, func(tx neo4j.ManagedTransaction) (none, error) {
		if err := projectExists(ctx, tx, project); err != nil {
			return none{}, err
		}
		return none{}, exec(ctx, tx, `CREATE (:ApiKey {project: $project, id: $id, hash: $hash, role: $role,
			createdAt: $at, revoked: false})`,
			map[string]any{"project": project, "id": k.ID, "hash": HashSecret(secret), "role": string(role), "at": k.CreatedAt})
	})
	if err != nil {
		return APIKey{}, "", err
	}
	return k, secret, nil
}

const apiKeyColumns = `k.id AS id, k.project AS project, k.role AS role, k.createdAt AS createdAt, k.revoked AS revoked`

func decodeAPIKey(rec *neo4j.Record) APIKey {
	return APIKey{ID: str(rec, "id"), Project: str(rec, "project"), Role: Role(str(rec, "role")),
		CreatedAt: when(rec, "createdAt"), Revoked: boolean(rec, "revoked")}
}

// Authenticate returns the live key whose secret this is, or ErrUnknownKey.
func (s *Store) Authenticate(ctx context.Context, secret string) (APIKey, error) {
	return readT(ctx, s, func(tx neo4j.ManagedTransaction) (APIKey, error) {
		rec, err := single(ctx, tx, `MATCH (k:ApiKey {hash: $hash}) WHERE NOT k.revoked RETURN `+apiKeyColumns,
			map[string]any{"hash": HashSecret(secret)})
		if err != nil {
			return APIKey{}, err
		}
		if rec == nil {
			return APIKey{}, ErrUnknownKey
		}
		return decodeAPIKey(rec), nil
	})
}

// APIKeys lists a project's keys, oldest first.
func (s *Store) APIKeys(ctx context.Context, project string) ([]APIKey, error) {
	return readT(ctx, s, func(tx neo4j.ManagedTransaction) ([]APIKey, error) {
		if err := projectExists(ctx, tx, project); err != nil {
			return nil, err
		}
		recs, err := collect(ctx, tx, `MATCH (k:ApiKey {project: $project}) RETURN `+apiKeyColumns+` ORDER BY k.createdAt, k.id`,
			map[string]any{"project": project})
		out := make([]APIKey, len(recs))
		for i, rec := range recs {
			out[i] = decodeAPIKey(rec)
		}
		return out, err
	})
}

// RevokeAPIKey makes a key stop working at once.
func (s *Store) RevokeAPIKey(ctx context.Context, project, id string) error {
	_, err := writeT(ctx, s, func(tx neo4j.ManagedTransaction) (none, error) {
		rec, err := single(ctx, tx, `MATCH (k:ApiKey {project: $project, id: $id}) SET k.revoked = true RETURN k.id AS id`,
			map[string]any{"project": project, "id": id})
		if err != nil || rec == nil {
			return none{}, orNotFound(err, "apiKey", id)
		}
		return none{}, nil
	})
	return err
}

// RotateIdentitySecret gives the project a new secret for verifying the
// HMAC-SHA256 signatures of widget values and returns it. It is kept in
// the clear, since verifying needs it; the old one stops verifying.
func (s *Store) RotateIdentitySecret(ctx context.Context, project string) (string, error) {
	secret := rand.Text() + rand.Text()
	_, err := writeT(ctx, s, func(tx neo4j.ManagedTransaction) (none, error) {
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id}) SET p.identitySecret = $secret RETURN p.id AS id`,
			map[string]any{"id": project, "secret": secret})
		if err != nil || rec == nil {
			return none{}, orNotFound(err, "project", project)
		}
		return none{}, nil
	})
	return secret, err
}

// IdentitySecret returns the project's widget signing secret, "" when none was made.
func (s *Store) IdentitySecret(ctx context.Context, project string) (string, error) {
	return readT(ctx, s, func(tx neo4j.ManagedTransaction) (string, error) {
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id}) RETURN coalesce(p.identitySecret, '') AS secret`,
			map[string]any{"id": project})
		if err != nil || rec == nil {
			return "", orNotFound(err, "project", project)
		}
		return str(rec, "secret"), nil
	})
}
