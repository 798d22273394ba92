package population_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/multicontact/multicontact/identity"
	"github.com/multicontact/multicontact/population"
)

// line holds the fields of every op, so a strict decoder catches misspelled
// names.
type line struct {
	Op            string `json:"op"`
	EventID       string `json:"eventId"`
	ID            string `json:"id"`
	Channel       struct{ Kind, Account string }
	ChannelUserID string `json:"channelUserId"`
	DisplayName   string `json:"displayName"`
	CreatedAt     string `json:"createdAt"`
	LastSeenAt    string `json:"lastSeenAt"`
	Attributes    []attr `json:"attributes"`
	Client        string `json:"client"`
	attr
	StartedAt     string `json:"startedAt"`
	LastMessageAt string `json:"lastMessageAt"`
	Summary       string `json:"summary"`
}

type attr struct {
	Field    string `json:"field"`
	Value    string `json:"value"`
	Source   string `json:"source"`
	Verified bool   `json:"verified"`
}

// output is a generated population, decoded.
type output struct {
	raw, truth []byte
	stats      population.Stats
	lines      []line
	person     map[string]string // client id -> true person
}

func generate(t testing.TB, cfg population.Config) output {
	t.Helper()
	var out, truth bytes.Buffer
	st, err := population.Write(&out, &truth, cfg)
	if err != nil {
		t.Fatalf("Write(%+v): %v", cfg, err)
	}
	o := output{raw: out.Bytes(), truth: truth.Bytes(), stats: st, person: map[string]string{}}
	for i, s := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if s == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		var l line
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %d %q: %v", i+1, s, err)
		}
		o.lines = append(o.lines, l)
	}
	for _, row := range strings.Split(strings.TrimSuffix(truth.String(), "\n"), "\n") {
		if row == "" {
			continue
		}
		c, p, ok := strings.Cut(row, "\t")
		if !ok || strings.Contains(p, "\t") {
			t.Fatalf("truth row %q: want clientId<TAB>personId", row)
		}
		o.person[c] = p
	}
	return o
}

var (
	bigOnce sync.Once
	big     output
)

// population20k is the population most tests look at, generated once.
func population20k(t *testing.T) output {
	t.Helper()
	bigOnce.Do(func() { big = generate(t, population.Config{Clients: 20000, Seed: 42}) })
	if big.lines == nil {
		t.Fatal("the shared population failed to generate")
	}
	return big
}

func TestWriteDeterministic(t *testing.T) {
	cfg := population.Config{Clients: 3000, Seed: 7}
	a, b := generate(t, cfg), generate(t, cfg)
	if !bytes.Equal(a.raw, b.raw) || !bytes.Equal(a.truth, b.truth) {
		t.Fatal("the same Config gave different output")
	}
	if a.stats != b.stats {
		t.Fatalf("stats %+v and %+v differ", a.stats, b.stats)
	}
	cfg.Seed = 8
	if c := generate(t, cfg); bytes.Equal(a.raw, c.raw) {
		t.Fatal("seeds 7 and 8 gave the same output")
	}
}

func TestWriteFormat(t *testing.T) {
	o := population20k(t)
	fields := map[string]bool{"phone": true, "email": true, "contract": true, "externalId": true, "skype": true}
	sources := map[string]bool{"BOT": true, "WIDGET": true, "OPERATOR": true, "INTEGRATION": true, "IMPORT": true}
	kinds := map[string]bool{"web": true, "telegram": true, "whatsapp": true, "instagram": true, "vk": true, "email": true}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(600 * 24 * time.Hour)
	parse := func(i int, s string) time.Time {
		t.Helper()
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil || tm.Before(start) || tm.After(end) {
			t.Fatalf("line %d: time %q is not RFC 3339 within the period (%v)", i+1, s, err)
		}
		return tm
	}
	checkAttr := func(i int, a attr) {
		t.Helper()
		if !fields[a.Field] || !sources[a.Source] || a.Value == "" {
			t.Fatalf("line %d: bad attribute %+v", i+1, a)
		}
	}

	events, clients, convs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	users := map[string]bool{}
	var order []string
	var nAttrs, nConvs int
	for i, l := range o.lines {
		if l.EventID == "" || events[l.EventID] {
			t.Fatalf("line %d: eventId %q empty or repeated", i+1, l.EventID)
		}
		events[l.EventID] = true
		switch l.Op {
		case "client":
			if clients[l.ID] || !strings.HasPrefix(l.ID, map[string]string{"telegram": "tg", "whatsapp": "wa", "web": "web", "instagram": "ig", "vk": "vk", "email": "email"}[l.Channel.Kind]+"-") {
				t.Fatalf("line %d: client id %q repeated or not of its kind %q", i+1, l.ID, l.Channel.Kind)
			}
			clients[l.ID] = true
			order = append(order, l.ID)
			if !kinds[l.Channel.Kind] || l.Channel.Account != "main" || l.ChannelUserID == "" || l.DisplayName == "" || l.Attributes == nil {
				t.Fatalf("line %d: bad client %+v", i+1, l)
			}
			if u := l.Channel.Kind + "/" + l.ChannelUserID; users[u] {
				t.Fatalf("line %d: channel user %s repeated", i+1, u)
			} else {
				users[u] = true
			}
			if parse(i, l.CreatedAt).After(parse(i, l.LastSeenAt)) {
				t.Fatalf("line %d: created after last seen", i+1)
			}
			for _, a := range l.Attributes {
				checkAttr(i, a)
			}
			nAttrs += len(l.Attributes)
		case "attribute":
			if !clients[l.Client] {
				t.Fatalf("line %d: attribute of client %q before its client line", i+1, l.Client)
			}
			checkAttr(i, l.attr)
			nAttrs++
		case "conversation":
			if !clients[l.Client] || convs[l.ID] || l.Summary == "" {
				t.Fatalf("line %d: conversation %q of client %q: unknown client, repeated id or no summary", i+1, l.ID, l.Client)
			}
			convs[l.ID] = true
			if parse(i, l.StartedAt).After(parse(i, l.LastMessageAt)) {
				t.Fatalf("line %d: conversation ends before it starts", i+1)
			}
			nConvs++
		default:
			t.Fatalf("line %d: unknown op %q", i+1, l.Op)
		}
	}

	rows := strings.Split(strings.TrimSuffix(string(o.truth), "\n"), "\n")
	if len(rows) != len(order) {
		t.Fatalf("truth has %d rows, want one per client (%d)", len(rows), len(order))
	}
	persons := map[string]bool{}
	for i, row := range rows {
		c, p, _ := strings.Cut(row, "\t")
		if c != order[i] {
			t.Fatalf("truth row %d names %q, want %q", i+1, c, order[i])
		}
		persons[p] = true
	}
	if len(persons) < 20000/4 || len(persons) >= 20000 {
		t.Errorf("%d persons behind 20000 clients, want between a quarter and all of them (1 to 4 channels each, some with several)", len(persons))
	}
	want := population.Stats{Lines: len(o.lines), Clients: 20000, Persons: len(persons), Attributes: nAttrs, Conversations: nConvs}
	if o.stats != want {
		t.Errorf("Stats = %+v, want %+v (counted from the output)", o.stats, want)
	}
}

// placeholderPhones are the E.164 forms of the generator's placeholder
// phones that the service accepts.
var placeholderPhones = map[string]bool{"+79999999999": true}

func TestWriteShares(t *testing.T) {
	o := population20k(t)
	share := func(name string, got, of int, lo, hi float64) {
		t.Helper()
		f := float64(got) / float64(of)
		t.Logf("%s: %d of %d (%.3f)", name, got, of, f)
		if f < lo || f > hi {
			t.Errorf("%s: share %.4f, want within [%.3f, %.3f]", name, f, lo, hi)
		}
	}

	channels := map[string]int{} // person -> clients
	kindCount := map[string]int{}
	type value struct{ field, value, client string }
	var values []value
	laterAttrs, allAttrs := 0, 0
	convClients := map[string]bool{}
	cyrillic := 0
	verifiedIDs := map[string]int{}
	for _, l := range o.lines {
		switch l.Op {
		case "client":
			channels[o.person[l.ID]]++
			kindCount[l.Channel.Kind]++
			for _, a := range l.Attributes {
				values = append(values, value{a.Field, a.Value, l.ID})
				if a.Verified && (a.Field == "contract" || a.Field == "externalId") {
					verifiedIDs[a.Field]++
				}
			}
			allAttrs += len(l.Attributes)
			if strings.IndexFunc(l.DisplayName, func(r rune) bool { return unicode.Is(unicode.Cyrillic, r) }) >= 0 {
				cyrillic++
			}
		case "attribute":
			values = append(values, value{l.Field, l.Value, l.Client})
			laterAttrs++
			allAttrs++
		case "conversation":
			convClients[l.Client] = true
		}
	}

	one := 0
	for _, n := range channels {
		if n == 1 {
			one++
		}
	}
	share("people with one channel", one, len(channels), 0.50, 0.62)
	share("telegram clients", kindCount["telegram"], o.stats.Clients, 0.25, 0.35)
	share("email clients", kindCount["email"], o.stats.Clients, 0.03, 0.08)
	share("attributes arriving later", laterAttrs, allAttrs, 0.25, 0.35)
	share("clients with conversations", len(convClients), o.stats.Clients, 0.17, 0.23)
	share("display names in Cyrillic", cyrillic, o.stats.Clients, 0.3, 0.7)

	// Phones and e-mails, normalized as the service does.
	phonePersons := map[string]map[string]bool{}
	spellings := map[string]map[string]bool{}
	emailPersons := map[string]bool{}
	emailSpellings := map[string]map[string]bool{}
	placeholderPersons := map[string]map[string]bool{}
	var phones, badPhones, emails, badEmails int
	isPlaceholder := map[string]bool{
		"test@test.com": true, "noemail@mail.ru": true, "123@123.ru": true, "no@no.ru": true, "test@mail.ru": true,
		"+70000000000": true, "+7 (999) 999-99-99": true, "89999999999": true, "80000000000": true, "+7 (000) 000-00-00": true,
	}
	add := func(m map[string]map[string]bool, k, v string) {
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		m[k][v] = true
	}
	contract := regexp.MustCompile(`^C-20\d\d-\d{6,}$`)
	external := regexp.MustCompile(`^crm-\d{6,}$`)
	for _, v := range values {
		p := o.person[v.client]
		if isPlaceholder[v.value] {
			add(placeholderPersons, v.value, p)
			continue
		}
		switch v.field {
		case "phone":
			phones++
			e, err := identity.NormalizePhone("RU", v.value)
			if err != nil {
				badPhones++
				continue
			}
			add(phonePersons, e, p)
			add(spellings, e, v.value)
		case "email":
			emails++
			e, err := identity.NormalizeEmail(v.value)
			if err != nil {
				badEmails++
				continue
			}
			emailPersons[p] = true
			add(emailSpellings, e, v.value)
		case "contract":
			if !contract.MatchString(v.value) {
				t.Errorf("contract %q: want C-YYYY-NNNNNN", v.value)
			}
		case "externalId":
			if !external.MatchString(v.value) {
				t.Errorf("externalId %q: want crm-NNNNNN", v.value)
			}
		}
	}
	share("phones refused as invalid", badPhones, phones, 0.001, 0.02)
	share("e-mails refused as invalid", badEmails, emails, 0.001, 0.02)
	share("people with an e-mail", len(emailPersons), len(channels), 0.42, 0.60)

	respelled, sharedBy3, maxShared := 0, 0, 0
	for e, s := range spellings {
		if len(s) > 1 {
			respelled++
		}
		n := len(phonePersons[e])
		if n >= 3 && !placeholderPhones[e] {
			sharedBy3++
		}
		if !placeholderPhones[e] {
			maxShared = max(maxShared, n)
		}
	}
	if respelled < 100 {
		t.Errorf("%d phones appear in more than one spelling, want at least 100", respelled)
	}
	if sharedBy3 == 0 {
		t.Error("no household or office phone is shared by 3 or more people")
	}
	if maxShared > 40 {
		t.Errorf("a real phone is shared by %d people, more than the largest office (40)", maxShared)
	}
	caseVariants := 0
	for _, s := range emailSpellings {
		if len(s) > 1 {
			caseVariants++
		}
	}
	if caseVariants < 50 {
		t.Errorf("%d e-mails appear in more than one case, want at least 50", caseVariants)
	}
	widePlaceholders := 0
	for _, ps := range placeholderPersons {
		if len(ps) >= 3 {
			widePlaceholders++
		}
	}
	if widePlaceholders == 0 {
		t.Error("no placeholder value is shared by 3 or more people")
	}
	t.Logf("respelled phones %d, shared by ≥3 people %d, largest sharing %d, e-mails in several cases %d, placeholders %v",
		respelled, sharedBy3, maxShared, caseVariants, len(placeholderPersons))
	if verifiedIDs["contract"] == 0 || verifiedIDs["externalId"] == 0 {
		t.Errorf("verified contract/externalId values: %v, want some of each", verifiedIDs)
	}
}

func TestWriteConfig(t *testing.T) {
	start := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	o := generate(t, population.Config{Clients: 500, Seed: 3, Account: "support", Start: start})
	for _, l := range o.lines {
		if l.Op != "client" {
			continue
		}
		if l.Channel.Account != "support" {
			t.Fatalf("account %q, want support", l.Channel.Account)
		}
		if c, _ := time.Parse(time.RFC3339, l.CreatedAt); c.Before(start) {
			t.Fatalf("createdAt %s before Start %s", l.CreatedAt, start)
		}
	}

	def := generate(t, population.Config{Clients: 500, Seed: 3})
	explicit := generate(t, population.Config{Clients: 500, Seed: 3, Account: "main", Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	if !bytes.Equal(def.raw, explicit.raw) {
		t.Error("the zero Account and Start do not mean \"main\" and 2024-01-01")
	}
}

func TestWriteSmall(t *testing.T) {
	for _, n := range []int{0, 1, 2, 5} {
		var out bytes.Buffer
		st, err := population.Write(&out, nil, population.Config{Clients: n, Seed: 1})
		if err != nil {
			t.Fatalf("Clients %d: %v", n, err)
		}
		if got := strings.Count(out.String(), `"op":"client"`); got != n || st.Clients != n {
			t.Errorf("Clients %d: %d client lines, Stats.Clients %d", n, got, st.Clients)
		}
		if st.Lines != strings.Count(out.String(), "\n") {
			t.Errorf("Clients %d: Stats.Lines %d, %d lines written", n, st.Lines, strings.Count(out.String(), "\n"))
		}
	}
	if _, err := population.Write(io.Discard, nil, population.Config{Clients: -1}); err == nil {
		t.Error("Write accepted a negative number of clients")
	}
}

// failingWriter accepts limit bytes, then fails.
type failingWriter struct{ limit int }

var errFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		n := w.limit
		w.limit = 0
		return n, errFull
	}
	w.limit -= len(p)
	return len(p), nil
}

func TestWriteError(t *testing.T) {
	_, err := population.Write(&failingWriter{limit: 100 << 10}, nil, population.Config{Clients: 10000, Seed: 1})
	if !errors.Is(err, errFull) {
		t.Errorf("NDJSON writer failing: err = %v, want %v", err, errFull)
	}
	_, err = population.Write(io.Discard, &failingWriter{limit: 10 << 10}, population.Config{Clients: 10000, Seed: 1})
	if !errors.Is(err, errFull) {
		t.Errorf("truth writer failing: err = %v, want %v", err, errFull)
	}
}

// countingWriter counts the bytes written to it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func BenchmarkWrite(b *testing.B) {
	cfg := population.Config{Clients: 100000, Seed: 1}
	var cw countingWriter
	if _, err := population.Write(&cw, nil, cfg); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(cw.n)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := population.Write(io.Discard, io.Discard, cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cfg.Clients)*float64(b.N)/b.Elapsed().Seconds(), "clients/s")
}
