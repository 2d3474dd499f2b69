package apptest

import (
	"sync"
	"testing"
	"time"
)

// Wait answers at once with what is there, wakes for what is added later
// (every waiter), and gives up after its time.
func TestRecorderWait(t *testing.T) {
	var r Recorder[int]
	r.Add(1)
	if v, ok := r.Wait(1, time.Second); !ok || v != 1 {
		t.Fatalf("Wait(1) = %v, %v", v, ok)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if v, ok := r.Wait(3, 10*time.Second); !ok || v != 3 {
				t.Errorf("Wait(3) = %v, %v", v, ok)
			}
		})
	}
	time.Sleep(10 * time.Millisecond)
	r.Add(2)
	r.Add(3)
	wg.Wait()
	start := time.Now()
	if v, ok := r.Wait(4, 50*time.Millisecond); ok || v != 0 {
		t.Fatalf("Wait(4) = %v, %v; want nothing", v, ok)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("Wait(4) gave up after %v", d)
	}
}

func TestClockAdvance(t *testing.T) {
	var c Clock
	c.Advance(time.Hour)
	if d := time.Until(c.Now()); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("an hour ahead, the clock is %v ahead", d)
	}
}
