package resolver

import (
	"errors"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// stuckConn is a websocket whose peer reads nothing: a write blocks until
// the connection is closed.
type stuckConn struct {
	transport.WebsocketConn
	closed chan struct{}
}

func (c *stuckConn) WriteJSON(any) error {
	<-c.closed
	return errors.New("use of closed network connection")
}

func (c *stuckConn) Close() error {
	close(c.closed)
	return nil
}

// A peer that stops reading is dropped after the write timeout, so that its
// connection, subscriptions and gqlgen's lock are let go.
func TestAWebsocketPeerThatStopsReadingIsDropped(t *testing.T) {
	defer func(d time.Duration) { wsWriteTimeout = d }(wsWriteTimeout)
	wsWriteTimeout = 50 * time.Millisecond
	c := &closableConn{WebsocketConn: &stuckConn{closed: make(chan struct{})}}
	done := make(chan error, 1)
	go func() { done <- c.WriteJSON(map[string]string{"type": "next"}) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a write the peer never took succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a write to a peer that reads nothing is still blocked after 5 s")
	}
}
