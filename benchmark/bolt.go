package benchmark

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// boltProxy forwards Bolt connections to Neo4j unchanged and counts what
// passes: the messages a client sends (RUN is a statement, BEGIN a
// transaction), the round trips (a client waits for Neo4j from the moment
// it sends a request with none outstanding until every request it sent
// has its answer) and the time spent waiting in them. It reads only the
// chunk framing and the first two bytes of each message (a structure
// marker and the message's signature), so it works for any Bolt 4 or 5
// version that the driver and server agree on, with the classic handshake
// or the manifest one (Neo4j 5.26 and driver 5.28 use the latter), as long
// as the connection is not encrypted.
type boltProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	counts boltCounts
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

// boltCounts are the proxy's totals; Sub gives the counts of an interval.
type boltCounts struct {
	RoundTrips int64
	Requests   map[string]int64 // client messages by name (RUN, BEGIN, COMMIT, ...)
	Waiting    time.Duration    // summed over connections: time with a request outstanding
	// Statements are the time from each statement's RUN to the answer of
	// its PULL, by the statement's first words; and of BEGIN and COMMIT.
	Statements map[string]statementTime
}

// statementTime is how often a statement ran and its summed time.
type statementTime struct {
	N    int64
	Time time.Duration
}

func (c boltCounts) clone() boltCounts {
	out := c
	out.Requests = make(map[string]int64, len(c.Requests))
	for k, v := range c.Requests {
		out.Requests[k] = v
	}
	out.Statements = make(map[string]statementTime, len(c.Statements))
	for k, v := range c.Statements {
		out.Statements[k] = v
	}
	return out
}

// Sub returns c minus an earlier snapshot.
func (c boltCounts) Sub(before boltCounts) boltCounts {
	out := c.clone()
	out.RoundTrips -= before.RoundTrips
	out.Waiting -= before.Waiting
	for k, v := range before.Requests {
		out.Requests[k] -= v
	}
	for k, v := range before.Statements {
		st := out.Statements[k]
		st.N -= v.N
		st.Time -= v.Time
		if st.N == 0 {
			delete(out.Statements, k)
		} else {
			out.Statements[k] = st
		}
	}
	return out
}

// boltRequests names the signatures of the messages a client sends.
var boltRequests = map[byte]string{
	0x01: "HELLO", 0x02: "GOODBYE", 0x0F: "RESET", 0x10: "RUN", 0x11: "BEGIN", 0x12: "COMMIT",
	0x13: "ROLLBACK", 0x2F: "DISCARD", 0x3F: "PULL", 0x54: "TELEMETRY", 0x66: "ROUTE", 0x6A: "LOGON", 0x6B: "LOGOFF",
}

// boltSummaries are the signatures of the server's answers that end a
// request (SUCCESS, IGNORED, FAILURE); RECORD (0x71) does not.
func boltSummary(sig byte) bool { return sig == 0x70 || sig == 0x7E || sig == 0x7F }

// newBoltProxy listens on loopback and forwards to the Neo4j that uri
// names. Only plain bolt:// and neo4j:// URIs can be counted.
func newBoltProxy(uri string) (*boltProxy, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "bolt" && u.Scheme != "neo4j" {
		return nil, fmt.Errorf("cannot count an encrypted %s:// connection", u.Scheme)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "7687")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &boltProxy{ln: ln, target: target, conns: map[net.Conn]bool{}, counts: boltCounts{Requests: map[string]int64{}, Statements: map[string]statementTime{}}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// URI is the bolt:// address to give a driver instead of the server's (a
// direct connection: neo4j:// would route the driver past the proxy).
func (p *boltProxy) URI() string { return "bolt://" + p.ln.Addr().String() }

// Counts returns the totals so far.
func (p *boltProxy) Counts() boltCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts.clone()
}

// Close stops listening and closes every forwarded connection.
func (p *boltProxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *boltProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *boltProxy) serve() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.track(client, true)
		p.track(server, true)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.forward(client, server)
			p.track(client, false)
			p.track(server, false)
		}()
	}
}

// boltConn is the proxy's view of one connection: requests outstanding and
// when the current round trip began.
type boltConn struct {
	outstanding int
	since       time.Time
	manifest    bool // the server answered the handshake with a manifest
	queue       []boltRequest
	query       string    // the statement of the last RUN
	ranAt       time.Time // when it was sent (or its last PULL answered)
}

// boltRequest is a request waiting for its answer, with what its time is
// counted under ("" for none) and since when.
type boltRequest struct {
	label string
	since time.Time
}

func (p *boltProxy) forward(client, server net.Conn) {
	var conn boltConn
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer server.Close()
		fr := &boltFramer{handshake: p.clientHandshake(&conn)}
		pipe(server, client, func(b []byte, now time.Time) {
			fr.feed(b, func(msg []byte) {
				sig := msg[1]
				p.mu.Lock()
				defer p.mu.Unlock()
				name, ok := boltRequests[sig]
				if !ok {
					name = fmt.Sprintf("0x%02X", sig)
				}
				p.counts.Requests[name]++
				if sig == 0x02 { // GOODBYE has no answer
					return
				}
				if conn.outstanding == 0 {
					conn.since = now
					p.counts.RoundTrips++
				}
				conn.outstanding++
				req := boltRequest{since: now}
				switch name {
				case "RUN":
					conn.query, conn.ranAt = statementLabel(msg), now
				case "PULL", "DISCARD":
					req = boltRequest{label: conn.query, since: conn.ranAt}
				case "BEGIN", "COMMIT", "ROLLBACK":
					req.label = name
				}
				conn.queue = append(conn.queue, req)
			})
		})
	}()
	go func() {
		defer wg.Done()
		defer client.Close()
		fr := &boltFramer{handshake: p.serverHandshake(&conn)}
		pipe(client, server, func(b []byte, now time.Time) {
			fr.feed(b, func(msg []byte) {
				if !boltSummary(msg[1]) {
					return
				}
				p.mu.Lock()
				defer p.mu.Unlock()
				if conn.outstanding == 0 {
					return
				}
				req := conn.queue[0]
				conn.queue = conn.queue[1:]
				if req.label != "" {
					st := p.counts.Statements[req.label]
					st.N++
					st.Time += now.Sub(req.since)
					p.counts.Statements[req.label] = st
					conn.ranAt = now // a further PULL of the same statement counts from here
				}
				if conn.outstanding--; conn.outstanding == 0 {
					p.counts.Waiting += now.Sub(conn.since)
				}
			})
		})
	}()
	wg.Wait()
}

// serverHandshake consumes the server's side of the handshake: the 4-byte
// version it chose; or 0x000001FF, a manifest (a varint count, that many
// 4-byte version ranges, a varint of capabilities).
func (p *boltProxy) serverHandshake(conn *boltConn) func(byte) bool {
	var version []byte
	stage, count, shift, left := 0, 0, 0, 0
	return func(c byte) bool {
		switch stage {
		case 0:
			if version = append(version, c); len(version) == 4 {
				stage = 4
				if version[0] == 0 && version[1] == 0 && version[2] == 0x01 && version[3] == 0xFF {
					stage = 1
					p.mu.Lock()
					conn.manifest = true
					p.mu.Unlock()
				}
			}
		case 1: // the count of version ranges
			count |= int(c&0x7F) << shift
			shift += 7
			if c&0x80 == 0 {
				left, stage = 4*count, 2
				if left == 0 {
					stage = 3
				}
			}
		case 2:
			if left--; left == 0 {
				stage = 3
			}
		case 3: // capabilities
			if c&0x80 == 0 {
				stage = 4
			}
		default:
			return false
		}
		return true
	}
}

// clientHandshake consumes the client's side: the magic and four version
// ranges (20 bytes) and, after a manifest, the version it chose (4 bytes)
// and its capabilities (a varint). The client sends its choice only after
// the server's manifest has passed through serverHandshake.
func (p *boltProxy) clientHandshake(conn *boltConn) func(byte) bool {
	stage, n := 0, 0
	return func(c byte) bool {
		switch stage {
		case 0:
			if n++; n == 20 {
				stage = 1
			}
		case 1:
			p.mu.Lock()
			manifest := conn.manifest
			p.mu.Unlock()
			if !manifest {
				stage = 4
				return false
			}
			stage, n = 2, 1
		case 2:
			if n++; n == 4 {
				stage = 3
			}
		case 3:
			if c&0x80 == 0 {
				stage = 4
			}
		default:
			return false
		}
		return true
	}
}

// pipe copies src to dst, showing every read to see first.
func pipe(dst, src net.Conn, see func([]byte, time.Time)) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			see(buf[:n], time.Now())
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // EOF, or the other side closed
			return
		}
	}
}

// boltFramer follows Bolt's chunking: each chunk is a two-byte big-endian
// length and that many bytes; a zero length ends a message (or, between
// messages, is a keep-alive). It reports each message's first bytes: a
// structure marker, the message's signature, then its fields. The handshake comes first: a function that
// takes its bytes one by one and returns false at the first that is not.
type boltFramer struct {
	handshake func(byte) bool
	header    []byte // the chunk header read so far
	left      int    // bytes of the current chunk still to pass
	msg       []byte // the current message's first bytes (up to boltPrefix)
}

// boltPrefix is how much of a message the framer keeps: enough for the
// first words of a RUN's statement.
const boltPrefix = 200

// feed passes b through the framing and calls message with the first bytes
// of each message that ends in it (at least its marker and signature).
func (f *boltFramer) feed(b []byte, message func(msg []byte)) {
	for len(b) > 0 {
		if f.handshake != nil {
			if f.handshake(b[0]) {
				b = b[1:]
			} else {
				f.handshake = nil
			}
			continue
		}
		if f.left == 0 {
			f.header = append(f.header, b[0])
			b = b[1:]
			if len(f.header) < 2 {
				continue
			}
			size := int(f.header[0])<<8 | int(f.header[1])
			f.header = f.header[:0]
			if size == 0 { // the end of a message, or a keep-alive
				if len(f.msg) >= 2 {
					message(f.msg)
				}
				f.msg = f.msg[:0]
				continue
			}
			f.left = size
			continue
		}
		n := min(f.left, len(b))
		if keep := boltPrefix - len(f.msg); keep > 0 {
			f.msg = append(f.msg, b[:min(keep, n)]...)
		}
		f.left -= n
		b = b[n:]
	}
}

// statementLabel is the first words of a RUN message's statement (its
// first field, a PackStream string), whitespace collapsed.
func statementLabel(msg []byte) string {
	if len(msg) < 3 {
		return "?"
	}
	b := msg[3:]
	var n int
	switch m := msg[2]; {
	case m >= 0x80 && m <= 0x8F:
		n = int(m & 0x0F)
	case m == 0xD0 && len(b) >= 1:
		n, b = int(b[0]), b[1:]
	case m == 0xD1 && len(b) >= 2:
		n, b = int(b[0])<<8|int(b[1]), b[2:]
	case m == 0xD2 && len(b) >= 4:
		n, b = int(b[0])<<24|int(b[1])<<16|int(b[2])<<8|int(b[3]), b[4:]
	default:
		return "?"
	}
	b = b[:min(len(b), n)]
	words := strings.Fields(strings.ToValidUTF8(string(b), ""))
	label := strings.Join(words, " ")
	if len(label) > 90 {
		label = strings.ToValidUTF8(label[:90], "") + "…"
	}
	return label
}
