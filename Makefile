# The README's two promises: `make run` runs the service, `make test` passes the tests.
# Both start a local Neo4j (scripts/neo4j.sh) unless NEO4J_URI is set.

GO ?= go

.PHONY: test run build check generate generate-check console console-check bench soak neo4j-stop cypher

## test: gofmt, vet, generated code up to date, then every test (browser tests included) with the race detector against a throw-away Neo4j.
## Packages run one at a time (-p 1): a store that opens resumes every project it finds RUNNING, so test binaries
## running at once would re-resolve each other's projects in the middle of a test.
## -timeout 30m: the race detector on a slow 2-core machine can take a package past go test's 10-minute default.
test: check
	scripts/console-deps.sh
	scripts/with-neo4j.sh test $(GO) test -race -count=1 -p 1 -timeout 30m ./...

## check: the static checks, no Neo4j needed
check: generate-check
	@unformatted=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

## generate-check: generated code is what `go generate ./...` makes from the schema
generate-check:
	$(GO) generate ./...
	@git diff --quiet -- resolver schema.graphqls && test -z "$$(git status --porcelain -- resolver)" || \
		{ echo "generated code is stale: run 'make generate' and commit"; git status --short -- resolver; exit 1; }

## run: the service on MULTICONTACT_ADDR (127.0.0.1:8080), with the local dev Neo4j (left running)
run:
	scripts/with-neo4j.sh dev $(GO) run ./cmd/multicontact serve

## build: the binary in bin/
build:
	$(GO) build -o bin/multicontact ./cmd/multicontact

## console: rebuild the embedded console (console/dist) from console/src
console:
	cd console && npm ci && npm run build

## console-check: console/dist is what its sources build
console-check: console
	@git diff --quiet -- console/dist && test -z "$$(git status --porcelain -- console/dist)" || \
		{ echo "console/dist is stale: run 'make console' and commit"; git status --short -- console/dist; exit 1; }

## generate: regenerate generated code
generate:
	$(GO) generate ./...

## bench: the benchmark (Neo4j's own ceiling first, then import, re-resolution, writes, contended writers, lookups, each as a ratio to the ceiling; memory, oracle check) on a throw-away Neo4j with more memory, or on NEO4J_URI's server when set (CLIENTS=1000000 for the full run)
CLIENTS ?= 100000
bench: build
	NEO4J_HEAP=$${NEO4J_HEAP:-3g} NEO4J_PAGECACHE=$${NEO4J_PAGECACHE:-4g} NEO4J_TX_MEMORY=$${NEO4J_TX_MEMORY:-2g} \
		scripts/with-neo4j.sh bench bin/multicontact bench --clients $(CLIENTS) --out bench-result.md

## soak: DURATION (1h) of mixed load on the service (API writers on shared values, imports, a subscriber), killed with SIGKILL
## and restarted every KILL_EVERY (60s), then checked: nothing acknowledged lost, the oracle's multi-contacts, every event once;
## one table, and a failure if anything was lost or differs. On a throw-away Neo4j, or on NEO4J_URI's server when set.
DURATION ?= 1h
KILL_EVERY ?= 60s
soak: build
	scripts/with-neo4j.sh test bin/multicontact soak -duration $(DURATION) -kill-every $(KILL_EVERY)

## cypher: cypher-shell on the dev Neo4j that `make run` uses, started if needed (ARGS passes cypher-shell's arguments)
cypher:
	scripts/cypher-shell $(ARGS)

## neo4j-stop: stop the dev Neo4j that `make run` left running
neo4j-stop:
	scripts/neo4j.sh stop dev
