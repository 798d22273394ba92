package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
)

// fuzzService is the HTTP handler of `serve`, built as the service builds
// it (middleware, limits, auth, GraphQL) against the test Neo4j, with a
// fresh project and its ADMIN key.
type fuzzService struct {
	handler      http.Handler
	store        *graph.Store
	project, key string
}

func startFuzzService(tb testing.TB) *fuzzService {
	tb.Helper()
	graphtest.Require(tb)
	m := NewServeMain(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	getenv := func(k string) string {
		if k == "MULTICONTACT_ADMIN_TOKEN" {
			return testAdminToken
		}
		return os.Getenv(k)
	}
	if err := m.ParseFlags([]string{"-addr", "127.0.0.1:0"}, getenv); err != nil {
		tb.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	s := &fuzzService{handler: m.server.Handler, store: graphtest.Store(tb),
		project: fmt.Sprintf("fuzz-%d-%d", time.Now().UnixNano(), projectSeq.Add(1))}
	must := func(key, query string, vars map[string]any) json.RawMessage {
		status, raw := s.post(key, "application/json", mustJSON(map[string]any{"query": query, "variables": vars}))
		var out gqlResponse
		if err := json.Unmarshal(raw, &out); err != nil || status != http.StatusOK || len(out.Errors) > 0 {
			tb.Fatalf("%s: %d %s", firstLine(query), status, raw)
		}
		return out.Data
	}
	must(testAdminToken, `mutation($id: ID!) { createProject(input: {id: $id, name: "Fuzz", defaultRegion: "RU"}) { id } }`,
		map[string]any{"id": s.project})
	var key struct{ CreateApiKey struct{ Secret string } }
	if err := json.Unmarshal(must(testAdminToken, `mutation($p: ID!) { createApiKey(projectId: $p, role: ADMIN) { secret } }`,
		map[string]any{"p": s.project}), &key); err != nil {
		tb.Fatal(err)
	}
	s.key = key.CreateApiKey.Secret
	for _, f := range []string{"phone", "email"} {
		must(s.key, `mutation($p: ID!, $f: [String!]!) { addRule(projectId: $p, input: {name: "by", fields: $f}) { id } }`,
			map[string]any{"p": s.project, "f": []string{f}})
	}
	must(s.key, upsert, map[string]any{"p": s.project, "in": map[string]any{"id": "c1", "channel": map[string]any{"kind": "web", "account": "a"},
		"attributes": []map[string]any{{"field": "email", "value": "c1@example.com"}, {"field": "phone", "value": "+79161234567"}}}})
	for deadline := time.Now().Add(30 * time.Second); ; {
		p, err := s.store.Project(context.Background(), s.project)
		if err == nil && p.Resolution.State == "IDLE" {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the project is not IDLE: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// post sends body to /graphql with the key, through the whole handler.
func (s *fuzzService) post(key, contentType string, body []byte) (int, []byte) {
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// state is what a change of the project would change: the last event's
// number and every client with its values and multi-contact.
func (s *fuzzService) state(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	seq, err := s.store.LastSeq(ctx, s.project)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.store.DumpProject(ctx, s.project)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(seq, d.Clients, d.Links)
}

// The fixed mutations of FuzzGraphQL, by mode (1 to 3): a single root field
// whose selections take no arguments, so that an answer with errors means
// the mutation did not apply. Mode 0 posts the fuzzed bytes as the body.
var fuzzMutations = []string{
	1: `mutation($p: ID!, $c: ID!, $f: String!, $v: String!, $s: Source, $ver: Boolean) {
		setAttribute(projectId: $p, clientId: $c, field: $f, value: $v, source: $s, verified: $ver) { accepted normalized error { field code message } }
	}`,
	2: `mutation($p: ID!, $in: ClientInput!) { upsertClient(projectId: $p, input: $in) { id } }`,
	3: `mutation($p: ID!, $c: ID!, $f: String!, $v: String!) { removeAttribute(projectId: $p, clientId: $c, field: $f, value: $v) { id } }`,
}

// FuzzGraphQL posts arbitrary bodies, and arbitrary variables of a few
// fixed mutations, to the service's GraphQL endpoint with the key of a
// fresh project ("@P@" in the input stands for the project's id). Whatever
// comes in, the answer is not a 5xx, it is JSON, every error carries
// extensions.code, none is INTERNAL, and an answer with errors changed
// nothing: for the fixed mutations (and a setAttribute refused in its
// answer) whatever the error, for other bodies when no field ran (errors
// without a path: parse, validation, limits, auth).
func FuzzGraphQL(f *testing.F) {
	if testing.Short() {
		f.Skip("needs Neo4j")
	}
	s := startFuzzService(f)
	raw := func(query string, vars string) []byte {
		return []byte(`{"query":` + string(mustJSON(query)) + `,"variables":` + vars + `}`)
	}
	big := strings.Repeat("я", 1<<19)
	for _, b := range [][]byte{
		raw(`query($p: ID!) { project(id: $p) { id name rules { fields } resolution { state } } }`, `{"p":"@P@"}`),
		raw(`{ client(projectId: "@P@", id: "c1") { id attributes { field value } multiContact { id size } } }`, `{}`),
		raw(`mutation { setAttribute(projectId: "@P@", clientId: "c1", field: "email", value: "x") { accepted error { code } } }`, `null`),
		raw(`mutation { a: setAttribute(projectId: "@P@", clientId: "c1", field: "fax", value: "1") { accepted } }`, `{}`),
		raw(`{ project(id: "other") { id } }`, `{}`),
		raw(`{ client(projectId: "@P@", id: "c1") { multiContact { clients { nodes { multiContact { clients { nodes { multiContact { clients { nodes { multiContact { clients { nodes { id } } } } } } } } } } } } }`, `{}`),
		raw(`{ events(projectId: "@P@", first: 99999999999999999999) { edges { cursor } } }`, `{}`),
		raw(`{ events(projectId: "@P@", first: -1, after: "\u0000") { edges { cursor } } }`, `{}`),
		raw(`{ __schema { types { name } } }`, `{}`),
		raw(`subscription { multiContactChanged(projectId: "@P@") { type } }`, `{}`),
		raw(`{ project(id: "@P@") { id } } { project(id: "@P@") { id } }`, `{}`),
		raw(`query A { project(id: "@P@") { id } } query B { project(id: "@P@") { name } }`, `{}`),
		raw(`fragment F on Project { ...F } { project(id: "@P@") { ...F } }`, `{}`),
		raw(strings.Repeat("{", 5000)+strings.Repeat("}", 5000), `{}`),
		raw(`{ project(id: "@P@") { id } }`, `{"p": `+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}`),
		[]byte(`{"query":"{ project(id: \"@P@\") { id } }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"00"}}}`),
		[]byte(`{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"}}}`),
		[]byte(`[{"query":"{ project(id: \"@P@\") { id } }"}]`),
		[]byte(`{"query": 42}`), []byte(`{"query":"{ project(id: \"@P@\") { id } }","colour":"red"}`),
		[]byte(`{"query":"\xff\xfe"}`), []byte("{\"query\":\"{ project(id: \\\"@P@\\\") { id } }\"}\xff"),
		[]byte(`null`), []byte(``), []byte(`{`), []byte(`"query"`),
		raw(`mutation { upsertClient(projectId: "@P@", input: {id: "`+big+`", channel: {kind: "web", account: "a"}}) { id } }`, `{}`),
		raw(`mutation { upsertClient(projectId: "@P@", input: {id: "c2", channel: {kind: "web", account: "a"}, attributes: [{field: "email", value: "a@b.c"}, {field: "email", value: "a@b.c"}]}) { id } }`, `{}`),
	} {
		f.Add(uint8(0), b)
	}
	for _, v := range []string{
		`{"p":"@P@","c":"c1","f":"email","v":"User@Example.COM"}`,
		`{"p":"@P@","c":"c1","f":"phone","v":"8 (916) 123-45-67","s":"WIDGET","ver":true}`,
		`{"p":"@P@","c":"c1","f":"phone","v":"12345"}`,
		`{"p":"@P@","c":"c1","f":"email","v":"\xff\xfe@example.com"}`,
		`{"p":"@P@","c":"c1","f":"email","v":"\ud800@example.com"}`,
		`{"p":"@P@","c":"c1","f":"email","v":"a@b.c","ver":1e999}`,
		`{"p":"@P@","c":"c1","f":"email","v":12345678901234567890123456789}`,
		`{"p":"@P@","c":"c1","f":"email","v":{"nested":[[[[[[[[]]]]]]]]}}`,
		`{"p":"@P@","c":"c1","f":"email","v":"a@b.c","s":"NOPE"}`,
		`{"p":"@P@","c":"nobody","f":"email","v":"a@b.c"}`,
		`{"p":"other","c":"c1","f":"email","v":"a@b.c"}`,
		`{"p":"@P@","c":"c1","f":"email","v":"a@b.c","unknown":1}`,
		`{"p":"@P@","c":"c1","f":"email"}`, `{}`, `null`, `[]`, `{`, `"x"`,
		`{"p":"@P@","c":"c1","f":"email","v":"` + big + `"}`,
	} {
		f.Add(uint8(1), []byte(v))
		f.Add(uint8(3), []byte(v))
	}
	for _, v := range []string{
		`{"p":"@P@","in":{"id":"c2","channel":{"kind":"telegram","account":"main"},"attributes":[{"field":"phone","value":"+7 916 123 45 67"}]}}`,
		`{"p":"@P@","in":{"id":"c1","channel":{"kind":"telegram","account":"main"}}}`,
		`{"p":"@P@","in":{"id":"c3","channel":{"kind":"Tele Gram","account":"main"}}}`,
		`{"p":"@P@","in":{"id":"c3","channel":{"kind":"web","account":"a"},"attributes":[{"field":"email","value":"x"}],"colour":"red"}}`,
		`{"p":"@P@","in":{"id":"","channel":{"kind":"web","account":""}}}`,
		`{"p":"@P@","in":{"id":"c3","channel":{"kind":"web","account":"a"},"attributes":` + strings.Repeat(`[`, 3000) + strings.Repeat(`]`, 3000) + `}}`,
		`{"p":"@P@","in":{"id":"` + big + `","channel":{"kind":"web","account":"a"}}}`,
	} {
		f.Add(uint8(2), []byte(v))
	}
	f.Fuzz(func(t *testing.T, mode uint8, input []byte) {
		mode %= uint8(len(fuzzMutations))
		input = bytes.ReplaceAll(input, []byte("@P@"), []byte(s.project))
		body := input
		if mode > 0 {
			body = []byte(`{"query":` + string(mustJSON(fuzzMutations[mode])) + `,"variables":` + string(input) + `}`)
		}
		before := s.state(t)
		status, answer := s.post(s.key, "application/json", body)
		if status >= 500 {
			t.Fatalf("HTTP %d for %.300q: %.300s", status, body, answer)
		}
		var out struct {
			Data   json.RawMessage
			Errors []struct {
				Message    string
				Path       []any
				Extensions map[string]any
			}
		}
		if err := json.Unmarshal(answer, &out); err != nil || !bytes.HasPrefix(bytes.TrimSpace(answer), []byte("{")) ||
			(len(out.Errors) == 0 && len(out.Data) == 0) {
			t.Fatalf("HTTP %d for %.300q: the answer is not a GraphQL JSON object: %.300s", status, body, answer)
		}
		ran := false // a field ran: its errors have a path
		for _, e := range out.Errors {
			code, _ := e.Extensions["code"].(string)
			switch code {
			case "":
				t.Fatalf("HTTP %d for %.300q: an error without extensions.code: %.300s", status, body, answer)
			case "INTERNAL":
				t.Fatalf("HTTP %d for %.300q: INTERNAL: %.300s", status, body, answer)
			case "UNAVAILABLE":
				return // Neo4j did not answer in time: the write may still apply
			}
			ran = ran || len(e.Path) > 0
		}
		var set struct{ SetAttribute *struct{ Accepted bool } }
		refused := mode == 1 && len(out.Errors) == 0 && json.Unmarshal(out.Data, &set) == nil &&
			set.SetAttribute != nil && !set.SetAttribute.Accepted
		if (len(out.Errors) > 0 && (mode > 0 || !ran)) || refused {
			if after := s.state(t); after != before {
				t.Fatalf("HTTP %d for %.300q answered errors %.300s, but the project changed:\nbefore %.500s\nafter  %.500s", status, body, answer, before, after)
			}
		}
	})
}

// FuzzImport posts arbitrary NDJSON to the service's import path with a
// fresh project's key ("@P@" stands for the project's id): lines over
// 1 MB, invalid UTF-8 across lines, anything. The answer is never a 5xx;
// with 200 it is NDJSON whose every refused line names its line and
// carries a coded error with a field and a message, and whose last line is
// the summary, never INTERNAL; an import that applied no line changed
// nothing.
func FuzzImport(f *testing.F) {
	if testing.Short() {
		f.Skip("needs Neo4j")
	}
	s := startFuzzService(f)
	client := `{"op":"client","eventId":"e1","id":"c9","channel":{"kind":"web","account":"a"},"attributes":[{"field":"email","value":"c9@example.com"}]}`
	attr := `{"op":"attribute","client":"c1","field":"phone","value":"8 916 123-45-67"}`
	big := strings.Repeat("я", 1<<19)
	for _, b := range []string{
		client + "\n" + attr + "\n",
		attr, "\n\n\n", "", "{", "null\n[]\n42\n",
		`{"op":"attribute","client":"c1","field":"email","value":"\xff\xfe"}` + "\n" + `{"op":"attribute","client":"c1","field":"email","value":"a\xff` + "\n" + `b@example.com"}`,
		"\xff\xfe\n\xef\xbb\xbf" + attr + "\r\n",
		`{"op":"removeAttribute","client":"nobody","field":"email","value":"x@y.z"}`,
		`{"op":"conversation","client":"c1","id":"k1","summary":"hi","startedAt":"2024-01-01T00:00:00Z"}`,
		`{"op":"attribute","client":"c1","field":"fax","value":"1","colour":"red"}`,
		`{"op":"attribute","client":"c1","field":"email","value":"` + big + `"}`,
		`{"op":"attribute","client":"c1","field":"email","value":"` + big + big + `"}` + "\n" + attr,
		attr + "\n" + strings.Repeat("x", 1<<20+10) + "\n" + attr,
		`{"op":"client","id":"c9","channel":{"kind":"web","account":"a"},"attributes":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
	} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		body = bytes.ReplaceAll(body, []byte("@P@"), []byte(s.project))
		before := s.state(t)
		req := httptest.NewRequest(http.MethodPost, "/projects/"+s.project+"/import", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.key)
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		answer := rec.Body.Bytes()
		if rec.Code >= 500 {
			t.Fatalf("HTTP %d for %.300q: %.300s", rec.Code, body, answer)
		}
		if rec.Code != http.StatusOK {
			return
		}
		lines := bytes.Split(bytes.TrimRight(answer, "\n"), []byte("\n"))
		for _, l := range lines[:len(lines)-1] {
			var r struct {
				Line  int
				Error *struct{ Field, Code, Message string }
			}
			if err := json.Unmarshal(l, &r); err != nil || r.Line <= 0 || r.Error == nil || r.Error.Field == "" || r.Error.Code == "" || r.Error.Message == "" {
				t.Fatalf("import of %.300q: a refused line without its line number and a coded error: %.300s", body, l)
			}
		}
		var sum struct {
			Summary *struct {
				Applied   int
				ErrorCode string
			}
		}
		if err := json.Unmarshal(lines[len(lines)-1], &sum); err != nil || sum.Summary == nil {
			t.Fatalf("import of %.300q: no summary at the end: %.300s", body, answer)
		}
		if code := sum.Summary.ErrorCode; code == "INTERNAL" {
			t.Fatalf("import of %.300q: the summary says INTERNAL: %.300s", body, answer)
		}
		if sum.Summary.Applied == 0 {
			if after := s.state(t); after != before {
				t.Fatalf("import of %.300q applied no line, but the project changed:\nbefore %.500s\nafter  %.500s", body, before, after)
			}
		}
	})
}
