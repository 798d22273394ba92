package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// upsertClient with one malformed identifier writes the client with the
// others and names the refused one in extensions.warnings; its answer keeps
// its type.
func TestUpsertClientAnswersRefusedValuesAsWarnings(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	body, _ := json.Marshal(map[string]any{"query": upsert, "variables": map[string]any{"p": p.id, "in": map[string]any{
		"id": "tg-1", "channel": map[string]any{"kind": "telegram", "account": "acme"},
		"attributes": []map[string]any{{"field": "phone", "value": "12345"}, {"field": "email", "value": "Anna@Example.com"}}}}})
	req, _ := http.NewRequest(http.MethodPost, a.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.write)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out struct {
		Data struct {
			UpsertClient struct{ ID string }
		}
		Errors     []gqlError
		Extensions struct {
			Warnings []struct{ Field, Code, Message string }
		}
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	w := out.Extensions.Warnings
	if len(out.Errors) > 0 || out.Data.UpsertClient.ID != "tg-1" || len(w) != 1 || w[0].Field != "phone" || w[0].Code != "INVALID_PHONE" || w[0].Message == "" {
		t.Fatalf("answer = %s; want the client and one INVALID_PHONE warning on phone", raw)
	}
	var got struct {
		Client struct {
			Attributes []struct{ Field, Value string }
		}
	}
	a.ok(p.read, `query($p: ID!) { client(projectId: $p, id: "tg-1") { attributes { field value } } }`, map[string]any{"p": p.id}, &got)
	if len(got.Client.Attributes) != 1 || got.Client.Attributes[0].Value != "anna@example.com" {
		t.Errorf("stored attributes = %+v, want only the e-mail", got.Client.Attributes)
	}
}
