package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multicontact/multicontact/identity"
)

// Outcomes of an attempt, for metrics.
const (
	OutcomeDelivered = "delivered" // answered 2xx
	OutcomeFailed    = "failed"    // answered otherwise, or not within Timeout
	OutcomeRefused   = "refused"   // the endpoint resolved to an address that is not Public
)

// Config configures a Manager; zero fields take the defaults.
type Config struct {
	Keys  Opener
	Guard Guard
	// Schedule is when failed deliveries are tried again (DefaultSchedule).
	Schedule Schedule
	// Timeout bounds an attempt: no 2xx answer within it is a failure (10 s).
	Timeout time.Duration
	// Poll is how often an idle webhook reads its project's log for
	// events committed through other replicas (1 s); this replica's
	// commits wake it at once (Nudge).
	Poll time.Duration
	// Scan is how often the list of webhooks is read, to start working new
	// or resumed ones and to take over those of a replica that died (5 s).
	Scan time.Duration
	// LeaseTTL is how long a webhook's lease lasts unless renewed: a
	// replica that dies delays its webhooks by at most this (30 s). It must
	// exceed Timeout, which an attempt may last.
	LeaseTTL time.Duration
	// Owner names this replica in leases and attempts (random).
	Owner string
	Log   *slog.Logger
	// OnAttempt, if set, hears every attempt's outcome and, when
	// delivered, how long after its commit the event arrived.
	OnAttempt func(outcome string, lag time.Duration)
	// OnPause, if set, hears that a webhook was paused for failing too long.
	OnPause func()
}

// Manager runs one worker per webhook (a goroutine each, so a slow or dead
// endpoint delays only its own webhook). A worker delivers only while it
// holds the webhook's lease in the store; on other replicas the same
// webhook's worker waits to take it over.
type Manager struct {
	cfg    Config
	client *http.Client
	store  Store

	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
	scan chan struct{}

	mu      sync.Mutex
	workers map[Ref]*worker
	started bool
}

type worker struct {
	wake    chan struct{} // new events, or a change: look now
	refresh atomic.Bool   // the webhook changed (replay, resume): read it again
}

// New returns a manager; Start starts it.
func New(cfg Config) *Manager {
	if cfg.Schedule == (Schedule{}) {
		cfg.Schedule = DefaultSchedule
	}
	cfg.Timeout = cmp(cfg.Timeout, 10*time.Second)
	cfg.Poll = cmp(cfg.Poll, time.Second)
	cfg.Scan = cmp(cfg.Scan, 5*time.Second)
	cfg.LeaseTTL = cmp(cfg.LeaseTTL, 30*time.Second)
	if cfg.Owner == "" {
		cfg.Owner = "webhooks_" + strings.ToLower(rand.Text()[:16])
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	m := &Manager{cfg: cfg, scan: make(chan struct{}, 1), workers: map[Ref]*worker{}}
	m.ctx, m.stop = context.WithCancel(context.Background())
	// The Control hook checks the address actually dialed; no proxy, so
	// that the dialed address is the endpoint's; redirects are answers
	// (non-2xx), never followed to somewhere unchecked.
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: cfg.Guard.Control}
	m.client = &http.Client{
		Transport: &http.Transport{DialContext: dialer.DialContext, TLSHandshakeTimeout: cfg.Timeout,
			ResponseHeaderTimeout: cfg.Timeout, MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return m
}

func cmp(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// CheckURL refuses a URL that the Guard would not let a delivery reach.
func (m *Manager) CheckURL(ctx context.Context, raw string) error {
	return m.cfg.Guard.CheckURL(ctx, raw)
}

// Start starts working the webhooks of store; Close stops it. It is
// separate from New because the store that implements Store is opened
// with the manager as its notifier.
func (m *Manager) Start(store Store) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started || m.ctx.Err() != nil {
		return
	}
	m.started, m.store = true, store
	m.wg.Add(1)
	go m.supervise()
}

// Close stops every worker, lets each give its lease up (another replica
// takes the webhook over at once) and waits for them. An attempt in
// flight is cut short and recorded as such; it is made again.
func (m *Manager) Close() {
	m.stop()
	m.wg.Wait()
	m.client.CloseIdleConnections()
}

// Nudge wakes the workers of project: its log has grown (graph.Notifier).
// It never waits.
func (m *Manager) Nudge(project string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for ref, w := range m.workers {
		if ref.Project == project {
			poke(w.wake)
		}
	}
}

// Changed says that a webhook was created, resumed, replayed or deleted
// through this replica: its worker reads it again, or starts, at once.
func (m *Manager) Changed(ref Ref) {
	m.mu.Lock()
	if w := m.workers[ref]; w != nil {
		w.refresh.Store(true)
		poke(w.wake)
	}
	m.mu.Unlock()
	poke(m.scan)
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// supervise starts a worker for every active webhook that has none, at
// every Scan and when told of a change.
func (m *Manager) supervise() {
	defer m.wg.Done()
	for {
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.Scan+m.cfg.Timeout)
		refs, err := m.store.ActiveWebhooks(ctx)
		cancel()
		if err != nil && m.ctx.Err() == nil {
			m.cfg.Log.Warn("list webhooks", "err", err)
		}
		m.mu.Lock()
		for _, ref := range refs {
			if m.workers[ref] == nil && m.ctx.Err() == nil {
				w := &worker{wake: make(chan struct{}, 1)}
				m.workers[ref] = w
				m.wg.Add(1)
				go m.run(ref, w)
			}
		}
		m.mu.Unlock()
		if !sleep(m.ctx, m.cfg.Scan, m.scan) {
			return
		}
	}
}

// sleep waits d, or until wake; false when ctx ended.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-t.C:
	}
	return true
}

// run is a webhook's worker: it takes the lease when it is free and
// delivers until the webhook is paused or deleted or the manager closes.
func (m *Manager) run(ref Ref, w *worker) {
	defer m.wg.Done()
	defer func() {
		m.mu.Lock()
		delete(m.workers, ref)
		m.mu.Unlock()
	}()
	log := m.cfg.Log.With("project", ref.Project, "webhook", ref.ID)
	held := false
	defer func() {
		if held { // so that another replica takes over now, not when the lease expires
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := m.store.ReleaseWebhook(ctx, ref, m.cfg.Owner); err != nil {
				log.Warn("could not release the webhook's lease; it expires by itself", "err", err)
			}
		}
	}()
	pause := time.Second // after a store error, doubling to the lease's TTL
	for m.ctx.Err() == nil {
		w.refresh.Store(false)
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.Timeout)
		h, ok, gone, err := m.store.AcquireWebhook(ctx, ref, m.cfg.Owner, m.cfg.LeaseTTL)
		cancel()
		switch {
		case err != nil:
			if m.ctx.Err() == nil {
				log.Warn("take the webhook's lease", "err", err)
			}
			held = false
			sleep(m.ctx, pause, nil)
			pause = min(2*pause, m.cfg.LeaseTTL)
			continue
		case gone: // paused or deleted: a later scan starts a worker if it comes back
			return
		case !ok: // another replica works it; look again in case it dies (not at every nudge)
			held = false
			sleep(m.ctx, m.cfg.LeaseTTL/2, nil)
			continue
		}
		held = true
		secret, _, err := m.cfg.Keys.Open(h.SealedSecret, SecretContext(ref))
		if err != nil {
			// Not the endpoint's fault: leave the webhook to a replica
			// whose keys open it, and record nothing.
			log.Error("cannot open the webhook's secret: the replicas' secret keys differ?", "err", err)
			m.release(ref)
			held = false
			sleep(m.ctx, m.cfg.LeaseTTL, nil)
			continue
		}
		if err := m.deliver(log, w, h, secret); err != nil {
			if m.ctx.Err() == nil {
				log.Warn("webhook delivery", "err", err)
			}
			sleep(m.ctx, pause, nil)
			pause = min(2*pause, m.cfg.LeaseTTL)
			continue
		}
		pause = time.Second
	}
}

func (m *Manager) release(ref Ref) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = m.store.ReleaseWebhook(ctx, ref, m.cfg.Owner) // it expires by itself otherwise
}

// pageSize is how many events a worker reads at once.
const pageSize = 100

// deliver works the webhook h under the lease just taken, one event at a
// time in log order, until the lease is due for renewal (the caller takes
// it again and reads the webhook afresh), something changed under it, or
// the manager closes. A store error is returned.
func (m *Manager) deliver(log *slog.Logger, w *worker, h Hook, secret string) error {
	renewed := time.Now()
	renewEvery := m.cfg.LeaseTTL / 3
	for m.ctx.Err() == nil && !w.refresh.Load() {
		due := renewEvery - time.Since(renewed)
		if due <= 0 {
			return nil
		}
		if wait := time.Until(h.NextAttemptAt); wait > 0 {
			sleep(m.ctx, min(wait, due), w.wake) // a replay or resume (refresh) ends the wait
			continue
		}
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.Timeout)
		events, err := m.store.EventsAfter(ctx, h.Project, h.Cursor, pageSize)
		cancel()
		if err != nil {
			return fmt.Errorf("read the event log after %d: %w", h.Cursor, err)
		}
		var next *identity.Event
		for i := range events {
			if h.Takes(events[i].Type) {
				next = &events[i]
				break
			}
		}
		if next == nil {
			if len(events) == 0 {
				sleep(m.ctx, min(m.cfg.Poll, due), w.wake)
				continue
			}
			// None of these is for this webhook: move past them.
			last := events[len(events)-1].Seq
			ctx, cancel := context.WithTimeout(m.ctx, m.cfg.Timeout)
			ok, err := m.store.SkipEvents(ctx, h.Ref, m.cfg.Owner, h.Epoch, h.Cursor, last, m.cfg.LeaseTTL)
			cancel()
			if err != nil || !ok {
				return err
			}
			h.Cursor, renewed = last, time.Now()
			continue
		}
		done, err := m.attempt(log, &h, secret, *next)
		if err != nil || !done {
			return err
		}
		renewed = time.Now()
	}
	return nil
}

// attempt claims and makes one attempt at e and records its outcome,
// updating h. done is false when the claim was refused (the lease, the
// epoch or the cursor moved) or the webhook is now paused.
func (m *Manager) attempt(log *slog.Logger, h *Hook, secret string, e identity.Event) (done bool, err error) {
	started := time.Now().UTC()
	c := Claim{Ref: h.Ref, Owner: m.cfg.Owner, Epoch: h.Epoch, Cursor: h.Cursor, Seq: e.Seq,
		EventID: EventID(h.Project, e.Seq), Type: e.Type, At: started}
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.Timeout)
	n, ok, err := m.store.ClaimDelivery(ctx, c, m.cfg.LeaseTTL)
	cancel()
	if err != nil || !ok {
		return false, err
	}
	h.Cursor = e.Seq - 1
	status, postErr := m.post(h.URL, secret, e, n)
	now := time.Now().UTC()
	r := Result{Ref: h.Ref, Owner: m.cfg.Owner, Epoch: h.Epoch, Seq: e.Seq, Attempt: n, At: now, Status: status}
	outcome := OutcomeFailed
	switch {
	case postErr == nil:
		outcome, r.Delivered = OutcomeDelivered, true
		h.Cursor, h.Failures, h.FailingSince, h.NextAttemptAt = e.Seq, 0, time.Time{}, time.Time{}
	case m.ctx.Err() != nil: // stopping: not the endpoint's failure; the next worker tries again
		r.Abandoned, r.Error = true, "the replica stopped before an answer"
	default:
		var refused *RefusedAddressError
		r.Error = postErr.Error()
		if errors.As(postErr, &refused) {
			// The record is the tenant's to read: which private address
			// its URL resolved to stays in the service's log.
			outcome = OutcomeRefused
			r.Error = "the URL resolved to a loopback, private, link-local or metadata address, which webhooks may not reach"
			m.cfg.Log.Warn("webhook delivery refused", "project", h.Ref.Project, "webhook", h.Ref.ID, "err", postErr)
		}
		if h.FailingSince.IsZero() {
			h.FailingSince = started
		}
		h.Failures++
		next, pause := m.cfg.Schedule.Next(h.Failures, h.FailingSince, now)
		r.Failures, r.FailingSince, r.NextTry = h.Failures, h.FailingSince, next
		if pause {
			r.PausedReason = fmt.Sprintf("no 2xx answer since %s (%d attempts); the last: %s",
				h.FailingSince.Format(time.RFC3339), h.Failures, r.Error)
		}
		h.NextAttemptAt = next
	}
	if m.cfg.OnAttempt != nil && !r.Abandoned {
		var lag time.Duration
		if r.Delivered {
			lag = now.Sub(e.At)
		}
		m.cfg.OnAttempt(outcome, lag)
	}
	// Recorded even while stopping, so that the attempt does not stay open.
	ctx, cancel = context.WithTimeout(context.WithoutCancel(m.ctx), m.cfg.Timeout)
	defer cancel()
	if err := m.store.FinishDelivery(ctx, r); err != nil {
		return false, fmt.Errorf("record attempt %d at event %d: %w", n, e.Seq, err)
	}
	if r.PausedReason != "" {
		log.Warn("webhook paused: its endpoint failed for too long", "failures", h.Failures, "since", h.FailingSince)
		if m.cfg.OnPause != nil {
			m.cfg.OnPause()
		}
		return false, nil
	}
	return !r.Abandoned, nil
}

// post sends e to url, signed; a nil error means a 2xx answer in time.
func (m *Manager) post(target, secret string, e identity.Event, attempt int) (status int, err error) {
	body, err := Body(e)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Multicontact-Webhook/1")
	req.Header.Set(HeaderEventID, EventID(e.Project, e.Seq))
	req.Header.Set(HeaderAttempt, strconv.Itoa(attempt))
	req.Header.Set(HeaderSignature, Signature(secret, time.Now(), body))
	res, err := m.client.Do(req)
	if err != nil {
		var ue *url.Error // its text repeats the URL, which may carry a token: keep only the cause
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("no answer within %s", m.cfg.Timeout)
		}
		var refused *RefusedAddressError
		if errors.As(err, &refused) {
			return 0, err
		}
		m.cfg.Log.Debug("webhook delivery failed", "err", err)
		return 0, errors.New(networkCause(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // lets the connection be reused
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return res.StatusCode, fmt.Errorf("answered %d", res.StatusCode)
	}
	return res.StatusCode, nil
}

// networkCause says why a delivery failed on the network, for the tenant
// who reads the attempt: without the service's own addresses (the local
// end of a connection, the DNS server asked), which the error's text
// holds and which stay in the service's log.
func networkCause(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		if dns.IsNotFound {
			return "the URL's host does not resolve (no such host)"
		}
		return "the URL's host could not be resolved"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		cause := "the network failed"
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			cause = sys.Err.Error()
		} else if op.Timeout() {
			cause = "timeout"
		}
		switch op.Op {
		case "dial":
			return "could not connect to the endpoint (" + cause + ")"
		case "read":
			return "the connection broke while waiting for the answer (" + cause + ")"
		case "write":
			return "the connection broke while sending the event (" + cause + ")"
		}
		return "the connection failed (" + cause + ")"
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the endpoint closed the connection without an answer"
	}
	return err.Error() // TLS and HTTP errors name the endpoint, never the service
}
