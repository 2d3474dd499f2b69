package apikeys

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/jsonx"
	"github.com/vaktmfa/vakt/internal/natserr"
	"github.com/vaktmfa/vakt/internal/natsserver"
)

// Bucket is the default KV bucket of the API keys.
const Bucket = "VAKT_APIKEYS"

// DefaultCacheTTL bounds how long a verified key is trusted without looking
// at the bucket again (the watch normally drops a revoked key at once).
const DefaultCacheTTL = 5 * time.Second

// DefaultCacheSize bounds the verified keys kept in memory.
const DefaultCacheSize = 1024

// MaxLabelLen is the longest label, in bytes.
const MaxLabelLen = 128

// Key describes a stored key. The secret is never stored; the hash is kept
// out of this type so that no answer carries it.
type Key struct {
	ID        string    `json:"id"`
	Scope     Scope     `json:"scope"`
	Tenant    string    `json:"tenant,omitempty"`
	Label     string    `json:"label,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// Principal is the caller the key authenticates as.
func (k Key) Principal() Principal { return Principal{KeyID: k.ID, Scope: k.Scope, Tenant: k.Tenant} }

// record is a bucket entry: the key and the hex SHA-256 of its secret form.
type record struct {
	Key
	Hash string `json:"hash"`
}

// Options configure [Open]; the zero value works (with no admin key).
type Options struct {
	// Bucket names the KV bucket (default VAKT_APIKEYS).
	Bucket string
	// Replicas of the bucket (default 1; 3 in a cluster).
	Replicas int
	// Admin is the admin key's secret ([LoadAdminKey]); empty: no admin key
	// (only stored keys authenticate).
	Admin string
	// Now is the clock of created_at (default time.Now).
	Now func() time.Time
	// Rand is the entropy of new keys (default crypto/rand).
	Rand io.Reader
	// CacheTTL bounds how long a verified key is trusted without reading
	// the bucket (default DefaultCacheTTL; negative: no cache).
	CacheTTL time.Duration
	// CacheSize bounds the cached keys (default DefaultCacheSize).
	CacheSize int
}

// Keys creates, lists, revokes and authenticates API keys. It is safe for
// concurrent use; instances in other processes share the bucket. Close it
// to stop watching the bucket.
type Keys struct {
	kv     jetstream.KeyValue
	bucket string
	now    func() time.Time
	rand   io.Reader
	admin  [32]byte
	hasAdm bool
	cache  *cache

	stop    context.CancelFunc
	watcher jetstream.KeyWatcher
	done    chan struct{}
}

// Open opens (creating if needed) the key bucket and starts watching it for
// revocations made by other instances.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*Keys, error) {
	if opts.Bucket == "" {
		opts.Bucket = Bucket
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	k := &Keys{bucket: opts.Bucket, now: opts.Now, rand: opts.Rand, cache: newCache(opts.CacheSize, opts.CacheTTL)}
	if opts.Admin != "" {
		if err := ValidateAdminKey(opts.Admin); err != nil {
			return nil, err
		}
		k.admin, k.hasAdm = hashOf(opts.Admin), true
	}
	kv, err := openBucket(ctx, js, opts.Bucket, opts.Replicas)
	if err != nil {
		return nil, err
	}
	k.kv = kv
	if k.cache != nil {
		// Revocations by other instances: every change to a key drops it
		// from the cache. The watch outlives ctx (it ends with Close).
		wctx, cancel := context.WithCancel(context.Background())
		w, err := kv.WatchAll(wctx, jetstream.UpdatesOnly(), jetstream.MetaOnly())
		if err != nil {
			cancel()
			return nil, natserr.Wrap("api keys: watch bucket "+opts.Bucket, err)
		}
		k.stop, k.watcher, k.done = cancel, w, make(chan struct{})
		go k.watch()
	}
	return k, nil
}

// Close stops watching the bucket. The Keys must not be used afterwards.
func (k *Keys) Close() error {
	if k == nil || k.stop == nil {
		return nil
	}
	err := k.watcher.Stop()
	k.stop()
	<-k.done
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func (k *Keys) watch() {
	defer close(k.done)
	for e := range k.watcher.Updates() {
		if e != nil {
			k.cache.remove(e.Key())
		}
	}
	// The watch ended (Close, or the connection closed): trust nothing
	// that was cached.
	k.cache.disable()
}

func openBucket(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (jetstream.KeyValue, error) {
	kv, st, err := natsserver.OpenBucket(ctx, js, "api keys", jetstream.KeyValueConfig{
		Bucket:       bucket,
		Description:  "Vakt API keys (hashes only; deleting an entry revokes the key)",
		History:      1,
		Storage:      jetstream.FileStorage,
		Replicas:     replicas,
		MaxValueSize: 4096,
	})
	if err != nil {
		return nil, err
	}
	switch cfg := st.CachedInfo().Config; {
	case cfg.Storage != jetstream.FileStorage:
		return nil, vakt.Errorf(vakt.CodeInternal, "api keys: bucket %s is kept in memory and would lose every key on restart; it was not created by Vakt: delete it (nats kv rm %s) and create the keys again", bucket, bucket)
	case cfg.MaxAge != 0:
		return nil, vakt.Errorf(vakt.CodeInternal, "api keys: bucket %s expires entries after %s, which would revoke keys silently; it was not created by Vakt: remove the TTL (nats kv edit) or delete the bucket", bucket, cfg.MaxAge)
	}
	return kv, nil
}

// errUnauthorized is the one answer to every bad bearer.
func errUnauthorized() error {
	return vakt.Errorf(vakt.CodeUnauthorized, "the API key is missing, malformed, unknown or revoked; send Authorization: Bearer <key>")
}

// Authenticate returns the principal of a bearer secret (the key itself,
// without "Bearer "). Every bad secret is the same unauthorized error;
// only a NATS failure is internal.
func (k *Keys) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	if bearer == "" || len(bearer) > maxBearer {
		return Principal{}, errUnauthorized()
	}
	h := hashOf(bearer)
	if k.hasAdm && subtle.ConstantTimeCompare(h[:], k.admin[:]) == 1 {
		return Principal{KeyID: AdminKeyID, Scope: ScopeAdmin}, nil
	}
	id, ok := parseSecret(bearer)
	if !ok {
		return Principal{}, errUnauthorized()
	}
	if c, ok := k.cache.get(id); ok {
		if subtle.ConstantTimeCompare(h[:], c.hash[:]) == 1 {
			return c.principal, nil
		}
		return Principal{}, errUnauthorized()
	}
	gen := k.cache.generation()
	rec, _, err := k.get(ctx, id)
	if errors.Is(err, vakt.ErrNotFound) {
		return Principal{}, errUnauthorized()
	}
	if err != nil {
		return Principal{}, err
	}
	want, err := hex.DecodeString(rec.Hash)
	if err != nil || len(want) != len(h) || !rec.Scope.Valid() || rec.Scope == ScopeAdmin || rec.ID != id {
		// A damaged entry, or one that claims the admin scope (only the
		// admin key has it), never authenticates.
		return Principal{}, errUnauthorized()
	}
	if subtle.ConstantTimeCompare(h[:], want) != 1 {
		return Principal{}, errUnauthorized()
	}
	p := rec.Principal()
	k.cache.add(id, cached{principal: p, hash: h}, gen)
	return p, nil
}

// get reads a stored key; a missing one is not_found.
func (k *Keys) get(ctx context.Context, id string) (record, uint64, error) {
	e, err := k.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return record{}, 0, vakt.Errorf(vakt.CodeNotFound, "api key %s not found", id)
	}
	if err != nil {
		return record{}, 0, natserr.Wrap("api keys: read key", err)
	}
	var rec record
	if err := jsonx.Unmarshal(e.Value(), &rec); err != nil {
		return record{}, 0, vakt.Errorf(vakt.CodeInternal, "api keys: the entry of key %s is damaged: %v", id, err)
	}
	return rec, e.Revision(), nil
}

// Create makes a key of scope for tenant and returns it with its secret
// form, which is shown once and never stored. The admin may create
// tenant_admin, helpdesk and relying_party keys for any tenant; a
// tenant_admin helpdesk and relying_party keys for its own tenant; nobody
// an admin key.
func (k *Keys) Create(ctx context.Context, by Principal, scope Scope, tenant, label string) (Key, string, error) {
	if by.Scope != ScopeAdmin && by.Scope != ScopeTenantAdmin {
		return Key{}, "", vakt.Errorf(vakt.CodeUnauthorized, "only the admin key or a tenant_admin key may create keys")
	}
	switch scope {
	case ScopeAdmin:
		return Key{}, "", vakt.Errorf(vakt.CodeInvalidArgument, "an admin key cannot be created; the admin key comes from VAKT_API_KEY or admin.key in the data directory")
	case ScopeTenantAdmin, ScopeHelpdesk, ScopeRelyingParty:
	default:
		return Key{}, "", vakt.Errorf(vakt.CodeInvalidArgument, "unknown scope %q; use tenant_admin, helpdesk or relying_party", scope)
	}
	if err := events.ValidateID("tenant", tenant); err != nil {
		return Key{}, "", err
	}
	if err := validateLabel(label); err != nil {
		return Key{}, "", err
	}
	if !by.manages(scope, tenant) {
		if by.Scope == ScopeTenantAdmin && tenant != by.Tenant {
			return Key{}, "", vakt.Errorf(vakt.CodeUnauthorized, "a tenant_admin key may create keys for its own tenant only")
		}
		return Key{}, "", vakt.Errorf(vakt.CodeUnauthorized, "a tenant_admin key may create helpdesk and relying_party keys only; ask the admin for a %s key", scope)
	}
	id, secret, err := newSecret(k.rand)
	if err != nil {
		return Key{}, "", err
	}
	h := hashOf(secret)
	key := Key{ID: id, Scope: scope, Tenant: tenant, Label: label, CreatedAt: k.now().UTC().Truncate(time.Millisecond), CreatedBy: by.KeyID}
	b, err := jsonx.Marshal(record{Key: key, Hash: hex.EncodeToString(h[:])})
	if err != nil {
		return Key{}, "", vakt.Errorf(vakt.CodeInternal, "api keys: encode key: %w", err)
	}
	if _, err := k.kv.Create(ctx, id, b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return Key{}, "", vakt.Errorf(vakt.CodeInternal, "api keys: a key with the new random id exists already; the entropy source is broken")
		}
		return Key{}, "", natserr.Wrap("api keys: store key", err)
	}
	return key, secret, nil
}

// Revoke deletes a key; it stops working at once on this instance and, by
// the watch, on the others. The admin may revoke any key; a tenant_admin
// the helpdesk and relying_party keys of its tenant. A key the caller may
// not see is not_found.
func (k *Keys) Revoke(ctx context.Context, by Principal, id string) error {
	if by.Scope != ScopeAdmin && by.Scope != ScopeTenantAdmin {
		return vakt.Errorf(vakt.CodeUnauthorized, "only the admin key or a tenant_admin key may revoke keys")
	}
	if id == AdminKeyID {
		return vakt.Errorf(vakt.CodeInvalidArgument, "the admin key cannot be revoked through the API; change VAKT_API_KEY or admin.key and restart")
	}
	if !validID(id) {
		return vakt.Errorf(vakt.CodeInvalidArgument, "%q is not an API key id (22 characters of base64url)", id)
	}
	rec, rev, err := k.get(ctx, id)
	if err != nil {
		return err
	}
	if by.Scope == ScopeTenantAdmin && rec.Tenant != by.Tenant {
		return vakt.Errorf(vakt.CodeNotFound, "api key %s not found", id)
	}
	if !by.manages(rec.Scope, rec.Tenant) {
		return vakt.Errorf(vakt.CodeUnauthorized, "a tenant_admin key may revoke helpdesk and relying_party keys only; ask the admin to revoke a %s key", rec.Scope)
	}
	k.cache.remove(id)
	// An Authenticate running meanwhile may cache what it read before the
	// delete; removing again at the end (which also refuses adds begun
	// earlier) leaves nothing behind.
	defer k.cache.remove(id)
	err = k.kv.Delete(ctx, id, jetstream.LastRevision(rev))
	if err != nil {
		if _, _, gerr := k.get(ctx, id); errors.Is(gerr, vakt.ErrNotFound) {
			return nil // revoked meanwhile by another caller
		}
		return natserr.Wrap("api keys: revoke key", err)
	}
	return nil
}

// List returns the keys of tenant (every key for the admin with tenant
// ""), oldest first. A tenant_admin sees the keys of its own tenant (tenant
// "" means its own); other scopes may not list keys.
func (k *Keys) List(ctx context.Context, by Principal, tenant string) ([]Key, error) {
	switch by.Scope {
	case ScopeAdmin:
		if tenant != "" {
			if err := events.ValidateID("tenant", tenant); err != nil {
				return nil, err
			}
		}
	case ScopeTenantAdmin:
		if tenant == "" {
			tenant = by.Tenant
		}
		if tenant != by.Tenant || tenant == "" {
			return nil, vakt.Errorf(vakt.CodeUnauthorized, "a tenant_admin key may list the keys of its own tenant only")
		}
	default:
		return nil, vakt.Errorf(vakt.CodeUnauthorized, "only the admin key or a tenant_admin key may list keys")
	}
	w, err := k.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, natserr.Wrap("api keys: list keys", err)
	}
	defer w.Stop()
	var out []Key
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return nil, natserr.Wrap("api keys: list keys", ctx.Err())
		case got, ok := <-w.Updates():
			if !ok {
				return nil, vakt.Errorf(vakt.CodeInternal, "api keys: list keys: the connection to NATS closed")
			}
			e = got
		}
		if e == nil {
			break
		}
		var rec record
		if err := jsonx.Unmarshal(e.Value(), &rec); err != nil || rec.ID != e.Key() {
			continue // not a key (damaged, or written by hand)
		}
		if tenant == "" || rec.Tenant == tenant {
			out = append(out, rec.Key)
		}
	}
	slices.SortFunc(out, func(a, b Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func validateLabel(s string) error {
	if len(s) > MaxLabelLen {
		return vakt.Errorf(vakt.CodeInvalidArgument, "the label is longer than %d bytes", MaxLabelLen)
	}
	if !utf8.ValidString(s) {
		return vakt.Errorf(vakt.CodeInvalidArgument, "the label is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) || r == utf8.RuneError {
			return vakt.Errorf(vakt.CodeInvalidArgument, "the label contains a control, format or separator character")
		}
	}
	return nil
}

// ---- cache ------------------------------------------------------------------------

type cached struct {
	principal Principal
	hash      [32]byte
	until     time.Time // monotonic clock
}

// cache keeps recently verified keys for a short time. Its generation
// counts removals: an add whose read began before a removal is dropped, so
// a revoked key never returns to the cache. A nil cache keeps nothing.
type cache struct {
	max int
	ttl time.Duration

	mu    sync.Mutex
	gen   uint64
	off   bool
	items map[string]cached
}

func newCache(max int, ttl time.Duration) *cache {
	if ttl < 0 {
		return nil
	}
	return &cache{max: max, ttl: ttl, items: map[string]cached{}}
}

func (c *cache) get(id string) (cached, bool) {
	if c == nil {
		return cached{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[id]
	if !ok {
		return cached{}, false
	}
	if time.Now().After(e.until) {
		delete(c.items, id)
		return cached{}, false
	}
	return e, true
}

func (c *cache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *cache) add(id string, e cached, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.off {
		return
	}
	if _, ok := c.items[id]; !ok && len(c.items) >= c.max {
		now := time.Now()
		for k, v := range c.items { // expired first, else any one
			if now.After(v.until) {
				delete(c.items, k)
			}
		}
		for k := range c.items {
			if len(c.items) < c.max {
				break
			}
			delete(c.items, k)
		}
	}
	e.until = time.Now().Add(c.ttl)
	c.items[id] = e
}

func (c *cache) remove(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.items, id)
}

// disable empties the cache for good: without the watch it could keep a
// key revoked elsewhere.
func (c *cache) disable() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.off = true
	clear(c.items)
}
