package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// searchIndex is the full-text index over what a person is searched by:
// clients' display names and values (identifiers). It holds every project;
// the project is both a clause of the Lucene query, by its searchToken (so
// the index's own top hits are the project's), and a filter of the Cypher
// (so no other project's node can come through).
const searchIndex = "client_search"

// searchToken is a project as one word of the search index. The index's
// analyzer splits an id at its dashes and folds its case: by its id,
// "acme" would share a word with "acme-eu" and be one with "Acme", and a
// search of one would compete with the other's clients for its first
// hits. Clients and values carry it (searchToken) from their creation.
func searchToken(project string) string {
	sum := sha256.Sum256([]byte(project))
	return "p" + hex.EncodeToString(sum[:16])
}

// searchIndexSchema creates searchIndex (see schema in store.go). The
// index is eventually consistent: a commit hands its changes to a
// background queue instead of updating Lucene itself, which took about 5 ms
// of every write that adds a value or a name (five times a small commit).
// A search waits for that queue first (SearchClients), so it still finds
// every write committed before it.
const searchIndexSchema = "CREATE FULLTEXT INDEX " + searchIndex + " IF NOT EXISTS FOR (n:Client|Value) ON EACH [n.searchToken, n.displayName, n.value]" +
	" OPTIONS {indexConfig: {`fulltext.eventually_consistent`: true}}"

// migrateSearchIndex drops searchIndex when an earlier version created it
// updated at commit, or over the project's id instead of its searchToken,
// so that searchIndexSchema creates it anew (Neo4j cannot change an index
// in place); in the second case it first gives every client and value
// its project's token. Neo4j fills the new index in the background.
func (s *Store) migrateSearchIndex(ctx context.Context) error {
	res, err := s.schemaQuery(ctx, `SHOW FULLTEXT INDEXES YIELD name, options, properties WHERE name = $name
		RETURN coalesce(options.indexConfig['fulltext.eventually_consistent'], false) AS eventual,
			'searchToken' IN properties AS tokens`,
		map[string]any{"name": searchIndex})
	if err != nil {
		return err
	}
	if len(res.Records) == 0 {
		// A new database (nothing to do), or one whose index an earlier
		// start dropped and did not create again: its nodes may lack tokens.
		return s.giveSearchTokens(ctx)
	}
	eventual, _ := res.Records[0].Get("eventual")
	tokens, _ := res.Records[0].Get("tokens")
	if eventual == true && tokens == true {
		return nil
	}
	if tokens != true {
		if err := s.giveSearchTokens(ctx); err != nil {
			return err
		}
	}
	s.log.Info("rebuilding the search index", "index", searchIndex)
	_, err = s.schemaQuery(ctx, "DROP INDEX "+searchIndex+" IF EXISTS", nil)
	return err
}

// giveSearchTokens gives the clients and values that an earlier version
// wrote their project's searchToken, in one pass over each label (the
// tokens of every project are a parameter: Cypher cannot hash). It can be
// cut short and run again.
func (s *Store) giveSearchTokens(ctx context.Context) error {
	recs, err := s.readOne(ctx, `MATCH (p:Project) RETURN p.id AS id`, nil)
	if err != nil {
		return err
	}
	tokens := make(map[string]any, len(recs))
	for _, rec := range recs {
		tokens[str(rec, "id")] = searchToken(str(rec, "id"))
	}
	s.log.Info("giving clients and values their project's search token", "projects", len(tokens))
	for _, q := range []string{
		`MATCH (n:Client) WHERE n.searchToken IS NULL
			CALL { WITH n SET n.searchToken = $tokens[n.project] } IN TRANSACTIONS OF 10000 ROWS`,
		`MATCH (n:Value) WHERE n.searchToken IS NULL
			CALL { WITH n SET n.searchToken = $tokens[n.project] } IN TRANSACTIONS OF 10000 ROWS`,
	} {
		if err := s.autocommit(ctx, q, map[string]any{"tokens": tokens}); err != nil {
			return err
		}
	}
	return nil
}

// Bounds of a search query.
const (
	maxSearchQueryRunes = 200
	maxSearchTerms      = 8
)

// luceneSpecial are the characters of Lucene's query syntax; a term of the
// caller's never reaches the parser with one unescaped.
const luceneSpecial = `+-&|!(){}[]^"~*?:\/`

// escapeLucene escapes every character of Lucene's query syntax in s.
func escapeLucene(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(luceneSpecial, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// searchTerms splits a query into lower-case words of letters and digits,
// as the index's analyzer splits names; at most maxSearchTerms.
func searchTerms(query string) []string {
	words := strings.FieldsFunc(strings.ToLower(query), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	if len(words) > maxSearchTerms {
		words = words[:maxSearchTerms]
	}
	return words
}

// luceneQuery builds the full-text query of a search: the project, and any
// of the words, each matched as typed (boosted), as the start of a word
// (a partial name), or, when it has letters, within an edit or two (a
// mistyped name: one edit for words up to 5 letters, two beyond); plus the
// exact normalized values that the whole query is as a phone or an e-mail.
// Every word is escaped: nothing the caller types is Lucene syntax.
func luceneQuery(project string, words, exact []string) string {
	var any []string
	for _, w := range words {
		e := escapeLucene(w)
		clauses := []string{e + "^4", e + "*^2"}
		if strings.IndexFunc(w, unicode.IsLetter) >= 0 && utf8.RuneCountInString(w) >= 3 {
			edits := 1
			if utf8.RuneCountInString(w) > 5 {
				edits = 2
			}
			clauses = append(clauses, e+"~"+strconv.Itoa(edits))
		}
		for _, f := range []string{"displayName", "value"} {
			any = append(any, f+":("+strings.Join(clauses, " ")+")")
		}
	}
	for _, v := range exact {
		any = append(any, `value:"`+escapeLucene(v)+`"^8`)
	}
	return `+searchToken:` + searchToken(project) + ` +(` + strings.Join(any, " ") + `)`
}

// SearchClients returns a page of the project's clients whose display name
// or values resemble query, best first (ties by id). The cursor is a
// position in that ranking, so a page read after the data changed may
// repeat or skip a client; the best MaxSearchWindow are reachable.
func (s *Store) SearchClients(ctx context.Context, project, query, after string, first int) (Page[identity.Client], error) {
	if err := checkFirst(first, MaxSearchPage); err != nil {
		return Page[identity.Client]{}, err
	}
	words := searchTerms(query)
	if utf8.RuneCountInString(query) > maxSearchQueryRunes || len(words) == 0 {
		return Page[identity.Client]{}, identity.Errorf("query", identity.CodeInvalidArgument,
			"a search query is 1 to %d characters with at least one letter or digit", maxSearchQueryRunes)
	}
	key, err := decodeCursor(after, "search", 1)
	if err != nil {
		return Page[identity.Client]{}, err
	}
	skip := 0
	if key != nil {
		if skip, err = strconv.Atoi(key[0]); err != nil || skip < 1 || skip >= MaxSearchWindow {
			return Page[identity.Client]{}, identity.Errorf("after", identity.CodeInvalidArgument, "the cursor %q is not one this service gave for this list", after)
		}
	}
	first = min(first, MaxSearchWindow-skip)
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (Page[identity.Client], error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return Page[identity.Client]{}, err
		}
		// The whole query as a value of a phone or e-mail field, normalized:
		// "+7 (916) 123-45-67" finds the stored +79161234567.
		var exact []string
		for _, f := range ps.catalog.Fields() {
			if f.Type != identity.TypePhone && f.Type != identity.TypeEmail {
				continue
			}
			if v, err := ps.catalog.Normalize(f.Key, query); err == nil {
				exact = append(exact, v)
			}
		}
		// Writes committed before this search are in the index once its
		// queue is drained: a client finds what it has just written.
		if err := exec(ctx, tx, "CALL db.index.fulltext.awaitEventuallyConsistentIndexRefresh()", nil); err != nil {
			return Page[identity.Client]{}, err
		}
		recs, err := collect(ctx, tx, `CALL db.index.fulltext.queryNodes($index, $q, {limit: $hits}) YIELD node, score
			WHERE node.project = $project
			CALL {
				WITH node
				WITH node WHERE node:Client
				RETURN node AS c
				UNION
				WITH node
				MATCH (node:Value)<-[:HAS]-(c:Client {project: $project})
				RETURN c
			}
			WITH c, max(score) AS score
			ORDER BY score DESC, c.id SKIP $skip LIMIT $limit
			RETURN `+clientColumns,
			map[string]any{"index": searchIndex, "q": luceneQuery(project, words, exact), "project": project,
				"hits": MaxSearchWindow * 2, "skip": skip, "limit": first + 1})
		if err != nil {
			return Page[identity.Client]{}, err
		}
		n := skip
		page := pageOf(recs, first, func(rec *neo4j.Record) (identity.Client, string) {
			n++
			return decodeClient(rec), encodeCursor("search", strconv.Itoa(n))
		})
		page.HasNext = page.HasNext && n < MaxSearchWindow
		return page, nil
	})
}
