package main

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestComposeFileMatchesTheLocalSetup checks docker-compose.yml, which
// cannot run here (no Docker engine): it parses, runs the same Neo4j
// version that scripts/neo4j/pom.xml installs, and two replicas of the
// service built from the Dockerfile behind that one Neo4j, on two host
// ports, with the same settings and the same secret key
// (docs/operations.md, "Running beyond one machine").
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
			Ports       []string          `yaml:"ports"`
			DependsOn   map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
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
	var replicas []string
	for name, svc := range compose.Services {
		if svc.Build != "" {
			replicas = append(replicas, name)
		}
	}
	sort.Strings(replicas)
	if len(replicas) < 2 {
		t.Fatalf("services built from the Dockerfile: %v, want two replicas", replicas)
	}
	first := compose.Services[replicas[0]]
	hostPorts := map[string]string{}
	for _, name := range replicas {
		svc := compose.Services[name]
		for _, k := range []string{"NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "MULTICONTACT_ADDR", "MULTICONTACT_SECRET_KEY"} {
			if svc.Environment[k] == "" {
				t.Errorf("%s does not set %s", name, k)
			}
		}
		if !strings.Contains(svc.Environment["NEO4J_URI"], "//neo4j:") {
			t.Errorf("%s: NEO4J_URI %q, want the neo4j service", name, svc.Environment["NEO4J_URI"])
		}
		if fmt.Sprint(svc.Environment) != fmt.Sprint(first.Environment) {
			t.Errorf("%s and %s differ in their environment: replicas share one Neo4j and one secret key", name, replicas[0])
		}
		if svc.DependsOn["neo4j"].Condition != "service_healthy" {
			t.Errorf("%s does not wait for Neo4j to be healthy", name)
		}
		if len(svc.Ports) != 1 {
			t.Errorf("%s publishes %v, want one port", name, svc.Ports)
			continue
		}
		host := svc.Ports[0][:strings.LastIndex(svc.Ports[0], ":")]
		if other, ok := hostPorts[host]; ok {
			t.Errorf("%s and %s both publish %s", name, other, host)
		}
		hostPorts[host] = name
	}
	if _, err := os.Stat("../../Dockerfile"); err != nil {
		t.Errorf("Dockerfile: %v", err)
	}
}
