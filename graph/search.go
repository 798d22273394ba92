package graph

import (
	"context"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// searchIndex is the full-text index over what a person is searched by:
// clients' display names and values (identifiers). It holds every project;
// the project is both a clause of the Lucene query (so the index's own top
// hits are the project's) and a filter of the Cypher (so no other
// project's node can come through, whatever the analyzer made of the id).
const searchIndex = "client_search"

// searchIndexSchema creates searchIndex (see schema in store.go). The
// index is eventually consistent: a commit hands its changes to a
// background queue instead of updating Lucene itself, which took about 5 ms
// of every write that adds a value or a name (five times a small commit).
// A search waits for that queue first (SearchClients), so it still finds
// every write committed before it.
const searchIndexSchema = "CREATE FULLTEXT INDEX " + searchIndex + " IF NOT EXISTS FOR (n:Client|Value) ON EACH [n.project, n.displayName, n.value]" +
	" OPTIONS {indexConfig: {`fulltext.eventually_consistent`: true}}"

// migrateSearchIndex drops searchIndex when an earlier version created it
// updated at commit, so that searchIndexSchema creates it anew (Neo4j cannot
// change an index's configuration in place). Neo4j fills the new index in
// the background; Open waits for it with the other indexes.
func (s *Store) migrateSearchIndex(ctx context.Context) error {
	res, err := s.schemaQuery(ctx, `SHOW FULLTEXT INDEXES YIELD name, options WHERE name = $name
		RETURN coalesce(options.indexConfig['fulltext.eventually_consistent'], false) AS eventual`,
		map[string]any{"name": searchIndex})
	if err != nil || len(res.Records) == 0 {
		return err
	}
	if eventual, _ := res.Records[0].Get("eventual"); eventual == true {
		return nil
	}
	s.log.Info("rebuilding the search index as eventually consistent", "index", searchIndex)
	_, err = s.schemaQuery(ctx, "DROP INDEX "+searchIndex+" IF EXISTS", nil)
	return err
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
	return `+project:"` + escapeLucene(project) + `" +(` + strings.Join(any, " ") + `)`
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
