package projections_test

import (
	"bytes"
	"errors"
	"maps"
	"sync"
	"testing"

	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/jsonx"
	"github.com/vaktmfa/vakt/projections"
)

// memBacking is a Backing in a map, as a host would keep it.
type memBacking struct {
	mu    sync.Mutex
	docs  map[projections.Doc][]byte
	loads int
	fail  bool
}

func (b *memBacking) Load(d projections.Doc) ([]byte, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail {
		return nil, false, errors.New("backing down")
	}
	b.loads++
	v, ok := b.docs[d]
	return v, ok, nil
}

// flush stores a collection's changes, as a host does.
func (b *memBacking) flush(t testing.TB, p projections.Persistent) int {
	t.Helper()
	chs, err := p.Changes()
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	for _, ch := range chs {
		if ch.Data == nil {
			delete(b.docs, ch.Doc)
		} else {
			b.docs[ch.Doc] = ch.Data
		}
	}
	b.mu.Unlock()
	p.Flushed(chs)
	return len(chs)
}

func persisted(t testing.TB, cache int) (models, []*memBacking) {
	t.Helper()
	m := newModels()
	var bs []*memBacking
	for _, p := range m.list() {
		b := &memBacking{docs: map[projections.Doc][]byte{}}
		if err := p.(projections.Persistent).Persist(b, cache); err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
	return m, bs
}

// A persistent collection that flushes now and then and keeps only a few
// documents in memory stores the same models as an in-memory fold.
func TestPersistentCollectionsEqualInMemory(t *testing.T) {
	w := buildWorld(t)
	recs := w.records()
	want := catchUp(t, w.store)
	for _, cache := range []int{1, 3, 1000} {
		m, bs := persisted(t, cache)
		for i := range recs {
			for j, p := range m.list() {
				if err := p.Apply(&recs[i]); err != nil {
					t.Fatal(err)
				}
				if i%5 == 4 {
					bs[j].flush(t, p.(projections.Persistent))
				}
			}
		}
		for j, p := range m.list() {
			bs[j].flush(t, p.(projections.Persistent))
			if d := p.(projections.Persistent).Dirty(); d != 0 {
				t.Fatalf("%s: %d dirty after a flush", p.Name(), d)
			}
		}
		if cache == 1 {
			if n := m.challenges.Len(); n > 1 {
				t.Fatalf("cache 1 holds %d challenges", n)
			}
		}
		// Every stored model is the in-memory fold's, and Lookup (memory or
		// backing) gives the same.
		check := func(name string, b *memBacking, keys []projections.Key, lookup func(projections.Key) (any, bool), doc func(projections.Key) ([]byte, bool, error)) {
			t.Helper()
			models := 0
			for d := range b.docs {
				if !d.Index {
					models++
				}
			}
			if models != len(keys) {
				t.Fatalf("cache %d: %s stored %d models, want %d", cache, name, models, len(keys))
			}
			for _, k := range keys {
				v, _ := lookup(k)
				wantJSON, _ := jsonx.Marshal(v)
				if got := b.docs[projections.Doc{Key: k}]; !bytes.Equal(got, wantJSON) {
					t.Fatalf("cache %d: %s %v:\n got %s\nwant %s", cache, name, k, got, wantJSON)
				}
				if got, ok, err := doc(k); err != nil || !ok || !bytes.Equal(got, wantJSON) {
					t.Fatalf("cache %d: %s Document %v: %v %v", cache, name, k, ok, err)
				}
			}
		}
		check("infos", bs[0], want.infos.Keys(), func(k projections.Key) (any, bool) { v, ok := want.infos.Lookup(k); return &v, ok }, m.infos.Document)
		check("challenges", bs[1], want.challenges.Keys(), func(k projections.Key) (any, bool) { v, ok := want.challenges.Lookup(k); return &v, ok }, m.challenges.Document)
		check("audit", bs[2], want.audit.Keys(), func(k projections.Key) (any, bool) { v, ok := want.audit.Lookup(k); return &v, ok }, m.audit.Document)
		check("stats", bs[3], want.stats.Keys(), func(k projections.Key) (any, bool) { v, ok := want.stats.Lookup(k); return &v, ok }, m.stats.Document)
		for _, k := range want.challenges.Keys() {
			got, ok, err := m.challenges.Find(k)
			wantV, _ := want.challenges.Lookup(k)
			a, _ := jsonx.Marshal(&got)
			b, _ := jsonx.Marshal(&wantV)
			if err != nil || !ok || !bytes.Equal(a, b) {
				t.Fatalf("Find %v: %v %v", k, ok, err)
			}
		}
		// Only pending challenges are listed for a Broadcast; settled ones are not.
		for d, v := range bs[1].docs {
			if d.Index && (bytes.Equal(v, []byte("[]")) || len(v) == 0) {
				t.Fatalf("an empty index is stored: %v", d)
			}
		}
	}
}

// Documents changed again after Changes stay dirty through Flushed; a
// failing backing fails Apply without changing anything; Reset forgets.
func TestPersistentCollectionBookkeeping(t *testing.T) {
	w := buildWorld(t)
	recs := w.records()
	m, bs := persisted(t, 2)
	infos, b := m.infos, bs[0]
	half := len(recs) / 2
	for i := range recs[:half] {
		if err := infos.Apply(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	chs, err := infos.Changes()
	if err != nil || len(chs) == 0 {
		t.Fatal(len(chs), err)
	}
	// One more event after Changes: that user's document stays dirty.
	if err := infos.Apply(&recs[half]); err != nil {
		t.Fatal(err)
	}
	for _, ch := range chs {
		b.docs[ch.Doc] = ch.Data
	}
	infos.Flushed(chs)
	if d := infos.Dirty(); d != 1 {
		t.Fatalf("%d dirty, want the one changed after Changes", d)
	}
	b.flush(t, infos)

	// A restart: a new collection on the same backing, which fails.
	again := projections.NewSecurityInfos()
	if err := again.Persist(b, 2); err != nil {
		t.Fatal(err)
	}
	before := maps.Clone(b.docs)
	var next *events.Record
	for i := range recs[half+1:] {
		if r := &recs[half+1+i]; r.User != "" && r.Seq > 1 {
			next = r
			break
		}
	}
	b.fail = true
	if err := again.Apply(next); err == nil || again.Dirty() != 0 || again.Len() != 0 {
		t.Fatalf("Apply with the backing down: %v, %d dirty, %d held", err, again.Dirty(), again.Len())
	}
	b.fail = false
	if err := again.Apply(next); err != nil || again.Dirty() != 1 {
		t.Fatalf("Apply after the backing is back: %v, %d dirty", err, again.Dirty())
	}
	b.flush(t, again)
	if k := (projections.Doc{Key: projections.Key{Tenant: next.Tenant, ID: next.User}}); bytes.Equal(before[k], b.docs[k]) {
		t.Fatal("the document did not change")
	}

	if err := infos.Reset(); err != nil {
		t.Fatal(err)
	}
	if infos.Len() != 0 || infos.Dirty() != 0 {
		t.Fatal("Reset kept something")
	}
	if err := infos.Persist(b, 0); err != nil {
		t.Fatalf("Persist after Reset: %v", err)
	}
	if err := infos.Persist(nil, 0); err == nil {
		t.Fatal("Persist(nil)")
	}
	plain := projections.NewSecurityInfos()
	if err := plain.Apply(next); err != nil {
		t.Fatal(err)
	}
	if err := plain.Persist(b, 0); err == nil {
		t.Fatal("Persist of a collection that holds models")
	}
}
