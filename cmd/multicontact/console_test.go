package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph/graphtest"
)

// TestConsoleInBrowser drives the console at /console in headless Chromium
// (console/test/e2e.mjs, playwright-core) against the real service and Neo4j,
// clicking every action the console offers: sign-in, a rule added after its
// preview, a quarantined key allowed, lookup by a differently typed phone and
// search by name, a merge arriving live, explainLink by mouse and keyboard,
// links, blocks and exclusions made and undone, the history, a person
// forgotten, and the console in Russian; axe-core audits every view it
// passes (WCAG 2.1 AA). scripts/console-deps.sh installs what it needs. CONSOLE_SCREENSHOTS=docs/screenshots (relative to
// the repository) refreshes the committed screenshots.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped under -short")
	}
	graphtest.Require(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	chromium := "/usr/bin/chromium"
	if c := os.Getenv("CHROMIUM"); c != "" {
		chromium = c
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("%s is missing: run the tests with `make test`, or scripts/console-deps.sh first (it installs Debian's chromium)", chromium)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is missing: the console's browser test needs Node.js 20+; `make test` runs scripts/console-deps.sh")
	}
	for _, pkg := range []string{"playwright-core", "axe-core"} { // the browser's driver, the accessibility audit
		if _, err := os.Stat(filepath.Join(root, "console", "node_modules", pkg)); err != nil {
			t.Fatalf("console/node_modules/%s is missing: run the tests with `make test`, or scripts/console-deps.sh first (npm ci in console/)", pkg)
		}
	}

	a := startAPI(t) // fails naming `make test` when no Neo4j is configured
	p := a.project()
	seedConsole(a, p)

	shots := os.Getenv("CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots, err = os.MkdirTemp("", "console-shots-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if !t.Failed() {
				os.RemoveAll(shots)
			}
		})
	} else if !filepath.IsAbs(shots) {
		shots = filepath.Join(root, shots)
	}

	cmd := exec.CommandContext(t.Context(), node, filepath.Join(root, "console", "test", "e2e.mjs"))
	cmd.Dir = filepath.Join(root, "console")
	cmd.Env = append(os.Environ(),
		"CONSOLE_URL="+a.url,
		"CONSOLE_PROJECT="+p.id,
		"CONSOLE_ADMIN_KEY="+p.admin,
		"CONSOLE_WRITE_KEY="+p.write,
		"CONSOLE_SHOTS="+shots,
		"CHROMIUM="+chromium,
	)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("console/test/e2e.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the browser test failed (%v); screenshots in %s", err, shots)
	}
}

// seedConsole gives the project people to find: Anna on three channels (by
// phone and email), Boris on two not yet linked, two Carls sharing a contract
// number that no rule uses yet, a client with nothing in common, three Danas
// whose shared e-mail is over the key cap (2) and so quarantined, and 21
// guests, one more than a page of search results.
func seedConsole(a *api, p testProject) {
	a.t.Helper()
	type attr struct{ field, value string }
	put := func(id, kind, name string, attrs ...attr) {
		var as []map[string]any
		for _, x := range attrs {
			as = append(as, map[string]any{"field": x.field, "value": x.value, "source": "INTEGRATION"})
		}
		a.ok(p.write, upsert, map[string]any{"p": p.id, "in": map[string]any{"id": id, "displayName": name,
			"channel": map[string]any{"kind": kind, "account": "acme"}, "channelUserId": id + "-user", "attributes": as}}, nil)
	}
	var rules struct {
		Project struct {
			Rules []struct {
				ID     string
				Fields []string
			}
		}
	}
	a.ok(p.read, `query($p: ID!) { project(id: $p) { rules { id fields } } }`, map[string]any{"p": p.id}, &rules)
	for _, r := range rules.Project.Rules {
		a.ok(p.admin, `mutation($p: ID!, $r: ID!, $in: RuleInput!) { updateRule(projectId: $p, ruleId: $r, input: $in) { id } }`,
			map[string]any{"p": p.id, "r": r.ID, "in": map[string]any{"name": "Same " + strings.Join(r.Fields, " and "), "fields": r.Fields}}, nil)
	}
	a.ok(p.admin, `mutation($p: ID!) { updateProjectSettings(projectId: $p, input: {keyCap: 2}) { id } }`, map[string]any{"p": p.id}, nil)
	a.waitIdle(p)
	put("tg-anna", "telegram", "Anna Petrova", attr{"phone", "+7 916 123-45-67"}, attr{"email", "anna@example.com"})
	put("web-anna", "web", "Anna (site)", attr{"email", "Anna@Example.com"})
	put("wa-anna", "whatsapp", "Anna P.", attr{"phone", "89161234567"})
	put("vk-boris", "vk", "Boris", attr{"phone", "+7 903 555-00-11"})
	put("tg-boris", "telegram", "Boris T", attr{"skype", "boris.t"})
	put("web-carl", "web", "Carl", attr{"contract", "C-1001"})
	put("vk-carl", "vk", "Carl K", attr{"contract", "C-1001"})
	put("web-solo", "web", "Visitor 7")
	put("web-dana", "web", "Dana Smirnova", attr{"email", "dana@example.com"})
	put("tg-dana", "telegram", "Dana S", attr{"email", "dana@example.com"})
	put("vk-dana", "vk", "Dana", attr{"email", "DANA@example.com"})
	for i := 1; i <= 21; i++ {
		put(fmt.Sprintf("web-guest-%d", i), "web", fmt.Sprintf("Guest %d", i))
	}
	const conv = `mutation($p: ID!, $c: ID!, $in: ConversationInput!) { recordConversation(projectId: $p, clientId: $c, input: $in) { id } }`
	now := time.Now().UTC()
	for i, c := range []struct{ client, summary string }{
		{"tg-anna", "Asked about the delivery of order 5521"},
		{"wa-anna", "Changed the delivery address"},
		{"web-anna", "Chat from the site: return policy"},
	} {
		at := now.Add(-time.Duration(3-i) * time.Hour)
		a.ok(p.write, conv, map[string]any{"p": p.id, "c": c.client, "in": map[string]any{"id": "conv-" + c.client,
			"startedAt": at.Add(-10 * time.Minute).Format(time.RFC3339), "lastMessageAt": at.Format(time.RFC3339), "summary": c.summary}}, nil)
	}
	a.waitIdle(p)
}
