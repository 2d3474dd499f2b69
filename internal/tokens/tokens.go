// Package tokens issues and verifies Vakt's session tokens: JWTs signed with
// EdDSA (Ed25519), which a relying party verifies with the keys published at
// /.well-known/jwks.json.
//
// # Signing keys
//
// The keys live in a KV bucket (VAKT_SIGNING) that every instance shares.
// Each entry holds the public key and the private key's seed sealed with
// AES-256-GCM under a key derived (HKDF) from the master key, so the bucket
// alone signs nothing.
//
// Time is cut into periods of RotateEvery (30 days by default), counted from
// the Unix epoch, and each period has one key, named after the period's
// start (ed25519.20260301T000000Z). Every instance agrees on the current
// period without talking to the others, and the first to need a period's
// key creates it with a KV create, which only one writer can win; the others
// read the winner's key. So there is no double rotation, whatever the number
// of instances.
//
// A period's key is made and published up to a day (at most a quarter of
// the period) before the period starts, so that relying parties that cache
// the key set have it before the first token it signs. It signs tokens only
// during its period, and stays published until the last of them has expired
// (period end + TTL + leeway), after which it is removed from the bucket.
//
// Deleting a key from the bucket (nats kv del VAKT_SIGNING <name>) retires
// it at once on every instance (they watch the bucket); the next token makes
// a new key for the current period. Use it if a key may have leaked: tokens
// it signed stop verifying.
//
// Instances sharing a bucket must use the same TTL and RotateEvery.
package tokens

import (
	"bytes"
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/natserr"
	"github.com/vaktmfa/vakt/internal/natsserver"
)

// Bucket is the default KV bucket of the signing keys.
const Bucket = "VAKT_SIGNING"

// Defaults of [Options].
const (
	DefaultTTL         = time.Hour
	DefaultRotateEvery = 30 * 24 * time.Hour
)

// Leeway is the clock skew [Issuer.Verify] tolerates on exp and iat, and
// the margin a retired key stays published beyond its last token's expiry.
const Leeway = 30 * time.Second

// MasterKeySize is the size of the master key.
const MasterKeySize = 32

// maxPublishAhead bounds how long before its period a key is published.
const maxPublishAhead = 24 * time.Hour

// maxToken bounds the length of a token Verify parses at all.
const maxToken = 8 << 10

// Options configure [Open]. Issuer is required.
type Options struct {
	// Bucket names the KV bucket (default VAKT_SIGNING).
	Bucket string
	// Replicas of the bucket (default 1; 3 in a cluster).
	Replicas int
	// Issuer is the iss claim (the server's public URL, such as
	// "https://mfa.example.org").
	Issuer string
	// TTL is how long a token is valid (default 1h).
	TTL time.Duration
	// RotateEvery is the period of each signing key (default 30 days; at
	// least a minute, whole seconds).
	RotateEvery time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand is the entropy of new keys (default crypto/rand).
	Rand io.Reader
	// Logger receives the errors of background key maintenance (default:
	// discard).
	Logger *slog.Logger
}

// Claims are what a session token says. Sign reads the first group; Verify
// fills in every field.
type Claims struct {
	Subject     string    // sub: the user id
	Tenant      string    // tid
	ACR         string    // acr: the assurance reached
	AMR         []string  // amr: the methods used (otp, hwk, swk, sms, ...)
	AuthTime    time.Time // auth_time: when the user authenticated
	App         string    // app: the application the challenge was for
	ChallengeID string    // jti: the challenge's id

	Issuer    string    // iss (set by Verify)
	IssuedAt  time.Time // iat (set by Verify)
	ExpiresAt time.Time // exp (set by Verify)
	KeyID     string    // the kid of the signing key (set by Verify)
}

// jwtClaims is the token's payload.
type jwtClaims struct {
	jwt.RegisteredClaims
	Tenant   string           `json:"tid"`
	ACR      string           `json:"acr,omitempty"`
	AMR      []string         `json:"amr,omitempty"`
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`
	App      string           `json:"app,omitempty"`
}

// signingKey is one period's key.
type signingKey struct {
	name       string // the KV key
	kid        string // RFC 7638 thumbprint
	start, end time.Time
	pub        ed25519.PublicKey
	priv       ed25519.PrivateKey
	rev        uint64
}

// record is a bucket entry.
type record struct {
	V         int       `json:"v"`
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	NotBefore time.Time `json:"not_before"` // the period's start
	NotAfter  time.Time `json:"not_after"`  // the period's end (exclusive)
	X         string    `json:"x"`          // the public key, base64url
	Sealed    string    `json:"sealed"`     // nonce | AES-256-GCM(seed), base64url
}

const recordVersion = 1

// Issuer signs and verifies session tokens and keeps the signing keys. It
// is safe for concurrent use. Close it to stop its background work.
type Issuer struct {
	kv      jetstream.KeyValue
	bucket  string
	iss     string
	ttl     time.Duration
	rotate  time.Duration
	now     func() time.Time
	rand    io.Reader
	seal    cipher.AEAD
	log     *slog.Logger
	parser  *jwt.Parser
	refresh sync.Mutex // one key maintenance at a time

	mu   sync.RWMutex
	keys map[string]*signingKey // by KV key
	gone map[string]uint64      // KV key -> revision of its last removal

	stop    context.CancelFunc
	watcher jetstream.KeyWatcher
	bg      sync.WaitGroup
}

// Open opens (creating if needed) the signing key bucket, makes the current
// period's key if there is none, and starts watching the bucket and
// maintaining the keys in the background.
func Open(ctx context.Context, js jetstream.JetStream, master []byte, opts Options) (*Issuer, error) {
	if len(master) != MasterKeySize {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "tokens: the master key has %d bytes, not %d", len(master), MasterKeySize)
	}
	if opts.Issuer == "" {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "tokens: no issuer (the server's public URL) for the iss claim")
	}
	if opts.Bucket == "" {
		opts.Bucket = Bucket
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.RotateEvery == 0 {
		opts.RotateEvery = DefaultRotateEvery
	}
	if opts.TTL < time.Second {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "tokens: a token TTL of %s is too short", opts.TTL)
	}
	if opts.RotateEvery < time.Minute || opts.RotateEvery%time.Second != 0 {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "tokens: rotate every %s: give whole seconds, at least a minute", opts.RotateEvery)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	sealKey, err := hkdf.Key(sha256.New, master, nil, "vakt signing key seal v1", 32)
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "tokens: derive the sealing key: %w", err)
	}
	block, err := aes.NewCipher(sealKey)
	clear(sealKey)
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "tokens: %w", err)
	}
	seal, err := cipher.NewGCM(block)
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "tokens: %w", err)
	}
	kv, err := openBucket(ctx, js, opts.Bucket, opts.Replicas)
	if err != nil {
		return nil, err
	}
	i := &Issuer{
		kv: kv, bucket: opts.Bucket, iss: opts.Issuer, ttl: opts.TTL, rotate: opts.RotateEvery,
		now: opts.Now, rand: opts.Rand, seal: seal, log: opts.Logger,
		keys: map[string]*signingKey{}, gone: map[string]uint64{},
	}
	i.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(opts.Issuer),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(func() time.Time { return i.now() }),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	)

	// Watch first, so that no change made after the initial read is missed.
	wctx, cancel := context.WithCancel(context.Background())
	w, err := kv.WatchAll(wctx, jetstream.UpdatesOnly())
	if err != nil {
		cancel()
		return nil, natserr.Wrap("tokens: watch bucket "+opts.Bucket, err)
	}
	i.stop, i.watcher = cancel, w
	i.bg.Go(i.watch)
	ok := false
	defer func() {
		if !ok {
			i.Close()
		}
	}()
	if err := i.load(ctx); err != nil {
		return nil, err
	}
	if err := i.Refresh(ctx); err != nil {
		return nil, err
	}
	i.bg.Go(func() { i.maintain(wctx) })
	ok = true
	return i, nil
}

// Close stops the background work. The Issuer must not be used afterwards.
func (i *Issuer) Close() error {
	if i == nil || i.stop == nil {
		return nil
	}
	err := i.watcher.Stop()
	i.stop()
	i.bg.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func openBucket(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (jetstream.KeyValue, error) {
	kv, st, err := natsserver.OpenBucket(ctx, js, "tokens", jetstream.KeyValueConfig{
		Bucket:       bucket,
		Description:  "Vakt session token signing keys (private keys sealed by the master key)",
		History:      1,
		Storage:      jetstream.FileStorage,
		Replicas:     replicas,
		MaxValueSize: 4096,
	})
	if err != nil {
		return nil, err
	}
	if cfg := st.CachedInfo().Config; cfg.MaxAge != 0 {
		return nil, vakt.Errorf(vakt.CodeInternal, "tokens: bucket %s expires entries after %s, which would drop signing keys while their tokens are live; it was not created by Vakt: delete it (nats kv rm %s) and start again", bucket, cfg.MaxAge, bucket)
	}
	return kv, nil
}

// ---- periods and key maintenance ---------------------------------------------

// period returns the start of the period that holds t.
func (i *Issuer) period(t time.Time) time.Time {
	r := i.rotate.Nanoseconds()
	n := t.UnixNano()
	q := n / r
	if n%r < 0 {
		q--
	}
	return time.Unix(0, q*r).UTC()
}

func keyName(start time.Time) string { return "ed25519." + start.UTC().Format("20060102T150405Z") }

func (i *Issuer) publishAhead() time.Duration { return min(maxPublishAhead, i.rotate/4) }

// retired reports whether k's last token has expired at now.
func (i *Issuer) retired(k *signingKey, now time.Time) bool {
	return !now.Before(k.end.Add(i.ttl + Leeway))
}

// Refresh makes the current period's key (and the next one's, within a day
// of it) if they are missing, and removes the keys whose tokens have all
// expired. It runs in the background every minute; tests with a fake clock
// call it after moving the clock.
func (i *Issuer) Refresh(ctx context.Context) error {
	i.refresh.Lock()
	defer i.refresh.Unlock()
	now := i.now()
	cur := i.period(now)
	if _, err := i.ensure(ctx, cur); err != nil {
		return err
	}
	next := cur.Add(i.rotate)
	if !now.Before(next.Add(-i.publishAhead())) {
		if _, err := i.ensure(ctx, next); err != nil {
			return err
		}
	}
	i.mu.RLock()
	var old []*signingKey
	for _, k := range i.keys {
		if i.retired(k, now) {
			old = append(old, k)
		}
	}
	i.mu.RUnlock()
	for _, k := range old {
		err := i.kv.Delete(ctx, k.name, jetstream.LastRevision(k.rev))
		if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return natserr.Wrap("tokens: remove retired key "+k.name, err)
		}
		// On a mismatch another instance removed (or replaced) it
		// meanwhile, and the watch tells what is there now.
		i.drop(k.name, k.rev+1)
	}
	return nil
}

// ensure returns the key of the period that starts at start, reading it
// from the bucket or creating it. Callers hold i.refresh.
func (i *Issuer) ensure(ctx context.Context, start time.Time) (*signingKey, error) {
	name := keyName(start)
	i.mu.RLock()
	k := i.keys[name]
	i.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	for range 3 {
		e, err := i.kv.Get(ctx, name)
		if err == nil {
			k, err := i.open(name, e.Value(), e.Revision())
			if err != nil {
				return nil, err
			}
			i.put(k)
			return k, nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, natserr.Wrap("tokens: read signing key", err)
		}
		k, value, err := i.newKey(name, start)
		if err != nil {
			return nil, err
		}
		rev, err := i.kv.Create(ctx, name, value)
		if err == nil {
			k.rev = rev
			i.put(k)
			return k, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, natserr.Wrap("tokens: store signing key", err)
		}
		// Another instance made this period's key first: use theirs.
	}
	return nil, vakt.Errorf(vakt.CodeConflict, "tokens: the signing key %s kept changing while it was read; retry", name)
}

// load reads every key in the bucket.
func (i *Issuer) load(ctx context.Context) error {
	w, err := i.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return natserr.Wrap("tokens: read signing keys", err)
	}
	defer w.Stop()
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return natserr.Wrap("tokens: read signing keys", ctx.Err())
		case got, ok := <-w.Updates():
			if !ok {
				return vakt.Errorf(vakt.CodeInternal, "tokens: read signing keys: the connection to NATS closed")
			}
			e = got
		}
		if e == nil {
			return nil
		}
		k, err := i.open(e.Key(), e.Value(), e.Revision())
		if err != nil {
			return err
		}
		i.put(k)
	}
}

// watch applies changes made by other instances (and by operators).
func (i *Issuer) watch() {
	for e := range i.watcher.Updates() {
		if e == nil {
			continue
		}
		if e.Operation() != jetstream.KeyValuePut {
			i.drop(e.Key(), e.Revision())
			continue
		}
		k, err := i.open(e.Key(), e.Value(), e.Revision())
		if err != nil {
			i.log.Error("signing key ignored", "key", e.Key(), "err", err)
			i.drop(e.Key(), e.Revision())
			continue
		}
		i.put(k)
	}
}

// maintain calls Refresh every minute (or a quarter period).
func (i *Issuer) maintain(ctx context.Context) {
	t := time.NewTicker(min(time.Minute, i.rotate/4))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := i.Refresh(rctx); err != nil && ctx.Err() == nil {
				i.log.Error("signing key maintenance", "err", err)
			}
			cancel()
		}
	}
}

// put adds a key read or written at revision k.rev, unless a later
// revision of the entry is known (a reader that raced with a change must
// not bring back what the change replaced or removed).
func (i *Issuer) put(k *signingKey) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if old := i.keys[k.name]; (old != nil && old.rev > k.rev) || k.rev < i.gone[k.name] {
		return
	}
	i.keys[k.name] = k
}

// drop forgets the entry name as of revision rev (its removal, or a
// replacement that does not open): revisions before rev are gone.
func (i *Issuer) drop(name string, rev uint64) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if k := i.keys[name]; k != nil && k.rev < rev {
		delete(i.keys, name)
	}
	i.gone[name] = max(i.gone[name], rev)
}

// ---- sealing ----------------------------------------------------------------------

// sealAD binds a sealed seed to its entry: the name, the period and the
// public key, so that an entry copied to another name or given a longer
// period does not open.
func sealAD(name string, start, end time.Time, pub []byte) []byte {
	b := make([]byte, 0, 64+len(name)+len(pub))
	b = append(b, "vakt-signing"...)
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
	b = append(b, name...)
	b = binary.BigEndian.AppendUint64(b, uint64(start.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(end.UnixNano()))
	return append(b, pub...)
}

// newKey makes a key for the period at start and its bucket entry.
func (i *Issuer) newKey(name string, start time.Time) (*signingKey, []byte, error) {
	seed := make([]byte, ed25519.SeedSize)
	defer clear(seed)
	if _, err := io.ReadFull(i.rand, seed); err != nil {
		return nil, nil, vakt.Errorf(vakt.CodeInternal, "tokens: read entropy: %w", err)
	}
	nonce := make([]byte, i.seal.NonceSize())
	if _, err := io.ReadFull(i.rand, nonce); err != nil {
		return nil, nil, vakt.Errorf(vakt.CodeInternal, "tokens: read entropy: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	k := &signingKey{name: name, kid: Thumbprint(pub), start: start, end: start.Add(i.rotate), pub: pub, priv: priv}
	sealed := i.seal.Seal(nonce, nonce, seed, sealAD(name, k.start, k.end, pub))
	b, err := json.Marshal(record{
		V: recordVersion, KID: k.kid, Alg: "EdDSA", NotBefore: k.start, NotAfter: k.end,
		X: base64.RawURLEncoding.EncodeToString(pub), Sealed: base64.RawURLEncoding.EncodeToString(sealed),
	})
	if err != nil {
		return nil, nil, vakt.Errorf(vakt.CodeInternal, "tokens: encode signing key: %w", err)
	}
	return k, b, nil
}

// open reads a bucket entry.
func (i *Issuer) open(name string, value []byte, rev uint64) (*signingKey, error) {
	damaged := func(why string) error {
		return vakt.Errorf(vakt.CodeInternal, "tokens: signing key %s in bucket %s %s; delete the entry (nats kv del %s %s) and a new key is made", name, i.bucket, why, i.bucket, name)
	}
	var r record
	if err := json.Unmarshal(value, &r); err != nil {
		return nil, damaged("is damaged")
	}
	if r.V != recordVersion {
		return nil, damaged("has a format this version of Vakt does not know")
	}
	pub, err := base64.RawURLEncoding.DecodeString(r.X)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, damaged("has a damaged public key")
	}
	sealed, err := base64.RawURLEncoding.DecodeString(r.Sealed)
	ns := i.seal.NonceSize()
	if err != nil || len(sealed) != ns+ed25519.SeedSize+i.seal.Overhead() {
		return nil, damaged("has a damaged private key")
	}
	if !r.NotAfter.After(r.NotBefore) {
		return nil, damaged("has an empty period")
	}
	seed, err := i.seal.Open(nil, sealed[:ns], sealed[ns:], sealAD(name, r.NotBefore, r.NotAfter, pub))
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "tokens: signing key %s does not open with the master key: it was sealed with another master key, or altered. Restore the original master key, or delete the bucket (nats kv rm %s) to start with new keys (live session tokens stop verifying)", name, i.bucket)
	}
	defer clear(seed)
	priv := ed25519.NewKeyFromSeed(seed)
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), pub) {
		return nil, damaged("has a public key that does not match its private key")
	}
	return &signingKey{name: name, kid: Thumbprint(pub), start: r.NotBefore, end: r.NotAfter, pub: pub, priv: priv, rev: rev}, nil
}

// Thumbprint returns the RFC 7638 thumbprint of an Ed25519 public key's JWK
// (base64url of the SHA-256 of {"crv":"Ed25519","kty":"OKP","x":...}): the
// key's kid.
func Thumbprint(pub ed25519.PublicKey) string {
	h := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// ---- tokens -----------------------------------------------------------------------

// current returns the key of the current period, making it if needed.
func (i *Issuer) current(now time.Time) (*signingKey, error) {
	name := keyName(i.period(now))
	i.mu.RLock()
	k := i.keys[name]
	i.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	// The period began and the background maintenance has not run yet.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	i.refresh.Lock()
	defer i.refresh.Unlock()
	return i.ensure(ctx, i.period(now))
}

// Sign issues a token for c (its first group of fields): iat now, exp now +
// TTL, iss the issuer, signed with the current period's key (kid header).
func (i *Issuer) Sign(c Claims) (string, error) {
	if err := events.ValidateID("user", c.Subject); err != nil {
		return "", err
	}
	if err := events.ValidateID("tenant", c.Tenant); err != nil {
		return "", err
	}
	now := i.now()
	k, err := i.current(now)
	if err != nil {
		return "", err
	}
	jc := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.iss,
			Subject:   c.Subject,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(i.ttl)),
			ID:        c.ChallengeID,
		},
		Tenant: c.Tenant,
		ACR:    c.ACR,
		AMR:    c.AMR,
		App:    c.App,
	}
	if !c.AuthTime.IsZero() {
		jc.AuthTime = jwt.NewNumericDate(c.AuthTime)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jc)
	t.Header["kid"] = k.kid
	s, err := t.SignedString(k.priv)
	if err != nil {
		return "", vakt.Errorf(vakt.CodeInternal, "tokens: sign: %w", err)
	}
	return s, nil
}

// Verify checks a token this issuer (or another instance on the bucket)
// signed: EdDSA only, a known and unretired kid, the right iss, not expired
// and not issued in the future (both with Leeway). Every failure is
// unauthorized.
func (i *Issuer) Verify(token string) (Claims, error) {
	if len(token) > maxToken {
		return Claims{}, vakt.Errorf(vakt.CodeUnauthorized, "token: longer than %d bytes", maxToken)
	}
	var jc jwtClaims
	var kid string
	t, err := i.parser.ParseWithClaims(token, &jc, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		if kid == "" {
			return nil, errNoKid
		}
		now := i.now()
		i.mu.RLock()
		defer i.mu.RUnlock()
		for _, k := range i.keys {
			if k.kid == kid && !i.retired(k, now) {
				return k.pub, nil
			}
		}
		return nil, errUnknownKey
	})
	if err != nil || !t.Valid {
		return Claims{}, vakt.Errorf(vakt.CodeUnauthorized, "token: %s", reason(err))
	}
	if jc.Subject == "" || jc.Tenant == "" || jc.IssuedAt == nil {
		return Claims{}, vakt.Errorf(vakt.CodeUnauthorized, "token: no sub, tid or iat")
	}
	c := Claims{
		Subject: jc.Subject, Tenant: jc.Tenant, ACR: jc.ACR, AMR: jc.AMR, App: jc.App, ChallengeID: jc.ID,
		Issuer: jc.Issuer, IssuedAt: jc.IssuedAt.Time, ExpiresAt: jc.ExpiresAt.Time, KeyID: kid,
	}
	if jc.AuthTime != nil {
		c.AuthTime = jc.AuthTime.Time
	}
	return c, nil
}

var (
	errNoKid      = errors.New("no kid header")
	errUnknownKey = errors.New("unknown or retired key")
)

// reason names why a token failed, in words safe to show.
func reason(err error) string {
	switch {
	case err == nil:
		return "invalid"
	case errors.Is(err, errNoKid):
		return "no kid header"
	case errors.Is(err, errUnknownKey):
		return "signed by an unknown or retired key"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "issued by another issuer"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if strings.Contains(err.Error(), "signing method") {
			return "signed with an algorithm other than EdDSA"
		}
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "signed with an unknown algorithm"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "a required claim is missing"
	}
	return "invalid"
}

// ---- JWKS -------------------------------------------------------------------------

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS returns the JSON Web Key Set of the keys that may verify live
// tokens (and the next period's key, once made), newest first.
func (i *Issuer) JWKS() []byte {
	now := i.now()
	i.mu.RLock()
	var ks []*signingKey
	for _, k := range i.keys {
		if !i.retired(k, now) {
			ks = append(ks, k)
		}
	}
	i.mu.RUnlock()
	slices.SortFunc(ks, func(a, b *signingKey) int { return cmp.Or(b.start.Compare(a.start), cmp.Compare(a.kid, b.kid)) })
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range ks {
		set.Keys = append(set.Keys, jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.pub), Kid: k.kid, Use: "sig", Alg: "EdDSA"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err) // strings only
	}
	return b
}
