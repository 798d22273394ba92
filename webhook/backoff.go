package webhook

import (
	"math/rand/v2"
	"time"
)

// Schedule is when a failed delivery is tried again: First after the
// first failure, doubling up to Max, each pause jittered (between half and
// all of it) so that the retries of many webhooks do not arrive together;
// a webhook whose event has failed for GiveUp is paused.
type Schedule struct {
	First  time.Duration
	Max    time.Duration
	GiveUp time.Duration
}

// DefaultSchedule retries after 10 s, 20 s, ... up to an hour apart, and
// pauses after 24 hours of failures (about 30 attempts).
var DefaultSchedule = Schedule{First: 10 * time.Second, Max: time.Hour, GiveUp: 24 * time.Hour}

// Delay is the pause after the n-th failure in a row (n >= 1); jitter is
// a number in [0, 1).
func (s Schedule) Delay(n int, jitter float64) time.Duration {
	d := s.First
	for i := 1; i < n && d < s.Max; i++ {
		d *= 2
	}
	d = min(d, s.Max)
	return d/2 + time.Duration(jitter*float64(d/2))
}

// Next is when to try again after the n-th failure in a row, at now, of an
// event failing since since; pause is true once it has failed for GiveUp.
func (s Schedule) Next(n int, since, now time.Time) (next time.Time, pause bool) {
	if now.Sub(since) >= s.GiveUp {
		return time.Time{}, true
	}
	return now.Add(s.Delay(n, rand.Float64())), false
}
