package graph

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/keyring"
	"github.com/multicontact/multicontact/webhook"
)

// storedSecret is what whoever reads the graph sees of a project's identity secret.
func storedSecret(t *testing.T, s *Store, project string) (plain, sealed string) {
	t.Helper()
	rec, err := readTx(context.Background(), s, func(tx neo4j.ManagedTransaction) (*neo4j.Record, error) {
		return single(context.Background(), tx, `MATCH (p:Project {id: $id})
			RETURN coalesce(p.identitySecret, '') AS plain, coalesce(p.identitySecretSealed, '') AS sealed`, map[string]any{"id": project})
	})
	if err != nil {
		t.Fatal(err)
	}
	return str(rec, "plain"), str(rec, "sealed")
}

func ring(t *testing.T, keys ...string) *keyring.Keyring {
	t.Helper()
	k, err := keyring.Parse(strings.Join(keys, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestIdentitySecretsAreSealedAtRestAndSurviveKeyRotation: a plaintext
// secret of an older version keeps working and is sealed at start; a new
// one is stored only sealed; after a key rotation (new key first, old one
// kept) secrets still open and are sealed again under the new key, so the
// old key can go.
func TestIdentitySecretsAreSealedAtRestAndSurviveKeyRotation(t *testing.T) {
	if os.Getenv("NEO4J_URI") == "" {
		if testing.Short() {
			t.Skip("no Neo4j under -short")
		}
		t.Fatal("NEO4J_URI is not set: run the tests with `make test`, which starts a local Neo4j")
	}
	ctx := context.Background()
	s, err := Open(ctx, Config{URI: os.Getenv("NEO4J_URI"), User: os.Getenv("NEO4J_USER"), Password: os.Getenv("NEO4J_PASSWORD"),
		Database: os.Getenv("NEO4J_DATABASE")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(ctx) })
	legacy := fmt.Sprintf("secret%d", time.Now().UnixNano())
	fresh := legacy + "b"
	for _, id := range []string{legacy, fresh} {
		if _, err := s.CreateProject(ctx, id, "", "RU"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.autocommit(ctx, `MATCH (p:Project {id: $id}) SET p.identitySecret = 'plain-old-secret'`, map[string]any{"id": legacy}); err != nil {
		t.Fatal(err)
	}
	a, b := keyring.Generate(), keyring.Generate()
	ringA := ring(t, a)

	if got, err := s.IdentitySecret(ctx, legacy, ringA); err != nil || got != "plain-old-secret" {
		t.Fatalf("a plaintext secret before sealing = %q, %v", got, err)
	}
	if _, err := s.SealIdentitySecrets(ctx, ringA); err != nil {
		t.Fatal(err)
	}
	plain, sealed := storedSecret(t, s, legacy)
	if plain != "" || sealed == "" || strings.Contains(sealed, "plain-old-secret") {
		t.Errorf("after sealing the graph holds plain %q, sealed %q", plain, sealed)
	}
	if got, err := s.IdentitySecret(ctx, legacy, ringA); err != nil || got != "plain-old-secret" {
		t.Errorf("the sealed secret = %q, %v", got, err)
	}
	secret, err := s.RotateIdentitySecret(ctx, fresh, ringA)
	if err != nil {
		t.Fatal(err)
	}
	if plain, sealed := storedSecret(t, s, fresh); plain != "" || strings.Contains(sealed, secret) {
		t.Errorf("a new secret is stored as plain %q, sealed %q", plain, sealed)
	}

	// Rotation: the new key first, the old one kept to decrypt.
	rotated := ring(t, b, a)
	for id, want := range map[string]string{legacy: "plain-old-secret", fresh: secret} {
		if got, err := s.IdentitySecret(ctx, id, rotated); err != nil || got != want {
			t.Errorf("%s under the rotated keys = %q, %v", id, got, err)
		}
	}
	if _, err := s.SealIdentitySecrets(ctx, rotated); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{legacy: "plain-old-secret", fresh: secret} {
		if got, err := s.IdentitySecret(ctx, id, ring(t, b)); err != nil || got != want {
			t.Errorf("%s with the new key alone = %q, %v", id, got, err)
		}
		if _, err := s.IdentitySecret(ctx, id, ringA); !errors.Is(err, ErrSecretUnreadable) {
			t.Errorf("%s with the old key alone: %v, want ErrSecretUnreadable", id, err)
		}
	}
}

// A webhook's signing secret, sealed under the key of its day, is sealed
// again under the new key at a rotation, so that the old key can go and
// the webhook still signs.
func TestWebhookSecretsSurviveKeyRotation(t *testing.T) {
	s := replica(t)
	ctx := context.Background()
	project := fmt.Sprintf("hooksecret%d", time.Now().UnixNano())
	if _, err := s.CreateProject(ctx, project, "", "RU"); err != nil {
		t.Fatal(err)
	}
	a, b := keyring.Generate(), keyring.Generate()
	hook, secret, err := s.CreateWebhook(ctx, project, "https://crm.example.com/hook", nil, ring(t, a))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.SealWebhookSecrets(ctx, ring(t, b, a)); err != nil || n < 1 {
		t.Fatalf("sealing again under the new key: %d, %v", n, err)
	}
	rec, err := readTx(ctx, s, func(tx neo4j.ManagedTransaction) (*neo4j.Record, error) {
		return single(ctx, tx, `MATCH (w:Webhook {project: $p, id: $id}) RETURN w.secretSealed AS sealed`,
			map[string]any{"p": project, "id": hook.ID})
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := ring(t, b).Open(str(rec, "sealed"), webhook.SecretContext(webhook.Ref{Project: project, ID: hook.ID}))
	if err != nil || got != secret {
		t.Errorf("the webhook's secret with the new key alone: %q, %v", got, err)
	}
}
