package graph

import (
	"context"
	"errors"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/access"
	"github.com/multicontact/multicontact/identity"
)

// APIKey is a project's API key as stored: its secret only as a SHA-256 hash.
type APIKey struct {
	ID        string
	Project   string
	Role      access.Role
	CreatedAt time.Time
	Revoked   bool
}

// ErrUnknownKey says a presented secret matches no API key.
var ErrUnknownKey = errors.New("unknown API key")

// ErrRevokedKey says a presented secret is that of a revoked API key.
var ErrRevokedKey = errors.New("revoked API key")

// CreateAPIKey makes a key for the project and returns it with its secret,
// which is not stored and cannot be shown again.
func (s *Store) CreateAPIKey(ctx context.Context, project string, role access.Role) (APIKey, string, error) {
	if !role.Valid() {
		return APIKey{}, "", identity.Errorf("role", identity.CodeInvalidArgument, "unknown role %q", role)
	}
	k := APIKey{ID: newID("key"), Project: project, Role: role, CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	secret := access.NewSecret()
	_, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
		if err := projectExists(ctx, tx, project); err != nil {
			return noResult{}, err
		}
		return noResult{}, exec(ctx, tx, `CREATE (:ApiKey {project: $project, id: $id, hash: $hash, role: $role,
			createdAt: $at, revoked: false})`,
			map[string]any{"project": project, "id": k.ID, "hash": access.Hash(secret), "role": string(role), "at": k.CreatedAt})
	})
	if err != nil {
		return APIKey{}, "", err
	}
	return k, secret, nil
}

const apiKeyColumns = `k.id AS id, k.project AS project, k.role AS role, k.createdAt AS createdAt, k.revoked AS revoked`

func decodeAPIKey(rec *neo4j.Record) APIKey {
	return APIKey{ID: str(rec, "id"), Project: str(rec, "project"), Role: access.Role(str(rec, "role")),
		CreatedAt: when(rec, "createdAt"), Revoked: boolean(rec, "revoked")}
}

// Authenticate returns the live key whose secret this is, ErrRevokedKey
// for a revoked one, or ErrUnknownKey.
func (s *Store) Authenticate(ctx context.Context, secret string) (APIKey, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (APIKey, error) {
		rec, err := single(ctx, tx, `MATCH (k:ApiKey {hash: $hash}) RETURN `+apiKeyColumns,
			map[string]any{"hash": access.Hash(secret)})
		if err != nil {
			return APIKey{}, err
		}
		if rec == nil {
			return APIKey{}, ErrUnknownKey
		}
		k := decodeAPIKey(rec)
		if k.Revoked {
			return APIKey{}, ErrRevokedKey
		}
		return k, nil
	})
}

// APIKeys lists a project's keys, oldest first.
func (s *Store) APIKeys(ctx context.Context, project string) ([]APIKey, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]APIKey, error) {
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
	_, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
		rec, err := single(ctx, tx, `MATCH (k:ApiKey {project: $project, id: $id}) SET k.revoked = true RETURN k.id AS id`,
			map[string]any{"project": project, "id": id})
		if err != nil || rec == nil {
			return noResult{}, orNotFound(err, "apiKey", id)
		}
		return noResult{}, nil
	})
	return err
}

// KeyRef names an API key.
type KeyRef struct{ Project, ID string }

// RevokedKeys returns those of the keys that are revoked or gone, so that
// a replica can drop what it remembers of them and close their websockets.
func (s *Store) RevokedKeys(ctx context.Context, keys []KeyRef) ([]KeyRef, error) {
	rows := make([]map[string]any, len(keys))
	for i, k := range keys {
		rows[i] = map[string]any{"project": k.Project, "id": k.ID}
	}
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]KeyRef, error) {
		recs, err := collect(ctx, tx, `UNWIND $rows AS r
			OPTIONAL MATCH (k:ApiKey {project: r.project, id: r.id})
			WITH r, k WHERE k IS NULL OR k.revoked
			RETURN r.project AS project, r.id AS id`, map[string]any{"rows": rows})
		var out []KeyRef
		for _, rec := range recs {
			out = append(out, KeyRef{Project: str(rec, "project"), ID: str(rec, "id")})
		}
		return out, err
	})
}
