package main

import (
	"os"
	"regexp"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestComposeFileMatchesTheLocalSetup checks docker-compose.yml, which
// cannot run here (no Docker engine): it parses, names both services, and
// runs the same Neo4j version that scripts/neo4j/pom.xml installs.
func TestComposeFileMatchesTheLocalSetup(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       string            `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	pom, err := os.ReadFile("../../scripts/neo4j/pom.xml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<neo4j.version>(.+)</neo4j.version>`).FindSubmatch(pom)
	if m == nil {
		t.Fatal("no neo4j.version in scripts/neo4j/pom.xml")
	}
	if got, want := compose.Services["neo4j"].Image, "neo4j:"+string(m[1])+"-community"; got != want {
		t.Errorf("neo4j image = %q, want %q (the version the tests run against)", got, want)
	}
	svc, ok := compose.Services["multicontact"]
	if !ok || svc.Build == "" {
		t.Fatalf("no multicontact service built from the Dockerfile")
	}
	for _, k := range []string{"NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "MULTICONTACT_ADDR"} {
		if svc.Environment[k] == "" {
			t.Errorf("multicontact service does not set %s", k)
		}
	}
	if _, err := os.Stat("../../Dockerfile"); err != nil {
		t.Errorf("Dockerfile: %v", err)
	}
}
