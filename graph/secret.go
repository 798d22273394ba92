package graph

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/webhook"
)

// Sealer encrypts the secrets that the store keeps, under keys kept outside
// Neo4j, so that whoever reads the graph does not read them (package
// keyring implements it). context is authenticated with the value: a sealed
// value opens only for the project and property it was sealed for.
type Sealer interface {
	Seal(plaintext, context string) (string, error)
	// Open decrypts; stale says the value was sealed under an older key.
	Open(sealed, context string) (plaintext string, stale bool, err error)
}

// identitySecretContext binds a project's sealed identity secret to it.
func identitySecretContext(project string) string { return "project/" + project + "/identitySecret" }

// RotateIdentitySecret gives the project a new identity secret, with which
// the business's server signs widget user tokens, and returns it. Only its
// sealed form is stored (Project.identitySecretSealed); the old one, and
// any plaintext left from before sealing, is gone.
func (s *Store) RotateIdentitySecret(ctx context.Context, project string, sealer Sealer) (string, error) {
	secret := rand.Text() + rand.Text()
	sealed, err := sealer.Seal(secret, identitySecretContext(project))
	if err != nil {
		return "", fmt.Errorf("seal the identity secret: %w", err)
	}
	_, err = writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id})
			SET p.identitySecretSealed = $sealed REMOVE p.identitySecret
			RETURN p.id AS id`, map[string]any{"id": project, "sealed": sealed})
		if err != nil || rec == nil {
			return noResult{}, orNotFound(err, "project", project)
		}
		return noResult{}, nil
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// ErrSecretUnreadable says that a project's identity secret was sealed
// under a key that is not configured (any more): rotate it.
var ErrSecretUnreadable = errors.New("the identity secret was sealed under a key that is not configured")

// IdentitySecret returns the project's identity secret, "" when none was
// made. A secret stored in the clear by an older version is returned as it
// is (SealIdentitySecrets seals it).
func (s *Store) IdentitySecret(ctx context.Context, project string, sealer Sealer) (string, error) {
	rec, err := readTx(ctx, s, func(tx neo4j.ManagedTransaction) (*neo4j.Record, error) {
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id})
			RETURN coalesce(p.identitySecretSealed, '') AS sealed, coalesce(p.identitySecret, '') AS plain`,
			map[string]any{"id": project})
		if err != nil || rec == nil {
			return nil, orNotFound(err, "project", project)
		}
		return rec, nil
	})
	if err != nil {
		return "", err
	}
	if sealed := str(rec, "sealed"); sealed != "" {
		secret, _, err := sealer.Open(sealed, identitySecretContext(project))
		if err != nil {
			return "", fmt.Errorf("project %s: %w (%v)", project, ErrSecretUnreadable, err)
		}
		return secret, nil
	}
	return str(rec, "plain"), nil
}

// SealIdentitySecrets seals every identity secret still stored in the
// clear and seals again those sealed under an older key, so that the older
// key can be dropped; it returns how many it changed. The service runs it
// at start. A secret whose key is not configured is left as it is.
func (s *Store) SealIdentitySecrets(ctx context.Context, sealer Sealer) (int, error) {
	secrets, err := readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]secretAtRest, error) {
		recs, err := collect(ctx, tx, `MATCH (p:Project)
			WHERE p.identitySecret IS NOT NULL OR p.identitySecretSealed IS NOT NULL
			RETURN p.id AS id, coalesce(p.identitySecretSealed, '') AS sealed, coalesce(p.identitySecret, '') AS plain`, nil)
		out := make([]secretAtRest, len(recs))
		for i, rec := range recs {
			project := str(rec, "id")
			out[i] = secretAtRest{context: identitySecretContext(project), sealed: str(rec, "sealed"), plain: str(rec, "plain"),
				save: `MATCH (p:Project {id: $id}) WHERE coalesce(p.identitySecretSealed, '') = $was
					SET p.identitySecretSealed = $sealed REMOVE p.identitySecret`,
				params: map[string]any{"id": project},
				lost: func() {
					s.log.Warn("an identity secret cannot be opened with the configured keys; rotate it", "project", project)
				}}
		}
		return out, err
	})
	if err != nil {
		return 0, err
	}
	return s.reseal(ctx, sealer, secrets)
}

// SealWebhookSecrets seals again, under the current key, the webhooks'
// signing secrets sealed under an older one, as SealIdentitySecrets does
// for identity secrets: without it, dropping the older key would leave
// every webhook made before the rotation unable to sign its deliveries.
// The service runs it at start; it returns how many it changed.
func (s *Store) SealWebhookSecrets(ctx context.Context, sealer Sealer) (int, error) {
	secrets, err := readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]secretAtRest, error) {
		recs, err := collect(ctx, tx, `MATCH (w:Webhook) WHERE w.secretSealed IS NOT NULL
			RETURN w.project AS project, w.id AS id, w.secretSealed AS sealed`, nil)
		out := make([]secretAtRest, len(recs))
		for i, rec := range recs {
			ref := webhook.Ref{Project: str(rec, "project"), ID: str(rec, "id")}
			out[i] = secretAtRest{context: webhook.SecretContext(ref), sealed: str(rec, "sealed"),
				save: `MATCH (w:Webhook {project: $project, id: $id}) WHERE w.secretSealed = $was
					SET w.secretSealed = $sealed`,
				params: map[string]any{"project": ref.Project, "id": ref.ID},
				lost: func() {
					s.log.Warn("a webhook's secret cannot be opened with the configured keys; create the webhook again",
						"project", ref.Project, "webhook", ref.ID)
				}}
		}
		return out, err
	})
	if err != nil {
		return 0, err
	}
	return s.reseal(ctx, sealer, secrets)
}

// secretAtRest is one secret as the graph keeps it: sealed, or in the
// clear (written by an older version). save stores it sealed anew from
// params, $sealed and $was (what was read), and changes nothing if someone
// rotated it meanwhile.
type secretAtRest struct {
	context, sealed, plain string
	save                   string
	params                 map[string]any
	lost                   func() // its key is not configured
}

// reseal seals under the current key each secret still in the clear or
// sealed under an older key, and returns how many it changed.
func (s *Store) reseal(ctx context.Context, sealer Sealer, secrets []secretAtRest) (int, error) {
	n := 0
	for _, sec := range secrets {
		plain := sec.plain
		if sec.sealed != "" {
			opened, stale, err := sealer.Open(sec.sealed, sec.context)
			if err != nil {
				sec.lost()
				continue
			}
			if !stale && sec.plain == "" {
				continue
			}
			plain = opened
		}
		sealed, err := sealer.Seal(plain, sec.context)
		if err != nil {
			return n, err
		}
		params := maps.Clone(sec.params)
		params["was"], params["sealed"] = sec.sealed, sealed
		if _, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
			return noResult{}, exec(ctx, tx, sec.save, params)
		}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
