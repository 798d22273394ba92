package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/multicontact/multicontact/graph/graphtest"
	"github.com/multicontact/multicontact/population"
)

// On SIGTERM the service drains: /readyz turns 503 and new calls are
// refused with a retryable UNAVAILABLE at once, while an import in flight
// finishes and is answered; then the subscribers' websockets close with
// 1001 Going Away and a reason, and the process exits, within the grace
// period.
func TestSIGTERMLetsCallsInFlightFinish(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and stops the service")
	}
	graphtest.Require(t)
	store := graphtest.Store(t)
	addr := freeAddr(t)
	svc := startChild(t, addr, "-shutdown-grace", "20s")
	a := &api{t: t, url: "http://" + addr}
	p := a.project()
	ws, err := a.dialWS(p.read)
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe("1", changed, map[string]any{"p": p.id})
	var data bytes.Buffer
	if _, err := population.Write(&data, nil, population.Config{Clients: 3000, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data.Bytes(), []byte("\n"))
	body, w := io.Pipe()
	answered := make(chan error, 1)
	go func() {
		_, err := importHTTP(a.url, p.write, p.id, body)
		answered <- err
	}()
	half := bytes.Join(lines[:len(lines)*6/10], nil) // more than an import reads ahead to choose its path
	if _, err := w.Write(half); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); clientCount(t, store, p.id) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the import wrote nothing")
		}
	}

	start := time.Now()
	if err := svc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for {
		res, err := http.Get(a.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusServiceUnavailable {
				break
			}
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("/readyz did not turn 503 within 2 s of SIGTERM (last: %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("/readyz 503 %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	res, err := http.Post(a.url+"/graphql", "application/json", strings.NewReader(`{"query":"{ __typename }"}`))
	if err != nil {
		t.Fatal(err)
	}
	var refused gqlResponse
	_ = json.NewDecoder(res.Body).Decode(&refused)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || refused.code() != "UNAVAILABLE" || res.Header.Get("Retry-After") == "" {
		t.Errorf("a new call while shutting down: %d %s Retry-After %q, want 503 UNAVAILABLE with Retry-After",
			res.StatusCode, refused.code(), res.Header.Get("Retry-After"))
	}
	if got := a.metric(`multicontact_http_requests_total{code="503",route="/graphql"}`); got == "" || got == "0" {
		t.Errorf("the call refused while shutting down is not in the request metrics (%q)", got)
	}

	// The import in flight goes on to its end and is answered.
	if _, err := w.Write(bytes.Join(lines[len(lines)*6/10:], nil)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := <-answered; err != nil {
		t.Fatalf("the import in flight at SIGTERM: %v", err)
	}
	code, reason := closeAfterEvents(t, ws, 10*time.Second)
	if code != 1001 || reason == "" {
		t.Errorf("the subscription closed with %d %q, want 1001 Going Away and a reason", code, reason)
	}
	exited := make(chan error, 1)
	go func() { exited <- svc.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the service exited with %v, want 0; its log:\n%s", err, svc.log.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the service had not exited 20 s after SIGTERM")
	}
	t.Logf("exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	d, err := store.DumpProject(t.Context(), p.id)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.Clients); n != 3000 {
		t.Errorf("%d clients after the acknowledged import, want 3000", n)
	}
}

// An import that is still running when the grace period ends is cut and
// not acknowledged: its answer carries no successful summary. The service
// exits shortly after the grace period.
func TestSIGTERMCutsWhatOutlivesTheGracePeriod(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and stops the service")
	}
	graphtest.Require(t)
	addr := freeAddr(t)
	svc := startChild(t, addr, "-shutdown-grace", "2s")
	a := &api{t: t, url: "http://" + addr}
	p := a.project()
	body, w := io.Pipe()
	defer body.Close()
	answered := make(chan error, 1)
	go func() {
		_, err := importHTTP(a.url, p.write, p.id, body)
		answered <- err
	}()
	go func() { // a long import, still streaming: a line every 100 ms until the connection is cut
		for i := 0; ; i++ {
			line := fmt.Sprintf(`{"op":"client","id":"c%d","channel":{"kind":"web","account":"site"}}`+"\n", i)
			if _, err := w.Write([]byte(line)); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond) // the import is under way
	start := time.Now()
	if err := svc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-answered:
		if err == nil {
			t.Error("an import cut by the shutdown was answered as a success")
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the import was neither answered nor cut 15 s after SIGTERM with a 2 s grace period; the service's goroutines:\n%s", svc.dump())
	}
	exited := make(chan error, 1)
	go func() { exited <- svc.cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Fatal("the service had not exited 15 s after SIGTERM with a 2 s grace period")
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("exited %s after SIGTERM, before the grace period ended", d)
	} else {
		t.Logf("exited %s after SIGTERM (grace 2 s)", d.Round(time.Millisecond))
	}
}

// closeAfterEvents reads the subscription's events until the server closes
// the websocket, and returns the close code and reason.
func closeAfterEvents(t *testing.T, ws *wsClient, timeout time.Duration) (websocket.StatusCode, string) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; {
		_, err := ws.next(time.Until(deadline))
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		if err != nil {
			t.Fatalf("the websocket was not closed within %s: %v", timeout, err)
		}
	}
}

// A query or mutation sent over an open websocket counts as a call in
// flight, as an HTTP one does: while the service drains it is refused with
// a retryable UNAVAILABLE instead of running past the drain unseen.
func TestAWebsocketCallIsRefusedWhileTheServiceDrains(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	ws, err := a.dialWS(p.read)
	if err != nil {
		t.Fatal(err)
	}
	query := `query($p: ID!) { project(id: $p) { id } }`
	ask := func(id string) wsMessage {
		ws.subscribe(id, query, map[string]any{"p": p.id})
		for {
			m, err := ws.next(10 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if m.ID == id && m.Type != "complete" {
				return m
			}
		}
	}
	if m := ask("1"); m.Type != "next" || strings.Contains(string(m.Payload), `"errors"`) {
		t.Fatalf("a query over the websocket answered %s %s", m.Type, m.Payload)
	}
	a.m.draining.Store(true)
	defer a.m.draining.Store(false)
	if m := ask("2"); !strings.Contains(string(m.Payload), `"code":"UNAVAILABLE"`) {
		t.Errorf("a query over the websocket while draining answered %s %s, want UNAVAILABLE", m.Type, m.Payload)
	}
}
