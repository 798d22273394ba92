package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/graph/graphtest"
)

// The documentation's examples run as written, so that they cannot drift
// from the service: every fenced block of README.md and docs/api.md whose
// info string says `doctest` runs, in the files' order, against a running
// service and the test Neo4j.
//
//	```sh doctest                    curl commands (sent as Go requests; a
//	                                 2xx answer without GraphQL errors or
//	                                 refused import lines), `export` of the
//	                                 variables below, and
//	                                 `scripts/with-neo4j.sh dev go run
//	                                 ./cmd/multicontact ARGS` (run in-process)
//	```json doctest file=NAME        a file that the commands name
//	```graphql doctest               POSTed to /graphql with $KEY; no errors
//	```json doctest answer           contained in the previous answer ("x..."
//	                                 stands for any string starting with x)
//	```cypher doctest                run with $project and $client ("tg-123"),
//	                                 without error or warning, naming only
//	                                 properties that the project has
//
// The project "acme" becomes a fresh id, localhost:8080 the test server,
// $MULTICONTACT_ADMIN_TOKEN its admin token, and $KEY the secret of the
// first key that an answer shows.
var docFiles = []string{"../../README.md", "../../docs/api.md"}

// docBlock is one fenced block marked doctest.
type docBlock struct {
	where string // file:line of the fence
	lang  string
	attrs map[string]string
	text  string
}

var fence = regexp.MustCompile("^```(\\w+)[ \\t]+doctest\\b(.*)$")

func readDocBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []docBlock
	var cur *docBlock
	for i, line := range strings.Split(string(data), "\n") {
		switch {
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		case fence.MatchString(line):
			m := fence.FindStringSubmatch(line)
			b := docBlock{where: fmt.Sprintf("%s:%d", filepath.Base(path), i+1), lang: m[1], attrs: map[string]string{}}
			for _, f := range strings.Fields(m[2]) {
				k, v, _ := strings.Cut(f, "=")
				b.attrs[k] = v
			}
			cur = &b
		}
	}
	if cur != nil {
		t.Fatalf("%s: the block never closes", cur.where)
	}
	return blocks
}

// docRun is the state that the blocks share as they run.
type docRun struct {
	t        *testing.T
	a        *api
	project  string
	client   string
	dir      string // where the blocks' files are written
	files    map[string]bool
	vars     map[string]string
	last     any    // the previous answer, for an answer block
	lastFrom string // the block that got it
	driver   neo4j.DriverWithContext
}

func TestDocExamples(t *testing.T) {
	a := startAPI(t)
	driver := graphtest.Driver(t)
	r := &docRun{t: t, a: a, project: fmt.Sprintf("docs-%d", time.Now().UnixNano()), client: "tg-123",
		dir: t.TempDir(), files: map[string]bool{}, vars: map[string]string{"MULTICONTACT_ADMIN_TOKEN": testAdminToken},
		driver: driver}
	ran := map[string]int{}
	for _, path := range docFiles {
		blocks := readDocBlocks(t, path)
		if len(blocks) == 0 {
			t.Fatalf("%s has no doctest block", path)
		}
		for _, b := range blocks {
			r.run(b)
			ran[b.lang]++
		}
	}
	for _, lang := range []string{"sh", "json", "graphql", "cypher"} {
		if ran[lang] == 0 {
			t.Errorf("no %s doctest block ran; the markers went missing?", lang)
		}
	}
}

func (r *docRun) run(b docBlock) {
	r.t.Helper()
	text := strings.NewReplacer("acme", r.project, "localhost:8080", strings.TrimPrefix(r.a.url, "http://")).Replace(b.text)
	switch {
	case b.lang == "sh":
		r.shell(b, text)
	case b.lang == "json" && b.attrs["file"] != "":
		name := b.attrs["file"]
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(text), 0o600); err != nil {
			r.t.Fatal(err)
		}
		r.files[name] = true
	case b.lang == "json" && hasAttr(b, "answer"):
		r.answer(b, text)
	case b.lang == "graphql":
		r.graphql(b, text)
	case b.lang == "cypher":
		r.cypher(b, text)
	default:
		r.t.Fatalf("%s: no way to run a %s doctest block %v", b.where, b.lang, b.attrs)
	}
}

func hasAttr(b docBlock, name string) bool {
	_, ok := b.attrs[name]
	return ok
}

var exportLine = regexp.MustCompile(`^export (\w+)=`)

// shell runs the commands of a sh block, one logical line at a time.
func (r *docRun) shell(b docBlock, text string) {
	r.t.Helper()
	for _, line := range strings.Split(strings.ReplaceAll(text, "\\\n", " "), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if m := exportLine.FindStringSubmatch(line); m != nil {
			// The service under test has its own value already.
			if _, ok := r.vars[m[1]]; !ok {
				r.t.Fatalf("%s: export of %s, which the doc test does not know", b.where, m[1])
			}
			continue
		}
		words, err := shellWords(line, r.vars)
		if err != nil {
			r.t.Fatalf("%s: %s: %v", b.where, line, err)
		}
		prefix := []string{"scripts/with-neo4j.sh", "dev", "go", "run", "./cmd/multicontact"}
		switch {
		case words[0] == "curl":
			r.curl(b, words[1:])
		case len(words) > len(prefix) && slices.Equal(words[:len(prefix)], prefix):
			r.command(b, words[len(prefix):])
		default:
			r.t.Fatalf("%s: %q: the doc test runs curl and scripts/with-neo4j.sh dev go run ./cmd/multicontact only", b.where, words[0])
		}
	}
}

// shellWords splits a command line as sh would: quotes, backslashes and
// $VAR / ${VAR} from vars; anything more (pipes, $(...)) is refused.
func shellWords(line string, vars map[string]string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	expand := func(s string) (string, int, error) { // s starts with '$'
		name, n := "", 0
		if strings.HasPrefix(s, "${") {
			end := strings.IndexByte(s, '}')
			if end < 0 {
				return "", 0, errors.New("unterminated ${")
			}
			name, n = s[2:end], end+1
		} else {
			m := regexp.MustCompile(`^\$(\w+)`).FindStringSubmatch(s)
			if m == nil {
				return "", 0, fmt.Errorf("cannot expand %.10q", s)
			}
			name, n = m[1], len(m[0])
		}
		v, ok := vars[name]
		if !ok {
			return "", 0, fmt.Errorf("$%s is not set by an earlier example", name)
		}
		return v, n, nil
	}
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
			i++
		case c == '#' && !inWord:
			i = len(line)
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated '")
			}
			cur.WriteString(line[i+1 : i+1+end])
			inWord, i = true, i+end+2
		case c == '"':
			for i++; i < len(line) && line[i] != '"'; {
				switch {
				case line[i] == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0:
					cur.WriteByte(line[i+1])
					i += 2
				case line[i] == '$':
					v, n, err := expand(line[i:])
					if err != nil {
						return nil, err
					}
					cur.WriteString(v)
					i += n
				default:
					cur.WriteByte(line[i])
					i++
				}
			}
			if i >= len(line) {
				return nil, errors.New(`unterminated "`)
			}
			inWord, i = true, i+1
		case c == '\\' && i+1 < len(line):
			cur.WriteByte(line[i+1])
			inWord, i = true, i+2
		case c == '$':
			v, n, err := expand(line[i:])
			if err != nil {
				return nil, err
			}
			cur.WriteString(v)
			inWord, i = true, i+n
		case strings.IndexByte("|;&<>()`", c) >= 0:
			return nil, fmt.Errorf("%q: the doc test runs plain commands, no shell", c)
		default:
			cur.WriteByte(c)
			inWord, i = true, i+1
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("no command")
	}
	return words, nil
}

// curl sends what the curl command would, and checks the answer.
func (r *docRun) curl(b docBlock, args []string) {
	r.t.Helper()
	method, target := "", ""
	var body []byte
	header := http.Header{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch arg {
		case "-s", "--silent", "-S", "--show-error":
			continue
		}
		if i+1 >= len(args) && strings.HasPrefix(arg, "-") {
			r.t.Fatalf("%s: curl %s needs a value", b.where, arg)
		}
		switch arg {
		case "-X", "--request":
			i++
			method = args[i]
		case "-H", "--header":
			i++
			name, value, ok := strings.Cut(args[i], ":")
			if !ok {
				r.t.Fatalf("%s: curl header %q", b.where, args[i])
			}
			header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		case "-d", "--data", "--data-binary", "--data-raw":
			i++
			data := []byte(args[i])
			if arg != "--data-raw" && strings.HasPrefix(args[i], "@") {
				data = r.file(b, args[i][1:])
				if arg != "--data-binary" { // as curl does for -d @file
					data = []byte(strings.NewReplacer("\r", "", "\n", "").Replace(string(data)))
				}
			}
			body = append(body, data...)
		default:
			if strings.HasPrefix(arg, "-") {
				r.t.Fatalf("%s: curl option %s is not known to the doc test", b.where, arg)
			}
			target = arg
		}
	}
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	if method == "" {
		method = http.MethodGet
		if body != nil {
			method = http.MethodPost
		}
	}
	if body != nil && header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/x-www-form-urlencoded") // curl's default
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		r.t.Fatalf("%s: %v", b.where, err)
	}
	req.Header = header
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s: %v", b.where, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		r.t.Fatalf("%s: curl %s %s = %d %s", b.where, method, req.URL.Path, res.StatusCode, raw)
	}
	if strings.HasSuffix(req.URL.Path, "/import") {
		r.importAnswer(b, raw)
		return
	}
	r.keep(b, raw)
}

// importAnswer checks an import's answer: no refused line, a summary.
func (r *docRun) importAnswer(b docBlock, raw []byte) {
	r.t.Helper()
	summary := false
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			r.t.Fatalf("%s: import answered %q: %v", b.where, sc.Text(), err)
		}
		if _, ok := line["summary"]; !ok {
			r.t.Errorf("%s: the import refused a line: %s", b.where, sc.Text())
		}
		summary = true
		r.last, r.lastFrom = line, b.where
	}
	if !summary {
		r.t.Fatalf("%s: the import answered no summary: %s", b.where, raw)
	}
}

// keep checks a GraphQL answer, keeps it for an answer block and takes
// $KEY from the first key secret it shows.
func (r *docRun) keep(b docBlock, raw []byte) {
	r.t.Helper()
	var res struct {
		Data   map[string]any `json:"data"`
		Errors []gqlError     `json:"errors"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		r.t.Fatalf("%s: answer %s: %v", b.where, raw, err)
	}
	if len(res.Errors) > 0 {
		r.t.Fatalf("%s: errors %+v", b.where, res.Errors)
	}
	if err := json.Unmarshal(raw, &r.last); err != nil {
		r.t.Fatal(err)
	}
	r.lastFrom = b.where
	if key, ok := res.Data["createApiKey"].(map[string]any); ok && r.vars["KEY"] == "" {
		if secret, _ := key["secret"].(string); secret != "" {
			r.vars["KEY"] = secret
		}
	}
}

// file is a file that an earlier block wrote.
func (r *docRun) file(b docBlock, name string) []byte {
	r.t.Helper()
	if !r.files[name] {
		r.t.Fatalf("%s: %s is not a file of an earlier block (```json doctest file=%s)", b.where, name, name)
	}
	data, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		r.t.Fatal(err)
	}
	return data
}

// command runs a multicontact subcommand in-process.
func (r *docRun) command(b docBlock, args []string) {
	r.t.Helper()
	args = slices.Clone(args)
	for i, a := range args {
		if r.files[a] {
			args[i] = filepath.Join(r.dir, a)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out lockedBuffer // (logs_test.go) the log and the progress write at once
	if err := Run(ctx, args, &out, &out); err != nil {
		r.t.Fatalf("%s: multicontact %s: %v\n%s", b.where, strings.Join(args, " "), err, out.String())
	}
}

func (r *docRun) graphql(b docBlock, text string) {
	r.t.Helper()
	key := r.vars["KEY"]
	if key == "" {
		r.t.Fatalf("%s: no $KEY yet: an earlier example must create a key", b.where)
	}
	body, _ := json.Marshal(map[string]string{"query": text})
	req, _ := http.NewRequest(http.MethodPost, r.a.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s: %v", b.where, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		r.t.Fatalf("%s: POST /graphql = %d %s", b.where, res.StatusCode, raw)
	}
	r.keep(b, raw)
}

func (r *docRun) answer(b docBlock, text string) {
	r.t.Helper()
	if r.last == nil {
		r.t.Fatalf("%s: an answer with no call before it", b.where)
	}
	var want any
	if err := json.Unmarshal([]byte(text), &want); err != nil {
		r.t.Fatalf("%s: the answer is not JSON: %v", b.where, err)
	}
	if path, ok := containsJSON(r.last, want, "$"); !ok {
		got, _ := json.Marshal(r.last)
		r.t.Errorf("%s: %s answered %s, which differs from the documented answer at %s", b.where, r.lastFrom, got, path)
	}
}

// containsJSON reports whether got has everything that want has (objects may
// have more keys; a string "x..." stands for any string starting with x),
// or else where it differs.
func containsJSON(got, want any, path string) (string, bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path, false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return path + "." + k, false
			}
			if p, ok := containsJSON(gv, wv, path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return path, false
		}
		for i := range w {
			if p, ok := containsJSON(g[i], w[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	case string:
		g, ok := got.(string)
		if prefix, cut := strings.CutSuffix(w, "..."); cut {
			return path, ok && strings.HasPrefix(g, prefix)
		}
		return path, ok && g == w
	default:
		return path, got == want
	}
}

// cypherProperty finds the property keys that a query names: x.key and
// {key: ...} in patterns.
var cypherProperty = regexp.MustCompile(`\b[a-z]\w*\.([a-zA-Z]\w*)\b|[{,]\s*([a-zA-Z]\w*)\s*:`)

func (r *docRun) cypher(b docBlock, text string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Neo4j warns about a property key that no node or relationship of the
	// database has ever had, as on a fresh server: the query may name only
	// properties that this project, made by the examples before, has.
	keys, err := neo4j.ExecuteQuery(ctx, r.driver, `
		CALL { MATCH (n {project: $project}) UNWIND keys(n) AS k RETURN k
			UNION MATCH (n {project: $project})-[rel]-() UNWIND keys(rel) AS k RETURN k
			UNION MATCH (p:Project {id: $project}) UNWIND keys(p) AS k RETURN k }
		RETURN collect(DISTINCT k) AS keys`, map[string]any{"project": r.project}, neo4j.EagerResultTransformer)
	if err != nil {
		r.t.Fatal(err)
	}
	have, _, err := neo4j.GetRecordValue[[]any](keys.Records[0], "keys")
	if err != nil {
		r.t.Fatal(err)
	}
	for _, m := range cypherProperty.FindAllStringSubmatch(text, -1) {
		key := m[1] + m[2]
		if !slices.Contains(have, any(key)) {
			r.t.Errorf("%s: the query names property %q, which a project made by the examples above does not have: on a fresh server Neo4j warns that it does not exist", b.where, key)
		}
	}
	res, err := neo4j.ExecuteQuery(ctx, r.driver, text, map[string]any{"project": r.project, "client": r.client},
		neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithReadersRouting())
	if err != nil {
		r.t.Fatalf("%s: %v", b.where, err)
	}
	for _, n := range res.Summary.Notifications() {
		if n.RawSeverityLevel() == "WARNING" {
			r.t.Errorf("%s: Neo4j warns: %s: %s", b.where, n.Title(), n.Description())
		}
	}
	if len(res.Records) == 0 && !strings.Contains(text, "WHERE clients > 5") {
		r.t.Errorf("%s: no row for project %s, client %s", b.where, r.project, r.client)
	}
}

// TestShellWords checks the doc test's reading of command lines.
func TestShellWords(t *testing.T) {
	vars := map[string]string{"KEY": "k 1"}
	for _, c := range []struct {
		line string
		want []string
	}{
		{`curl -s localhost:8080/x -H "Authorization: Bearer $KEY"`, []string{"curl", "-s", "localhost:8080/x", "-H", "Authorization: Bearer k 1"}},
		{`a '{"q":"\"x\""}' b\ c ${KEY}d # comment`, []string{"a", `{"q":"\"x\""}`, "b c", "k 1d"}},
		{`a "x\"y\\z"`, []string{"a", `x"y\z`}},
	} {
		got, err := shellWords(c.line, vars)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("shellWords(%q) = %q, %v; want %q", c.line, got, err, c.want)
		}
	}
	for _, bad := range []string{`a | b`, `echo $(date)`, `a $NOPE`, `a 'open`} {
		if got, err := shellWords(bad, vars); err == nil {
			t.Errorf("shellWords(%q) = %q, want an error", bad, got)
		}
	}
}

// TestKeepAliveFromEnvironment: -keep-alive, like every flag of serve, has
// its MULTICONTACT_ variable.
func TestKeepAliveFromEnvironment(t *testing.T) {
	m := NewServeMain(slog.New(slog.NewTextHandler(io.Discard, nil)))
	env := map[string]string{"NEO4J_URI": "bolt://127.0.0.1:1", "MULTICONTACT_KEEP_ALIVE": "7s"}
	if err := m.ParseFlags(nil, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if m.KeepAlive != 7*time.Second {
		t.Errorf("KeepAlive with MULTICONTACT_KEEP_ALIVE=7s = %v", m.KeepAlive)
	}
	if err := m.ParseFlags([]string{"-keep-alive", "3s"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if m.KeepAlive != 3*time.Second {
		t.Errorf("KeepAlive with -keep-alive 3s over the variable = %v", m.KeepAlive)
	}
}

// TestGETAllowsOnlyQueries: a query may come with GET; a mutation sent with
// GET is refused with a code, like every error, and 405.
func TestGETAllowsOnlyQueries(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	get := func(query string) (int, gqlResponse) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, a.url+"/graphql?"+url.Values{"query": {query}}.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+p.admin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out gqlResponse
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, out
	}
	status, res := get(fmt.Sprintf(`{ project(id: %q) { id } }`, p.id))
	if status != http.StatusOK || len(res.Errors) > 0 {
		t.Errorf("GET query = %d %+v, want 200 without errors", status, res.Errors)
	}
	status, res = get(fmt.Sprintf(`mutation { upsertClient(projectId: %q, input: {id: "get-1", channel: {kind: "telegram", account: "a"}}) { id } }`, p.id))
	if status != http.StatusMethodNotAllowed || res.code() != "BAD_USER_INPUT" || res.Errors[0].Extensions["reason"] != "GET_ALLOWS_ONLY_QUERIES" {
		t.Errorf("GET mutation = %d %+v, want 405 BAD_USER_INPUT GET_ALLOWS_ONLY_QUERIES", status, res.Errors)
	}
	var out struct{ Client *struct{ ID string } }
	a.ok(p.read, `query($p: ID!) { client(projectId: $p, id: "get-1") { id } }`, map[string]any{"p": p.id}, &out)
	if out.Client != nil {
		t.Error("the mutation refused over GET wrote its client")
	}
}
