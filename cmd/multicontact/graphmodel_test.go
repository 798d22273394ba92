package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/graph/graphtest"
)

// readmeModel is the graph model that README.md documents for analysts:
// its table of nodes and its list of relationships.
type readmeModel struct {
	props    map[string][]string // label -> every property named in its row
	relProps map[string][]string // type -> properties
	patterns []string            // "(:Client)-[:VIA]->(:Channel)"
}

var (
	backticked = regexp.MustCompile("`([^`]+)`")
	relLine    = regexp.MustCompile("`\\(:(\\w+)\\)-\\[:(\\w+)(?: \\{([^}]*)\\})?\\]->\\(:(\\w+)\\)`")
)

func readReadmeModel(t *testing.T) readmeModel {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "## The graph, for analysts")
	if start < 0 {
		t.Fatal(`README.md has no section "The graph, for analysts"`)
	}
	section := text[start:]
	if end := strings.Index(section[2:], "\n## "); end > 0 {
		section = section[:end+2]
	}
	m := readmeModel{props: map[string][]string{}, relProps: map[string][]string{}}
	for _, line := range strings.Split(section, "\n") {
		if cells := strings.Split(line, "|"); len(cells) == 5 && strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			label := strings.Trim(strings.TrimSpace(cells[1]), "`")
			for _, b := range backticked.FindAllStringSubmatch(cells[2]+cells[3], -1) {
				m.props[label] = append(m.props[label], b[1])
			}
			if _, ok := m.props[label]; !ok {
				m.props[label] = []string{}
			}
		}
		for _, r := range relLine.FindAllStringSubmatch(line, -1) {
			m.patterns = append(m.patterns, "(:"+r[1]+")-[:"+r[2]+"]->(:"+r[4]+")")
			m.relProps[r[2]] = []string{}
			for _, p := range strings.Split(r[3], ",") {
				if p = strings.TrimSpace(p); p != "" {
					m.relProps[r[2]] = append(m.relProps[r[2]], p)
				}
			}
		}
	}
	if len(m.props) == 0 || len(m.relProps) == 0 {
		t.Fatalf("README.md's graph section documents no node (%d) or no relationship (%d)", len(m.props), len(m.relProps))
	}
	return m
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestGraphModelIsTheReadmes populates a project through the API (an
// import with event ids and a conversation, merges, a manual link, a
// removed client, a custom field, keys of every role, an identity secret,
// a cap change, a webhook and its first attempt) and compares what Neo4j
// holds with README.md's model: the labels and relationship types,
// db.labels() and db.relationshipTypes(),
// the properties of every node and relationship, which node carries
// `project`, and which labels a relationship joins.
func TestGraphModelIsTheReadmes(t *testing.T) {
	model := readReadmeModel(t)
	a := startAPI(t)
	p := a.project()
	vars := map[string]any{"p": p.id}
	a.ok(p.admin, `mutation($p: ID!) { defineField(projectId: $p, input: {key: "loyaltyCard", label: "Loyalty card", type: ID}) { key } }`, vars, nil)
	a.ok(p.admin, `mutation($p: ID!) { rotateIdentitySecret(projectId: $p) }`, vars, nil)
	// A webhook to a public address that answers nobody here: its first
	// attempt is recorded when it is claimed, whatever happens to it.
	var hook createdWebhook
	a.ok(p.admin, createWebhook, map[string]any{"p": p.id, "url": "https://192.0.2.1/crm", "events": []string{"CREATED", "MERGED"}}, &hook)
	a.deleteWebhookAtEnd(p, hook.CreateWebhook.Webhook.ID)
	status, lines := a.postImport(p.write, p.id, `{"op":"client","eventId":"e1","id":"tg-1","channel":{"kind":"telegram","account":"main"},"channelUserId":"555","displayName":"Anna","attributes":[{"field":"phone","value":"8 916 123-45-67"}]}
{"op":"client","eventId":"e2","id":"wa-1","channel":{"kind":"whatsapp","account":"main"},"attributes":[{"field":"email","value":"anna@example.com"}]}
{"op":"attribute","eventId":"e3","client":"wa-1","field":"phone","value":"+7 916 123 45 67"}
{"op":"conversation","eventId":"e4","client":"tg-1","id":"conv-1","startedAt":"2025-06-01T12:00:00Z","lastMessageAt":"2025-06-01T12:10:00Z","summary":"Delivery"}
{"op":"client","eventId":"e5","id":"vk-1","channel":{"kind":"vk","account":"main"},"attributes":[{"field":"loyaltyCard","value":"L-1"}]}
{"op":"client","eventId":"e6","id":"web-1","channel":{"kind":"web","account":"widget"}}
{"op":"client","eventId":"e7","id":"gone-1","channel":{"kind":"web","account":"widget"}}
`)
	if status != 200 || len(lines) == 0 || lines[len(lines)-1]["summary"] == nil {
		t.Fatalf("import = %d %v", status, lines)
	}
	a.ok(p.write, `mutation($p: ID!) { linkClients(projectId: $p, a: "vk-1", b: "web-1") { id } }`, vars, nil)
	a.ok(p.write, `mutation($p: ID!) { removeClient(projectId: $p, clientId: "gone-1") }`, vars, nil)
	a.ok(p.admin, `mutation($p: ID!) { updateProjectSettings(projectId: $p, input: {keyCap: 40}) { id } }`, vars, nil)
	a.waitIdle(p)
	eventually(t, 30*time.Second, "a webhook attempt", func() bool {
		var d struct {
			WebhookDeliveries struct{ Nodes []struct{ Attempt int } }
		}
		a.ok(p.admin, `query($p: ID!, $w: ID!) { webhookDeliveries(projectId: $p, webhookId: $w) { nodes { attempt } } }`,
			map[string]any{"p": p.id, "w": hook.CreateWebhook.Webhook.ID}, &d)
		return len(d.WebhookDeliveries.Nodes) > 0
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	driver := graphtest.Driver(t)
	query := func(q string) []*neo4j.Record {
		t.Helper()
		res, err := neo4j.ExecuteQuery(ctx, driver, q, map[string]any{"p": p.id}, neo4j.EagerResultTransformer)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return res.Records
	}
	str := func(rec *neo4j.Record, key string) string {
		t.Helper()
		v, _, err := neo4j.GetRecordValue[string](rec, key)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	strs := func(rec *neo4j.Record, key string) []string {
		t.Helper()
		vs, _, err := neo4j.GetRecordValue[[]any](rec, key)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = fmt.Sprint(v)
		}
		sort.Strings(out)
		return out
	}

	// Labels and types of the project, with the properties seen on them,
	// label by label (every label the database has, documented or not).
	var dbLabels, dbTypes []string
	for _, rec := range query(`CALL db.labels() YIELD label RETURN label`) {
		dbLabels = append(dbLabels, str(rec, "label"))
	}
	for _, rec := range query(`CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType`) {
		dbTypes = append(dbTypes, str(rec, "relationshipType"))
	}
	seenProps, seenRelProps, seenPatterns := map[string][]string{}, map[string][]string{}, []string{}
	for _, label := range dbLabels {
		for _, rec := range query("MATCH (n:`" + label + "`) WHERE n.project = $p OR (n:Project AND n.id = $p)\n" +
			"UNWIND keys(n) AS key RETURN collect(DISTINCT key) AS keys, count(n) > 0 AS some") {
			if some, _, _ := neo4j.GetRecordValue[bool](rec, "some"); some {
				seenProps[label] = strs(rec, "keys")
			}
		}
		for _, rec := range query("MATCH (a:`" + label + "`)-[r]->(b) WHERE a.project = $p\n" +
			"UNWIND CASE WHEN size(keys(r)) = 0 THEN [null] ELSE keys(r) END AS key\n" +
			"RETURN type(r) AS type, '(:' + labels(a)[0] + ')-[:' + type(r) + ']->(:' + labels(b)[0] + ')' AS pattern, collect(DISTINCT key) AS keys") {
			typ := str(rec, "type")
			for _, k := range strs(rec, "keys") {
				if !slices.Contains(seenRelProps[typ], k) {
					seenRelProps[typ] = append(seenRelProps[typ], k)
				}
			}
			if seenRelProps[typ] == nil {
				seenRelProps[typ] = []string{}
			}
			seenPatterns = append(seenPatterns, str(rec, "pattern"))
		}
	}
	if got, want := keysOf(seenProps), keysOf(model.props); !slices.Equal(got, want) {
		t.Errorf("labels in the project: %v\nREADME.md documents: %v", got, want)
	}
	if got, want := keysOf(seenRelProps), keysOf(model.relProps); !slices.Equal(got, want) {
		t.Errorf("relationship types in the project: %v\nREADME.md documents: %v", got, want)
	}
	for _, pattern := range seenPatterns {
		if !slices.Contains(model.patterns, pattern) {
			t.Errorf("the project has %s, which README.md's relationships do not show", pattern)
		}
	}
	for label, keys := range seenProps {
		for _, k := range keys {
			if !slices.Contains(model.props[label], k) {
				t.Errorf("%s nodes have property %q, which README.md's table does not name", label, k)
			}
		}
	}
	for typ, keys := range seenRelProps {
		for _, k := range keys {
			if !slices.Contains(model.relProps[typ], k) {
				t.Errorf("%s relationships have property %q, which README.md does not name", typ, k)
			}
		}
	}

	// "Every node but Project carries project."
	for _, rec := range query(`MATCH (p:Project {id: $p}) RETURN p.project IS NULL AS none`) {
		if none, _, _ := neo4j.GetRecordValue[bool](rec, "none"); !none {
			t.Error("the Project node carries project, which README.md says it does not")
		}
	}
	for label := range model.props {
		if label != "Project" && !slices.Contains(model.props[label], "project") {
			t.Errorf("README.md's table does not name project among %s's keys", label)
		}
	}

	// The database as a whole: nothing but the documented labels and types,
	// apart from what graph/'s own tests make for a moment.
	testOnly := []string{"LockProbe"} // graph/retry_test.go, deleted at its end
	for _, c := range []struct {
		what       string
		db, model  []string
		extraKinds []string
	}{
		{"db.labels()", dbLabels, keysOf(model.props), testOnly},
		{"db.relationshipTypes()", dbTypes, keysOf(model.relProps), nil},
	} {
		for _, x := range c.model {
			if !slices.Contains(c.db, x) {
				t.Errorf("%s lacks %s, which README.md documents", c.what, x)
			}
		}
		for _, x := range c.db {
			if !slices.Contains(c.model, x) && !slices.Contains(c.extraKinds, x) {
				t.Errorf("%s has %s, which README.md does not document", c.what, x)
			}
		}
	}
}
