package engine

import (
	"container/list"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/vaktmfa/vakt/events"
)

// Clone returns a deep copy of the state: Evolve on the copy never changes
// the original. (Byte slices and strings are shared: nothing changes them in
// place.)
func (u *User) Clone() *User {
	c := *u
	c.Authenticators = slices.Clone(u.Authenticators)
	c.Challenges = slices.Clone(u.Challenges)
	for i := range c.Challenges {
		if sc := c.Challenges[i].Code; sc != nil {
			cp := *sc
			c.Challenges[i].Code = &cp
		}
		if p := c.Challenges[i].Push; p != nil {
			cp := *p
			c.Challenges[i].Push = &cp
		}
	}
	c.Finished = slices.Clone(u.Finished)
	c.PushRefusals = slices.Clone(u.PushRefusals)
	c.Devices = slices.Clone(u.Devices)
	c.RecoveryCodes = slices.Clone(u.RecoveryCodes)
	if u.TemporaryPass != nil {
		tp := *u.TemporaryPass
		c.TemporaryPass = &tp
	}
	return &c
}

// userCache keeps the states of recently used users (LRU). A cached state is
// never changed: a new state replaces it.
type userCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *cached, most recent first
	items map[events.Stream]*list.Element
}

type cached struct {
	stream events.Stream
	u      *User
	stale  int // events since the last snapshot
}

func newUserCache(max int) *userCache {
	return &userCache{max: max, order: list.New(), items: map[events.Stream]*list.Element{}}
}

func (c *userCache) get(s events.Stream) (*cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[s]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cached), true
}

func (c *userCache) put(s events.Stream, u *User, stale int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[s]; ok {
		// Keep the newest state if two commands raced to store theirs.
		if el.Value.(*cached).u.Head.Seq > u.Head.Seq {
			return
		}
		el.Value = &cached{stream: s, u: u, stale: stale}
		c.order.MoveToFront(el)
		return
	}
	c.items[s] = c.order.PushFront(&cached{stream: s, u: u, stale: stale})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cached).stream)
	}
}

func (c *userCache) drop(s events.Stream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[s]; ok {
		c.order.Remove(el)
		delete(c.items, s)
	}
}

// snapshotWriter writes snapshots in the background, the latest per stream,
// so that a command never waits for one.
type snapshotWriter struct {
	store Snapshots
	mu    sync.Mutex
	queue map[events.Stream]Snapshot
	busy  bool
	wake  chan struct{}
	idle  *sync.Cond
}

func newSnapshotWriter(store Snapshots) *snapshotWriter {
	w := &snapshotWriter{store: store, queue: map[events.Stream]Snapshot{}, wake: make(chan struct{}, 1)}
	w.idle = sync.NewCond(&w.mu)
	go w.loop()
	return w
}

func (w *snapshotWriter) put(s events.Stream, snap Snapshot) {
	w.mu.Lock()
	w.queue[s] = snap
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *snapshotWriter) loop() {
	for range w.wake {
		for {
			w.mu.Lock()
			if len(w.queue) == 0 {
				w.busy = false
				w.idle.Broadcast()
				w.mu.Unlock()
				break
			}
			w.busy = true
			var s events.Stream
			var snap Snapshot
			for s, snap = range w.queue {
				break
			}
			delete(w.queue, s)
			w.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = w.store.Put(ctx, s, snap)
			cancel()
		}
	}
}

// flush waits until every queued snapshot is written.
func (w *snapshotWriter) flush() {
	w.mu.Lock()
	for len(w.queue) > 0 || w.busy {
		w.idle.Wait()
	}
	w.mu.Unlock()
}
