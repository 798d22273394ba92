package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph/graphtest"
)

// neo4jHTTP is the HTTP address of the test Neo4j: NEO4J_HTTP_URL (set by
// scripts/with-neo4j.sh), or else Bolt's port + 1 on Bolt's host, which is
// how scripts/neo4j.sh lays out every instance.
func neo4jHTTP(t *testing.T) string {
	t.Helper()
	graphtest.Require(t)
	if u := os.Getenv("NEO4J_HTTP_URL"); u != "" {
		return strings.TrimSuffix(u, "/")
	}
	bolt, err := url.Parse(os.Getenv("NEO4J_URI"))
	if err != nil {
		t.Fatalf("NEO4J_URI: %v", err)
	}
	port, err := strconv.Atoi(bolt.Port())
	if err != nil {
		port = 7687
	}
	return "http://" + net.JoinHostPort(bolt.Hostname(), strconv.Itoa(port+1))
}

// TestNeo4jBrowserLoads opens Neo4j Browser where the README sends
// analysts: scripts/neo4j.sh installs its jar with the server's, and the
// server serves it at /browser/ on its HTTP port.
func TestNeo4jBrowserLoads(t *testing.T) {
	base := neo4jHTTP(t) + "/browser/"
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(u string) (*http.Response, []byte) {
		t.Helper()
		res, err := client.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v (set NEO4J_HTTP_URL when Neo4j's HTTP port is not Bolt's + 1)", u, err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		return res, body
	}
	res, page := get(base)
	if res.StatusCode != http.StatusOK || !bytes.Contains(page, []byte("<title>Neo4j Browser</title>")) {
		t.Fatalf("GET %s = %d, %.200q; want Neo4j Browser's page (is the neo4j-browser jar among the server's jars? scripts/neo4j/pom.xml)",
			base, res.StatusCode, page)
	}
	// The page is nothing without its scripts: fetch every one it names.
	scripts := regexp.MustCompile(`<script[^>]+src="([^"]+\.js)"`).FindAllSubmatch(page, -1)
	if len(scripts) == 0 {
		t.Fatalf("Neo4j Browser's page names no script: %.500q", page)
	}
	for _, m := range scripts {
		u := base + strings.TrimPrefix(string(m[1]), "./")
		if res, body := get(u); res.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s = %d (%d bytes), want the script", u, res.StatusCode, len(body))
		}
	}
}

// TestCypherShellWrapper runs scripts/cypher-shell as the README shows it,
// with a parameter, against the test Neo4j (it follows NEO4J_URI).
func TestCypherShellWrapper(t *testing.T) {
	graphtest.Require(t)
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatal("java is needed for cypher-shell (make test and .ci/run install it)")
	}
	cmd := exec.Command("../../scripts/cypher-shell", "-P", "{project: 'cypher-shell-test'}", "--format", "plain",
		"RETURN $project AS project, 6 * 7 AS answer")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/cypher-shell: %v\n%s", err, stderr.String())
	}
	if got, want := strings.TrimSpace(stdout.String()), "project, answer\n\"cypher-shell-test\", 42"; got != want {
		t.Errorf("scripts/cypher-shell printed %q, want %q", got, want)
	}
}
