package broker_test

import (
	"testing"

	"github.com/multicontact/multicontact/broker"
	"github.com/multicontact/multicontact/identity"
)

func TestPublishDeliversByProjectAndDropsSlowSubscribers(t *testing.T) {
	b := broker.New()
	var drops int
	b.OnDrop = func(string) { drops++ }
	fast := b.Subscribe("a", 10)
	slow := b.Subscribe("a", 1)
	other := b.Subscribe("b", 10)
	defer fast.Close()
	defer other.Close()

	b.Publish([]identity.Event{{Project: "a", Seq: 1}, {Project: "a", Seq: 2}})

	for want := int64(1); want <= 2; want++ {
		if got := (<-fast.C).Seq; got != want {
			t.Errorf("fast got seq %d, want %d", got, want)
		}
	}
	if got := (<-slow.C).Seq; got != 1 {
		t.Errorf("slow got seq %d, want 1", got)
	}
	if _, ok := <-slow.C; ok || !slow.Dropped() {
		t.Error("the slow subscriber should be dropped with its channel closed")
	}
	if drops != 1 {
		t.Errorf("OnDrop called %d times, want 1", drops)
	}
	select {
	case e := <-other.C:
		t.Errorf("project b received an event of project %s", e.Project)
	default:
	}
	slow.Close() // closing a dropped subscription is harmless
	if got := b.Subscribers(); got != 2 {
		t.Errorf("Subscribers() = %d, want 2", got)
	}
}
