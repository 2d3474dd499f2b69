package nats

import (
	"container/list"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
)

// KeyBucket is the default KV bucket of users' wrapped data keys.
const KeyBucket = "VAKT_KEYS"

// MasterKeySize is the size of the master key that wraps the data keys.
const MasterKeySize = 32

// DefaultKeyCacheSize bounds the prepared data keys a [Keyring] keeps in
// memory unless [KeyringOptions.CacheSize] says otherwise.
const DefaultKeyCacheSize = 10_000

// masterCheckKey holds a value derived from the master key, so that a
// different master key is refused at once. User keys are always two tokens
// (tenant.user, see [Key]), so a three-token key can never collide with one.
const masterCheckKey = "_vakt.master.check"

// The stored formats. A wrapped data key is
//
//	version (1) | nonce (12) | AES-256-GCM(wrap key, data key, aad) (32+16)
//
// with aad = "vakt-keyring" | version | len tenant | tenant | len user | user,
// so that an entry copied to another user's key does not open. The master
// check entry is version (1) | 32 bytes derived from the master key.
const (
	wrapVersion  byte = 1
	checkVersion byte = 1
	nonceSize         = 12
	wrappedSize       = 1 + nonceSize + engine.DataKeySize + 16
)

// Keyring keeps each user's data key in a KV bucket, wrapped (AES-256-GCM)
// by a key derived from the master key, and implements [engine.Keyring].
// Prepared keys are cached in memory (LRU). Destroy overwrites the stored
// key in the stream (secure delete) before marking it purged, so that
// erasure does not leave the key in the file store.
type Keyring struct {
	kv     jetstream.KeyValue
	stream jetstream.Stream
	js     jetstream.JetStream
	bucket string
	wrap   cipher.AEAD
	cache  *keyCache
}

var _ engine.Keyring = (*Keyring)(nil)

// KeyringOptions configure [OpenKeyring]; the zero value works.
type KeyringOptions struct {
	// Bucket names the KV bucket (default VAKT_KEYS; its stream is
	// KV_<Bucket>).
	Bucket string
	// Replicas of the bucket (default 1; 3 in a cluster).
	Replicas int
	// CacheSize bounds the prepared keys kept in memory (default 10,000;
	// negative: no cache).
	CacheSize int
}

// KeyStreamConfig is the configuration Vakt creates the key bucket's stream
// with: a KV bucket (history 1, file storage, no expiry) that, unlike a stock
// one, allows message deletes so that erased keys can be overwritten, and
// denies stream purges so that one command cannot erase everybody.
func KeyStreamConfig(bucket string, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              "KV_" + bucket,
		Description:       "Vakt data keys, wrapped by the master key (losing them erases every user)",
		Subjects:          []string{"$KV." + bucket + ".>"},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardNew,
		MaxMsgsPerSubject: 1,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxAge:            0,
		MaxMsgSize:        1024,
		MaxConsumers:      -1,
		Replicas:          replicas,
		Duplicates:        2 * time.Minute,
		AllowRollup:       false,
		DenyDelete:        false,
		DenyPurge:         true,
		AllowDirect:       true,
	}
}

// OpenKeyring opens (creating if needed) the key bucket and checks that
// master is the key the stored data keys were wrapped with: the first open
// stores a value derived from it, and a later open with another key fails.
func OpenKeyring(ctx context.Context, js jetstream.JetStream, master []byte, opts KeyringOptions) (*Keyring, error) {
	if len(master) == 0 {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "keyring: no master key; set VAKT_MASTER_KEY or keep master.key in the data directory")
	}
	if len(master) != MasterKeySize {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "keyring: the master key has %d bytes, not %d", len(master), MasterKeySize)
	}
	if opts.Bucket == "" {
		opts.Bucket = KeyBucket
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultKeyCacheSize
	}
	wrapKey, err := hkdf.Key(sha256.New, master, nil, "vakt keyring wrap v1", 32)
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "keyring: derive the wrapping key: %w", err)
	}
	check, err := hkdf.Key(sha256.New, master, nil, "vakt keyring check v1", 32)
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "keyring: derive the check value: %w", err)
	}
	block, err := aes.NewCipher(wrapKey)
	clear(wrapKey)
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "keyring: %w", err)
	}
	wrap, err := cipher.NewGCM(block)
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "keyring: %w", err)
	}

	st, err := openKeyStream(ctx, js, opts)
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(ctx, opts.Bucket)
	if err != nil {
		return nil, unreachable("keyring: bind key bucket "+opts.Bucket, err)
	}
	k := &Keyring{kv: kv, stream: st, js: js, bucket: opts.Bucket, wrap: wrap, cache: newKeyCache(opts.CacheSize)}
	if err := k.checkMaster(ctx, append([]byte{checkVersion}, check...)); err != nil {
		return nil, err
	}
	return k, nil
}

// openKeyStream creates the bucket's stream, or checks the existing one.
func openKeyStream(ctx context.Context, js jetstream.JetStream, opts KeyringOptions) (jetstream.Stream, error) {
	want := KeyStreamConfig(opts.Bucket, opts.Replicas)
	st, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = js.Stream(ctx, want.Name) // created meanwhile by another process
		} else if err != nil {
			return nil, unreachable("keyring: create key bucket "+opts.Bucket, err)
		}
	}
	if err != nil {
		return nil, unreachable("keyring: look up key bucket "+opts.Bucket, err)
	}
	got := st.CachedInfo().Config
	fix := "; it was not created by Vakt. If it holds no keys, delete it (nats stream rm " + want.Name + ") and start again; otherwise copy its entries into a bucket Vakt creates"
	switch {
	case got.Sealed:
		return nil, vakt.Errorf(vakt.CodeInternal, "keyring: key bucket %s is sealed, so no key can be created or erased", opts.Bucket)
	case got.DenyDelete:
		return nil, vakt.Errorf(vakt.CodeInternal, "keyring: key bucket %s denies message deletes, so erased users' keys could not be overwritten%s", opts.Bucket, fix)
	case got.MaxAge != 0:
		return nil, vakt.Errorf(vakt.CodeInternal, "keyring: key bucket %s expires entries after %s, which would erase users silently%s", opts.Bucket, got.MaxAge, fix)
	case got.Discard != jetstream.DiscardNew && (got.MaxMsgs > 0 || got.MaxBytes > 0):
		return nil, vakt.Errorf(vakt.CodeInternal, "keyring: key bucket %s discards old entries when full, which would erase users silently%s", opts.Bucket, fix)
	case got.Storage != jetstream.FileStorage:
		return nil, vakt.Errorf(vakt.CodeInternal, "keyring: key bucket %s is kept in memory and would lose every key on restart%s", opts.Bucket, fix)
	case got.MaxMsgsPerSubject < 1:
		return nil, vakt.Errorf(vakt.CodeInternal, "keyring: stream %s is not a KV bucket%s", want.Name, fix)
	}
	if got.Replicas != want.Replicas {
		got.Replicas = want.Replicas
		if st, err = js.UpdateStream(ctx, got); err != nil {
			return nil, vakt.Errorf(vakt.CodeInternal, "keyring: change the replicas of key bucket %s to %d: %v", opts.Bucket, want.Replicas, err)
		}
	}
	return st, nil
}

// checkMaster compares the bucket's check entry with want, writing it on
// first use.
func (k *Keyring) checkMaster(ctx context.Context, want []byte) error {
	for range 3 {
		e, err := k.kv.Get(ctx, masterCheckKey)
		if err == nil {
			got := e.Value()
			if len(got) == 0 || got[0] != checkVersion {
				return vakt.Errorf(vakt.CodeInternal, "keyring: the master key check in bucket %s has an unknown format; this version of Vakt cannot use these keys", k.bucket)
			}
			if subtle.ConstantTimeCompare(got, want) != 1 {
				return vakt.Errorf(vakt.CodeInternal, "keyring: the master key does not match the one these data keys were wrapped with; set VAKT_MASTER_KEY to the original key (or restore the original master.key)")
			}
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return unreachable("keyring: read the master key check", err)
		}
		info, err := k.stream.Info(ctx)
		if err != nil {
			return unreachable("keyring: inspect key bucket "+k.bucket, err)
		}
		if n := info.State.Msgs; n > 0 {
			if _, err := k.kv.Get(ctx, masterCheckKey); err == nil {
				continue // written meanwhile by another process: compare
			}
			return vakt.Errorf(vakt.CodeInternal, "keyring: key bucket %s holds %d entries but no master key check, so this master key cannot be verified; restore the bucket from a backup rather than wrapping new keys with an unknown master key", k.bucket, n)
		}
		_, err = k.kv.Create(ctx, masterCheckKey, want)
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return unreachable("keyring: write the master key check", err)
		}
		// Another process wrote it first: compare with theirs.
	}
	return vakt.Errorf(vakt.CodeInternal, "keyring: the master key check in bucket %s keeps changing", k.bucket)
}

// DataKey implements [engine.Keyring].
func (k *Keyring) DataKey(ctx context.Context, tenant, user string, create bool) (*engine.DataKey, error) {
	id := [2]string{tenant, user}
	if dk := k.cache.get(id); dk != nil {
		return dk, nil
	}
	key, err := kvKey(tenant, user)
	if err != nil {
		return nil, err
	}
	for range 3 {
		gen := k.cache.generation()
		e, err := k.kv.Get(ctx, key)
		if err == nil {
			dk, err := k.unwrap(tenant, user, e.Value())
			if err != nil {
				return nil, err
			}
			k.cache.add(id, dk, gen)
			return dk, nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, unreachable("keyring: read data key", err)
		}
		if !create {
			return nil, nil
		}
		dk, wrapped, err := k.newKey(tenant, user)
		if err != nil {
			return nil, err
		}
		_, err = k.kv.Create(ctx, key, wrapped)
		if err == nil {
			k.cache.add(id, dk, gen)
			return dk, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, unreachable("keyring: store data key", err)
		}
		// Another writer created the key first: use theirs.
	}
	return nil, vakt.Errorf(vakt.CodeConflict, "keyring: the user's data key kept changing while it was read; retry")
}

// Destroy implements [engine.Keyring]: it overwrites the stored key in the
// stream (secure delete), leaves a purge marker, and drops the key from the
// cache. Destroying a user with no key does nothing.
func (k *Keyring) Destroy(ctx context.Context, tenant, user string) error {
	key, err := kvKey(tenant, user)
	if err != nil {
		return err
	}
	id := [2]string{tenant, user}
	k.cache.remove(id)
	// A DataKey running meanwhile may cache what it read before the erase;
	// removing again at the end (which also refuses adds begun earlier)
	// leaves nothing behind.
	defer k.cache.remove(id)
	for range 5 {
		e, err := k.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return unreachable("keyring: look up the data key to destroy", err)
		}
		if err := k.erase(ctx, e.Revision()); err != nil {
			return err
		}
		// The marker may only follow an empty subject: if a new key was
		// created meanwhile, erase that one too.
		m := &natsgo.Msg{Subject: "$KV." + k.bucket + "." + key, Header: natsgo.Header{}}
		m.Header.Set("KV-Operation", "PURGE")
		_, err = k.js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(0))
		if err == nil {
			return nil
		}
		if !isConflict(err) {
			return unreachable("keyring: mark the data key purged", err)
		}
	}
	return vakt.Errorf(vakt.CodeConflict, "keyring: the user's data key kept being recreated while it was destroyed; retry")
}

// erase overwrites the message at seq in the bucket's stream.
func (k *Keyring) erase(ctx context.Context, seq uint64) error {
	err := k.stream.SecureDeleteMsg(ctx, seq)
	if err == nil {
		return nil
	}
	if _, gerr := k.stream.GetMsg(ctx, seq); errors.Is(gerr, jetstream.ErrMsgNotFound) {
		return nil // erased meanwhile by another Destroy
	}
	return unreachable("keyring: overwrite the data key (stream KV_"+k.bucket+")", err)
}

func kvKey(tenant, user string) (string, error) {
	s := events.Stream{Tenant: tenant, User: user}
	if user == "" {
		return "", vakt.Errorf(vakt.CodeInvalidArgument, "user id is empty")
	}
	if err := s.Validate(); err != nil {
		return "", err
	}
	return Key(s), nil
}

func wrapAD(tenant, user string) []byte {
	b := make([]byte, 0, 32+len(tenant)+len(user))
	b = append(b, "vakt-keyring"...)
	b = append(b, wrapVersion)
	for _, s := range []string{tenant, user} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// newKey makes a random data key and its wrapped form.
func (k *Keyring) newKey(tenant, user string) (*engine.DataKey, []byte, error) {
	raw := make([]byte, engine.DataKeySize)
	defer clear(raw)
	out := make([]byte, 1+nonceSize, wrappedSize)
	out[0] = wrapVersion
	if _, err := io.ReadFull(rand.Reader, raw); err != nil {
		return nil, nil, vakt.Errorf(vakt.CodeInternal, "keyring: read entropy: %w", err)
	}
	if _, err := io.ReadFull(rand.Reader, out[1:]); err != nil {
		return nil, nil, vakt.Errorf(vakt.CodeInternal, "keyring: read entropy: %w", err)
	}
	dk, err := engine.NewDataKey(raw)
	if err != nil {
		return nil, nil, err
	}
	out = k.wrap.Seal(out, out[1:1+nonceSize], raw, wrapAD(tenant, user))
	return dk, out, nil
}

// unwrap opens a stored data key.
func (k *Keyring) unwrap(tenant, user string, v []byte) (*engine.DataKey, error) {
	if len(v) > 0 && v[0] != wrapVersion {
		return nil, vakt.Errorf(vakt.CodeInternal, "keyring: the user's stored data key has format version %d, which this version of Vakt does not know", v[0])
	}
	if len(v) != wrappedSize {
		return nil, vakt.Errorf(vakt.CodeInternal, "keyring: the user's stored data key is damaged (%d bytes, not %d)", len(v), wrappedSize)
	}
	raw, err := k.wrap.Open(nil, v[1:1+nonceSize], v[1+nonceSize:], wrapAD(tenant, user))
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "keyring: the user's stored data key does not open with the master key: the entry was altered or copied from another user's entry")
	}
	defer clear(raw)
	return engine.NewDataKey(raw)
}

// ---- cache ------------------------------------------------------------------------

// keyCache is a mutex-guarded LRU of prepared data keys. Its generation
// counts removals: an add whose read began before a removal is dropped, so
// that a destroyed key never returns to the cache.
type keyCache struct {
	max int

	mu    sync.Mutex
	gen   uint64
	order *list.List // front: most recently used; values are *cacheEntry
	items map[[2]string]*list.Element
}

type cacheEntry struct {
	id  [2]string
	key *engine.DataKey
}

func newKeyCache(max int) *keyCache {
	if max < 0 {
		max = 0
	}
	return &keyCache{max: max, order: list.New(), items: map[[2]string]*list.Element{}}
}

func (c *keyCache) get(id [2]string) *engine.DataKey {
	if c.max == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[id]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).key
}

func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *keyCache) add(id [2]string, key *engine.DataKey, gen uint64) {
	if c.max == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if el, ok := c.items[id]; ok {
		el.Value.(*cacheEntry).key = key
		c.order.MoveToFront(el)
		return
	}
	c.items[id] = c.order.PushFront(&cacheEntry{id: id, key: key})
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.items, old.Value.(*cacheEntry).id)
	}
}

func (c *keyCache) remove(id [2]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if el, ok := c.items[id]; ok {
		c.order.Remove(el)
		delete(c.items, id)
	}
}
