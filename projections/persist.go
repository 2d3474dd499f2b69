package projections

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/jsonx"
)

// Doc names one document of a persistent [Collection]: the model with Key,
// or, with Index set, the list of unsettled models that a [Broadcast] event
// of stream {Tenant: Key.Tenant, User: Key.ID} reaches.
type Doc struct {
	Key
	Index bool
}

// Stream is the stream whose index an Index document is.
func (d Doc) Stream() events.Stream { return events.Stream{Tenant: d.Tenant, User: d.ID} }

// Backing is where a persistent [Collection] keeps its documents: the JSON
// its host last wrote from [Collection.Changes]. Load returns a document, or
// ok false if there is none. Load is called without the collection's locks,
// from Apply (the runner's goroutine) and from readers.
type Backing interface {
	Load(d Doc) (data []byte, ok bool, err error)
}

// Change is a document changed since it was last flushed: its JSON, or nil
// Data when the document is to be deleted.
type Change struct {
	Doc  Doc
	Data []byte

	slot *slot
	ver  uint64
}

// Persistent is a projection whose state its host keeps in documents (a
// [Collection] after [Collection.Persist]). The host applies events, writes
// [Persistent.Changes] together with its checkpoint, and then hands the same
// changes back to [Persistent.Flushed].
type Persistent interface {
	Projection
	Resetter
	// Persist makes the projection load its documents from b and keep at
	// most cache unchanged documents in memory (0: DefaultCache).
	Persist(b Backing, cache int) error
	// Changes returns the documents changed since they were last flushed.
	Changes() ([]Change, error)
	// Flushed reports changes as written; documents changed again since
	// Changes stay dirty.
	Flushed(changes []Change)
	// Dirty is the number of documents changed since they were last flushed.
	Dirty() int
	// Document returns the JSON of the model with key k, from memory or the
	// backing.
	Document(k Key) ([]byte, bool, error)
}

var (
	_ Persistent = (*Collection[SecurityInfo, *SecurityInfo])(nil)
	_ Persistent = (*SecurityInfos)(nil)
)

// DefaultCache is how many unchanged documents a persistent collection keeps
// in memory when Persist is given 0.
const DefaultCache = 4096

// Persist turns the collection into a cache in front of b: Apply loads the
// documents it needs from b, changed documents stay in memory until the
// host flushes them, and at most cache unchanged ones are kept besides (the
// least recently written go first). Call it before the first Apply.
func (c *Collection[T, P]) Persist(b Backing, cache int) error {
	if b == nil {
		return vakt.Errorf(vakt.CodeInvalidArgument, "projection %s: no backing", c.name)
	}
	c.w.Lock()
	defer c.w.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.models) > 0 || len(c.open) > 0 {
		return vakt.Errorf(vakt.CodeInvalidArgument, "projection %s already holds models; persist it before applying events", c.name)
	}
	if cache <= 0 {
		cache = DefaultCache
	}
	c.backing, c.cache = b, cache
	c.clean.init()
	c.dirty = nil
	return nil
}

// load makes sure the documents that rec needs are in memory (c.w held).
func (c *Collection[T, P]) load(rec *events.Record, k Key, r Route) error {
	switch r {
	case Update, Upsert, Create:
		if r != Create {
			if err := c.loadModel(k); err != nil {
				return err
			}
		}
		if c.settles {
			return c.loadIndex(rec.Stream())
		}
	case Broadcast:
		if !c.settles {
			return nil
		}
		s := rec.Stream()
		if err := c.loadIndex(s); err != nil {
			return err
		}
		for k := range c.open[s].keys {
			if err := c.loadModel(k); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Collection[T, P]) loadModel(k Key) error {
	if c.models[k] != nil {
		return nil
	}
	d := Doc{Key: k}
	b, ok, err := c.backing.Load(d)
	if err != nil {
		return c.loadErr(d, err)
	}
	if !ok {
		return nil
	}
	m, err := c.decode(d, b)
	if err != nil {
		return err
	}
	e := &entry[T]{m: m}
	e.doc = d
	c.mu.Lock()
	c.models[k] = e
	c.clean.pushFront(&e.slot)
	c.mu.Unlock()
	return nil
}

// loadIndex loads a stream's index; a stream without one gets an empty,
// clean index, so that the next event of the stream does not ask again.
func (c *Collection[T, P]) loadIndex(s events.Stream) error {
	if c.open[s] != nil {
		return nil
	}
	ix := newIndex(s)
	b, ok, err := c.backing.Load(ix.doc)
	if err != nil {
		return c.loadErr(ix.doc, err)
	}
	if ok {
		var keys []Key
		if err := jsonx.Unmarshal(b, &keys); err != nil {
			return vakt.Errorf(vakt.CodeInternal, "projection %s: stored %s does not decode (%v); rebuild the projection", c.name, describe(ix.doc), err)
		}
		for _, k := range keys {
			ix.keys[k] = struct{}{}
		}
	}
	c.mu.Lock()
	c.open[s] = ix
	c.clean.pushFront(&ix.slot)
	c.mu.Unlock()
	return nil
}

func (c *Collection[T, P]) decode(d Doc, b []byte) (*T, error) {
	m := new(T)
	if err := jsonx.Unmarshal(b, m); err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "projection %s: stored %s does not decode (%v); rebuild the projection", c.name, describe(d), err)
	}
	return m, nil
}

func (c *Collection[T, P]) loadErr(d Doc, err error) error {
	return fmt.Errorf("projection %s: load %s: %w", c.name, describe(d), err)
}

func describe(d Doc) string {
	if d.Index {
		return "index of " + d.Stream().String()
	}
	return fmt.Sprintf("model %q/%q", d.Tenant, d.ID)
}

// touch records that a document changed (c.mu held for writing).
func (c *Collection[T, P]) touch(s *slot) {
	if c.backing == nil {
		return
	}
	s.ver++
	if s.dirty {
		return
	}
	c.clean.remove(s)
	s.dirty = true
	c.dirty = append(c.dirty, s)
}

// Dirty implements [Persistent].
func (c *Collection[T, P]) Dirty() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.dirty)
}

// Changes implements [Persistent]: the JSON of every document changed since
// it was last flushed; an index that lists nothing is to be deleted.
func (c *Collection[T, P]) Changes() ([]Change, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]Change, 0, len(c.dirty))
	for _, s := range c.dirty {
		ch := Change{Doc: s.doc, slot: s, ver: s.ver}
		if s.doc.Index {
			ix := c.open[s.doc.Stream()]
			if len(ix.keys) > 0 {
				keys := make([]Key, 0, len(ix.keys))
				for k := range ix.keys {
					keys = append(keys, k)
				}
				slices.SortFunc(keys, func(a, b Key) int {
					return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.ID, b.ID))
				})
				b, err := jsonx.Marshal(keys)
				if err != nil {
					return nil, vakt.Errorf(vakt.CodeInternal, "projection %s: encode %s: %v", c.name, describe(s.doc), err)
				}
				ch.Data = b
			}
		} else {
			b, err := jsonx.Marshal(c.models[s.doc.Key].m)
			if err != nil {
				return nil, vakt.Errorf(vakt.CodeInternal, "projection %s: encode %s: %v", c.name, describe(s.doc), err)
			}
			ch.Data = b
		}
		out = append(out, ch)
	}
	return out, nil
}

// Flushed implements [Persistent]. Flushed documents join the clean ones,
// and the least recently written clean documents beyond the cache size
// leave memory.
func (c *Collection[T, P]) Flushed(changes []Change) {
	c.w.Lock()
	defer c.w.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range changes {
		s := ch.slot
		if s == nil || !s.dirty || s.ver != ch.ver || c.slotOf(s.doc) != s {
			continue // changed again, or forgotten by a Reset
		}
		s.dirty = false
		c.clean.pushFront(s)
	}
	c.dirty = slices.DeleteFunc(c.dirty, func(s *slot) bool { return !s.dirty })
	for c.clean.n > c.cache {
		s := c.clean.back()
		c.clean.remove(s)
		if s.doc.Index {
			delete(c.open, s.doc.Stream())
		} else {
			delete(c.models, s.doc.Key)
		}
	}
}

// slotOf returns the bookkeeping of the document in memory named d.
func (c *Collection[T, P]) slotOf(d Doc) *slot {
	if d.Index {
		if ix := c.open[d.Stream()]; ix != nil {
			return &ix.slot
		}
		return nil
	}
	if e := c.models[d.Key]; e != nil {
		return &e.slot
	}
	return nil
}

// Find returns a copy of the model with key k, reading the backing of a
// persistent collection if the model is not in memory (without keeping it:
// only the runner's Apply fills the cache, so a reader can never put back
// an older copy).
func (c *Collection[T, P]) Find(k Key) (T, bool, error) {
	var zero T
	c.mu.RLock()
	if e := c.models[k]; e != nil {
		v := P(e.m).Clone()
		c.mu.RUnlock()
		return v, true, nil
	}
	b := c.backing
	c.mu.RUnlock()
	if b == nil {
		return zero, false, nil
	}
	d := Doc{Key: k}
	data, ok, err := b.Load(d)
	if err != nil {
		return zero, false, c.loadErr(d, err)
	}
	if !ok {
		return zero, false, nil
	}
	m, err := c.decode(d, data)
	if err != nil {
		return zero, false, err
	}
	return *m, true, nil
}

// Document implements [Persistent]: the model's JSON as the host stores it.
// A model in memory may be ahead of the backing (changed, not yet flushed).
func (c *Collection[T, P]) Document(k Key) ([]byte, bool, error) {
	c.mu.RLock()
	if e := c.models[k]; e != nil {
		b, err := jsonx.Marshal(e.m)
		c.mu.RUnlock()
		if err != nil {
			return nil, false, vakt.Errorf(vakt.CodeInternal, "projection %s: encode %s: %v", c.name, describe(Doc{Key: k}), err)
		}
		return b, true, nil
	}
	b := c.backing
	c.mu.RUnlock()
	if b == nil {
		return nil, false, nil
	}
	d := Doc{Key: k}
	data, ok, err := b.Load(d)
	if err != nil {
		return nil, false, c.loadErr(d, err)
	}
	return data, ok, nil
}

// slot is a document's bookkeeping in a persistent collection: whether it
// changed since the last flush, a version that every change bumps (so that
// a flush of an older version leaves it dirty), and its place in the list of
// clean documents.
type slot struct {
	doc        Doc
	dirty      bool
	ver        uint64
	prev, next *slot
}

// lru is a list of clean documents, most recently written first.
type lru struct {
	root slot
	n    int
}

func (l *lru) init() {
	l.root.prev, l.root.next = &l.root, &l.root
	l.n = 0
}

func (l *lru) pushFront(s *slot) {
	if l.root.next == nil {
		l.init()
	}
	s.prev, s.next = &l.root, l.root.next
	l.root.next.prev = s
	l.root.next = s
	l.n++
}

func (l *lru) remove(s *slot) {
	if s.next == nil {
		return // not listed
	}
	s.prev.next, s.next.prev = s.next, s.prev
	s.prev, s.next = nil, nil
	l.n--
}

func (l *lru) back() *slot { return l.root.prev }
