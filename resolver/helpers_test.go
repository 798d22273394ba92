package resolver

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A call given a deadline of its own runs past the request's deadline,
// stops at its own, and stops when the caller goes away.
func TestOutliveDeadline(t *testing.T) {
	req, cancelReq := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelReq()
	long, cancel := outliveDeadline(req, time.Hour)
	defer cancel()
	<-req.Done()
	time.Sleep(10 * time.Millisecond) // the watcher has seen the request's deadline
	if long.Err() != nil {
		t.Fatalf("past the request's deadline: %v, want still running", long.Err())
	}
	if d, ok := long.Deadline(); !ok || time.Until(d) < 50*time.Minute {
		t.Errorf("own deadline %v, want an hour from now", d)
	}

	short, cancelShort := outliveDeadline(context.Background(), 10*time.Millisecond)
	defer cancelShort()
	<-short.Done()
	if !errors.Is(short.Err(), context.DeadlineExceeded) {
		t.Errorf("own deadline: %v", short.Err())
	}

	caller, leave := context.WithCancel(context.Background())
	gone, cancelGone := outliveDeadline(caller, time.Hour)
	defer cancelGone()
	leave()
	select {
	case <-gone.Done():
	case <-time.After(5 * time.Second):
		t.Error("the caller went away and the call went on")
	}

	if same, _ := outliveDeadline(req, 0); same != req {
		t.Error("no deadline of its own: want the request's context")
	}
}
