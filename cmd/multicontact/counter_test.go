package main

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Close waits for the calls in flight while new ones keep arriving (and
// are refused): the counter it waits on counts up and down meanwhile,
// which a sync.WaitGroup forbids (it panics).
func TestACounterMayCountUpWhileWaitedFor(t *testing.T) {
	var c counter
	c.add() // a call in flight
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if c.wait(short) {
		t.Fatal("wait returned with a call in flight")
	}
	stop := make(chan struct{})
	var callers sync.WaitGroup
	for range 8 { // calls arriving during the drain
		callers.Add(1)
		go func() {
			defer callers.Done()
			for {
				select {
				case <-stop:
					return
				default:
					c.add()
					c.done()
				}
			}
		}()
	}
	time.AfterFunc(20*time.Millisecond, c.done) // the call in flight ends
	ctx, cancelWait := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelWait()
	if !c.wait(ctx) {
		t.Error("wait did not see the count reach zero")
	}
	close(stop)
	callers.Wait()
	if !c.wait(ctx) {
		t.Error("wait with nothing in flight did not return at once")
	}
}
