// Package population generates a deterministic, realistic population of
// customers as NDJSON in the import format of multicontact, together with
// the true person of every client, so that `multicontact gen` and the
// benchmark can load a known population and check what the service merged.
//
// Each line is one JSON object with an "op":
//
//	{"op":"client","eventId":"g1-000001","id":"tg-000123","channel":{"kind":"telegram","account":"main"},"channelUserId":"5123456789","displayName":"Anna K.","createdAt":"2024-03-01T10:00:00Z","lastSeenAt":"2025-06-01T12:00:00Z","attributes":[{"field":"phone","value":"8 (916) 123-45-67","source":"BOT","verified":false}]}
//	{"op":"attribute","eventId":"g1-000002","client":"tg-000123","field":"email","value":"Anna.K@Mail.ru","source":"WIDGET","verified":false}
//	{"op":"conversation","eventId":"g1-000003","client":"tg-000123","id":"conv-000001","startedAt":"...","lastMessageAt":"...","summary":"Asked about delivery"}
//
// An attribute or conversation line always comes after the line of its
// client. People are generated one at a time and later-arriving lines wait
// in a window of at most a few hundred lines, so memory stays bounded
// whatever the number of clients.
package population

import (
	"bufio"
	"container/heap"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"
)

// Config of a population.
type Config struct {
	// Clients is how many clients (channels, not people) to write; people
	// are generated until it is reached.
	Clients int
	// Seed selects the population: the same Config gives the same bytes.
	Seed uint64
	// Account is the channel account of every client; "" means "main".
	Account string
	// Start is the beginning of the simulated period of about twenty
	// months; zero means 2024-01-01 UTC. The clock is never read.
	Start time.Time
}

// Stats counts what was written.
type Stats struct {
	// Lines is the number of NDJSON lines.
	Lines int
	// Clients is the number of client lines, Config.Clients.
	Clients int
	// Persons is the number of true people behind the clients.
	Persons int
	// Attributes counts identifier values, inside client lines and as
	// attribute lines.
	Attributes int
	// Conversations is the number of conversation lines.
	Conversations int
}

// Write writes the population's NDJSON to w and, when truth is not nil, a
// TSV line "clientId\tpersonId\n" for each client, naming its true person.
// The same Config gives byte-identical output.
func Write(w io.Writer, truth io.Writer, cfg Config) (Stats, error) {
	if cfg.Clients < 0 {
		return Stats{}, fmt.Errorf("population: clients must not be negative, got %d", cfg.Clients)
	}
	g := newGenerator(w, truth, cfg)
	for g.stats.Clients < cfg.Clients && g.err == nil {
		g.person()
	}
	for g.later.Len() > 0 && g.err == nil {
		g.emitLater(heap.Pop(&g.later).(pending))
	}
	if g.err == nil {
		g.err = g.out.Flush()
	}
	if g.err == nil && g.truth != nil {
		g.err = g.truth.Flush()
	}
	if g.err != nil {
		return g.stats, fmt.Errorf("population: write: %w", g.err)
	}
	return g.stats, nil
}

// Shares of the population, imitating a shop's channels: later-arriving
// identifiers, bad input, placeholder values and conversations.
const (
	maxDelay        = 200   // a later-arriving line comes within this many lines
	laterShare      = 0.30  // attributes sent on a later attribute line
	invalidShare    = 0.005 // attribute values that are bad input
	placeholderRate = 0.003 // clients that carry a placeholder value
	conversationP   = 0.20  // clients with one to three conversations
	periodDays      = 600   // length of the simulated period
)

// defaultStart begins the simulated period when Config.Start is zero.
var defaultStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// generator holds the state of one Write: counters, the open households
// and offices, and the window of later-arriving lines.
type generator struct {
	cfg   Config
	rng   *rand.Rand
	out   *bufio.Writer
	enc   *json.Encoder
	truth *bufio.Writer
	err   error
	stats Stats

	width   int // digits of the numbers in ids
	eventID []byte

	phonePerm, tagPerm, tgPerm, vkPerm, webPerm permuter

	kindSeq   [len(kinds)]int
	phoneSeq  uint64
	tagSeq    uint64
	contracts int
	crm       int
	convs     int

	households, offices []shared

	later    laterHeap
	laterSeq int

	drafts [4]draft
	line   clientLine
}

// shared is a phone that several people use: a family landline or an
// office number, with the places still free.
type shared struct {
	phone phone
	left  int
}

func newGenerator(w, truth io.Writer, cfg Config) *generator {
	if cfg.Account == "" {
		cfg.Account = "main"
	}
	if cfg.Start.IsZero() {
		cfg.Start = defaultStart
	}
	cfg.Start = cfg.Start.UTC().Truncate(time.Second)
	g := &generator{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, splitmix(cfg.Seed^0x5eed))),
		out:   bufio.NewWriterSize(w, 64<<10),
		width: max(6, len(strconv.Itoa(cfg.Clients))),
	}
	if truth != nil {
		g.truth = bufio.NewWriterSize(truth, 32<<10)
	}
	g.enc = json.NewEncoder(g.out)
	g.enc.SetEscapeHTML(false)
	n := uint64(max(cfg.Clients, 1000))
	g.phonePerm = newPermuter(phoneSpace, cfg.Seed^0x1)
	g.tagPerm = newPermuter(n, cfg.Seed^0x2)
	g.tgPerm = newPermuter(1<<32, cfg.Seed^0x3)
	g.vkPerm = newPermuter(1<<29, cfg.Seed^0x4)
	g.webPerm = newPermuter(1<<48, cfg.Seed^0x5)
	return g
}

// The JSON lines, field names as the importer reads them.
type (
	channelRef struct {
		Kind    string `json:"kind"`
		Account string `json:"account"`
	}
	attrValue struct {
		Field    string `json:"field"`
		Value    string `json:"value"`
		Source   string `json:"source"`
		Verified bool   `json:"verified"`
	}
	clientLine struct {
		Op            string      `json:"op"`
		EventID       string      `json:"eventId"`
		ID            string      `json:"id"`
		Channel       channelRef  `json:"channel"`
		ChannelUserID string      `json:"channelUserId"`
		DisplayName   string      `json:"displayName"`
		CreatedAt     string      `json:"createdAt"`
		LastSeenAt    string      `json:"lastSeenAt"`
		Attributes    []attrValue `json:"attributes"`
	}
	attributeLine struct {
		Op       string `json:"op"`
		EventID  string `json:"eventId"`
		Client   string `json:"client"`
		Field    string `json:"field"`
		Value    string `json:"value"`
		Source   string `json:"source"`
		Verified bool   `json:"verified"`
	}
	conversationLine struct {
		Op            string `json:"op"`
		EventID       string `json:"eventId"`
		Client        string `json:"client"`
		ID            string `json:"id"`
		StartedAt     string `json:"startedAt"`
		LastMessageAt string `json:"lastMessageAt"`
		Summary       string `json:"summary"`
	}
)

// nextEventID numbers the next line: "g<seed>-<line>", unique within a
// population and across seeds.
func (g *generator) nextEventID() string {
	g.stats.Lines++
	b := append(g.eventID[:0], 'g')
	b = strconv.AppendUint(b, g.cfg.Seed, 10)
	b = append(b, '-')
	b = g.appendPadded(b, g.stats.Lines)
	g.eventID = b
	return string(b)
}

// appendPadded appends n zero-padded to the width of the population.
func (g *generator) appendPadded(b []byte, n int) []byte { return appendZero(b, n, g.width) }

// id builds "<prefix>-<n>" with n zero-padded.
func (g *generator) id(prefix string, n int) string {
	b := make([]byte, 0, len(prefix)+1+g.width)
	b = append(append(b, prefix...), '-')
	return string(g.appendPadded(b, n))
}

// encode writes one line, remembering the first error.
func (g *generator) encode(v any) {
	if g.err == nil {
		g.err = g.enc.Encode(v)
	}
}

// pending is a line that arrives later than its client: an attribute or,
// when conv is set, a conversation.
type pending struct {
	due, seq int
	client   string
	attr     attrValue
	conv     bool
	convID   string
	started  string
	last     string
	summary  string
}

// laterHeap orders pending lines by due line, then by arrival, so the
// output does not depend on the heap's internals.
type laterHeap []pending

func (h laterHeap) Len() int { return len(h) }
func (h laterHeap) Less(i, j int) bool {
	if h[i].due != h[j].due {
		return h[i].due < h[j].due
	}
	return h[i].seq < h[j].seq
}
func (h laterHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *laterHeap) Push(x any)   { *h = append(*h, x.(pending)) }
func (h *laterHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = pending{}
	*h = old[:len(old)-1]
	return x
}

// deferLine queues p to be written after delay more lines.
func (g *generator) deferLine(p pending, delay int) {
	p.due = g.stats.Lines + delay
	p.seq = g.laterSeq
	g.laterSeq++
	heap.Push(&g.later, p)
}

// drain writes the pending lines that are due.
func (g *generator) drain() {
	for g.later.Len() > 0 && g.later[0].due <= g.stats.Lines && g.err == nil {
		g.emitLater(heap.Pop(&g.later).(pending))
	}
}

// emitLater writes a pending line.
func (g *generator) emitLater(p pending) {
	if p.conv {
		g.stats.Conversations++
		g.encode(&conversationLine{
			Op: "conversation", EventID: g.nextEventID(), Client: p.client, ID: p.convID,
			StartedAt: p.started, LastMessageAt: p.last, Summary: p.summary,
		})
		return
	}
	g.encode(&attributeLine{
		Op: "attribute", EventID: g.nextEventID(), Client: p.client, Field: p.attr.Field,
		Value: p.attr.Value, Source: p.attr.Source, Verified: p.attr.Verified,
	})
}

// chance reports true with probability p.
func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

// between returns a uniform int in [lo, hi].
func (g *generator) between(lo, hi int) int { return lo + g.rng.IntN(hi-lo+1) }

// weighted picks an index of weights with probability proportional to it.
func (g *generator) weighted(weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	r := g.rng.IntN(total)
	for i, w := range weights {
		if r < w {
			return i
		}
		r -= w
	}
	return len(weights) - 1
}

// stamp formats t as the importer reads times.
func stamp(t time.Time) string { return t.Format(time.RFC3339) }
