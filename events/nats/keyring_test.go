package nats_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/pquerna/otp/totp"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/masterkey"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
)

func krMaster(t testing.TB) []byte {
	t.Helper()
	k, err := masterkey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func krOpen(t testing.TB, js jetstream.JetStream, master []byte, opts natsstore.KeyringOptions) *natsstore.Keyring {
	t.Helper()
	kr, err := natsstore.OpenKeyring(context.Background(), js, master, opts)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func krKV(t testing.TB, js jetstream.JetStream) jetstream.KeyValue {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), natsstore.KeyBucket)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func krKey(t testing.TB, kr *natsstore.Keyring, tenant, user string, create bool) *engine.DataKey {
	t.Helper()
	k, err := kr.DataKey(context.Background(), tenant, user, create)
	if err != nil {
		t.Fatalf("DataKey(%s, %s, %v): %v", tenant, user, create, err)
	}
	return k
}

// krNoSecret fails if err's message contains any common rendering of key.
func krNoSecret(t testing.TB, err error, keys ...[]byte) {
	t.Helper()
	msg := err.Error()
	for _, k := range keys {
		for _, s := range []string{string(k), hex.EncodeToString(k), base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k), fmt.Sprint(k)} {
			if strings.Contains(msg, s) {
				t.Fatalf("error contains key material: %v", err)
			}
		}
	}
}

func TestKeyringRoundTrip(t *testing.T) {
	ctx := context.Background()
	n := natstest.Start(t)
	master := krMaster(t)
	kr := krOpen(t, n.JetStream, master, natsstore.KeyringOptions{})
	const tenant, user = "uio.no", "ola.nordmann@uio.no"

	// Reading an unknown user's key creates nothing.
	if k := krKey(t, kr, tenant, user, false); k != nil {
		t.Fatal("DataKey(create=false) made up a key")
	}
	kv := krKV(t, n.JetStream)
	name := natsstore.Key(events.Stream{Tenant: tenant, User: user})
	if name != "uio=2Eno.ola=2Enordmann=40uio=2Eno" {
		t.Fatalf("key name %q", name)
	}
	if _, err := kv.Get(ctx, name); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("entry after create=false: %v", err)
	}

	k1 := krKey(t, kr, tenant, user, true)
	if k1 == nil {
		t.Fatal("no key created")
	}
	if s := fmt.Sprint(k1); strings.Contains(s, hex.EncodeToString(k1.Bytes())) || !strings.Contains(s, "redacted") {
		t.Fatalf("data key prints as %s", s)
	}
	// Cached: the same prepared key, without KV.
	if k := krKey(t, kr, tenant, user, false); k != k1 {
		t.Fatal("second DataKey was not served from the cache")
	}
	if k := krKey(t, kr, tenant, user, true); k != k1 {
		t.Fatal("DataKey(create=true) replaced an existing key")
	}

	// Stored wrapped: version, nonce, sealed key; never the key itself.
	e, err := kv.Get(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	v := e.Value()
	if len(v) != 1+12+32+16 || v[0] != 1 {
		t.Fatalf("stored value has %d bytes, version %d", len(v), v[0])
	}
	if bytes.Contains(v, k1.Bytes()) || bytes.Contains(v, k1.Bytes()[:8]) {
		t.Fatal("the data key is stored in clear")
	}

	// Another keyring on the same bucket (another process) reads the same key.
	kr2 := krOpen(t, n.JetStream, master, natsstore.KeyringOptions{})
	k2 := krKey(t, kr2, tenant, user, false)
	if k2 == nil || k2 == k1 || !bytes.Equal(k2.Bytes(), k1.Bytes()) {
		t.Fatal("a second keyring read a different key")
	}

	// Invalid ids are refused, not stored.
	for _, id := range [][2]string{{tenant, ""}, {"", user}, {tenant, "bad\x00id"}, {tenant, strings.Repeat("x", 200)}} {
		_, err := kr.DataKey(ctx, id[0], id[1], true)
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument {
			t.Fatalf("DataKey(%q, %q): %v", id[0], id[1], err)
		}
		if err := kr.Destroy(ctx, id[0], id[1]); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
			t.Fatalf("Destroy(%q, %q): %v", id[0], id[1], err)
		}
	}
}

func TestKeyringCache(t *testing.T) {
	n := natstest.Start(t)
	master := krMaster(t)
	kr := krOpen(t, n.JetStream, master, natsstore.KeyringOptions{CacheSize: 2})
	a := krKey(t, kr, "t", "a", true)
	b := krKey(t, kr, "t", "b", true)
	if krKey(t, kr, "t", "a", false) != a { // a is now the most recent
		t.Fatal("a not cached")
	}
	c := krKey(t, kr, "t", "c", true) // evicts b
	if krKey(t, kr, "t", "a", false) != a || krKey(t, kr, "t", "c", false) != c {
		t.Fatal("recent keys were evicted")
	}
	b2 := krKey(t, kr, "t", "b", false)
	if b2 == b || !bytes.Equal(b2.Bytes(), b.Bytes()) {
		t.Fatal("the least recently used key was not evicted (or came back different)")
	}

	// Without a cache every call reads KV and prepares a new key.
	none := krOpen(t, n.JetStream, master, natsstore.KeyringOptions{CacheSize: -1})
	x, y := krKey(t, none, "t", "a", false), krKey(t, none, "t", "a", false)
	if x == y || !bytes.Equal(x.Bytes(), a.Bytes()) {
		t.Fatal("CacheSize -1 still caches")
	}
}

func TestKeyringPerUserKeys(t *testing.T) {
	n := natstest.Start(t)
	kr := krOpen(t, n.JetStream, krMaster(t), natsstore.KeyringOptions{})
	ids := [][2]string{
		{"uio.no", "ola"}, {"uio.no", "kari"}, {"ntnu.no", "ola"},
		// Ids that a naive join would confuse.
		{"a", "b.c"}, {"a.b", "c"}, {"a", "b=2Ec"}, {"a", "b c"}, {"a", "bøc"},
	}
	seen := map[string][2]string{}
	for _, id := range ids {
		k := krKey(t, kr, id[0], id[1], true)
		h := hex.EncodeToString(k.Bytes())
		if other, ok := seen[h]; ok {
			t.Fatalf("%v and %v share a data key", id, other)
		}
		seen[h] = id
	}
	kv := krKV(t, n.JetStream)
	keys, err := kv.Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(ids)+1 { // and the master key check
		t.Fatalf("bucket keys %v", keys)
	}
}

func TestKeyringWrappingBoundToUser(t *testing.T) {
	ctx := context.Background()
	n := natstest.Start(t)
	master := krMaster(t)
	kr := krOpen(t, n.JetStream, master, natsstore.KeyringOptions{})
	ola := krKey(t, kr, "uio.no", "ola", true)
	kari := krKey(t, kr, "uio.no", "kari", true)
	kv := krKV(t, n.JetStream)
	olaName := natsstore.Key(events.Stream{Tenant: "uio.no", User: "ola"})
	kariName := natsstore.Key(events.Stream{Tenant: "uio.no", User: "kari"})
	e, err := kv.Get(ctx, olaName)
	if err != nil {
		t.Fatal(err)
	}
	stored := e.Value()

	// An attacker with write access to KV moves Ola's wrapped key to Kari
	// (so that Kari's secrets would be sealed under a key they know).
	if _, err := kv.Put(ctx, kariName, stored); err != nil {
		t.Fatal(err)
	}
	fresh := krOpen(t, n.JetStream, master, natsstore.KeyringOptions{CacheSize: -1})
	_, err = fresh.DataKey(ctx, "uio.no", "kari", false)
	if vakt.CodeOf(err) != vakt.CodeInternal || !strings.Contains(err.Error(), "copied from another user") {
		t.Fatalf("moved key: err = %v", err)
	}
	krNoSecret(t, err, ola.Bytes(), kari.Bytes(), master)
	// Also to another tenant.
	other := natsstore.Key(events.Stream{Tenant: "ntnu.no", User: "ola"})
	if _, err := kv.Put(ctx, other, stored); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.DataKey(ctx, "ntnu.no", "ola", true); err == nil {
		t.Fatal("a key moved to another tenant opened")
	}

	// Damaged entries fail clearly too.
	bad := map[string][]byte{
		"flipped bit": append([]byte(nil), stored...),
		"truncated":   stored[:40],
		"version 9":   append([]byte{9}, stored[1:]...),
		"empty":       {},
	}
	bad["flipped bit"][20] ^= 1
	for name, v := range bad {
		if _, err := kv.Put(ctx, kariName, v); err != nil {
			t.Fatal(err)
		}
		_, err := fresh.DataKey(ctx, "uio.no", "kari", true)
		if vakt.CodeOf(err) != vakt.CodeInternal {
			t.Fatalf("%s: err = %v", name, err)
		}
		krNoSecret(t, err, ola.Bytes(), kari.Bytes(), master)
	}
	// Ola's own entry still opens.
	if k := krKey(t, fresh, "uio.no", "ola", false); !bytes.Equal(k.Bytes(), ola.Bytes()) {
		t.Fatal("Ola's key changed")
	}
}

func TestKeyringMasterKeyCheck(t *testing.T) {
	ctx := context.Background()
	n := natstest.Start(t)
	master := krMaster(t)
	kr := krOpen(t, n.JetStream, master, natsstore.KeyringOptions{})
	krKey(t, kr, "uio.no", "ola", true)

	other := krMaster(t)
	_, err := natsstore.OpenKeyring(ctx, n.JetStream, other, natsstore.KeyringOptions{})
	if err == nil || !strings.Contains(err.Error(), "the master key does not match the one these data keys were wrapped with; set VAKT_MASTER_KEY to the original key") {
		t.Fatalf("wrong master key: err = %v", err)
	}
	krNoSecret(t, err, master, other)

	for _, m := range [][]byte{nil, {}, master[:16], append(master, 0)} {
		_, err := natsstore.OpenKeyring(ctx, n.JetStream, m, natsstore.KeyringOptions{})
		if vakt.CodeOf(err) != vakt.CodeInvalidArgument {
			t.Fatalf("%d-byte master key: err = %v", len(m), err)
		}
	}

	// Without the check entry, keys that exist are never silently joined by
	// keys wrapped with an unverified master key.
	kv := krKV(t, n.JetStream)
	if err := kv.Delete(ctx, "_vakt.master.check"); err != nil {
		t.Fatal(err)
	}
	for _, m := range [][]byte{master, other} {
		_, err = natsstore.OpenKeyring(ctx, n.JetStream, m, natsstore.KeyringOptions{})
		if err == nil || !strings.Contains(err.Error(), "no master key check") {
			t.Fatalf("missing check: err = %v", err)
		}
	}

	// Another bucket is independent.
	if _, err := natsstore.OpenKeyring(ctx, n.JetStream, other, natsstore.KeyringOptions{Bucket: "OTHER_KEYS"}); err != nil {
		t.Fatal(err)
	}
}

func TestKeyringConcurrentFirstOpen(t *testing.T) {
	n := natstest.Start(t)
	master := krMaster(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = natsstore.OpenKeyring(context.Background(), n.JetStream, master, natsstore.KeyringOptions{})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestKeyringRefusesUnsafeBucket(t *testing.T) {
	ctx := context.Background()
	n := natstest.Start(t)
	// A stock KV bucket denies message deletes, so it could not erase.
	if _, err := n.JetStream.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "STOCK", Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	_, err := natsstore.OpenKeyring(ctx, n.JetStream, krMaster(t), natsstore.KeyringOptions{Bucket: "STOCK"})
	if err == nil || !strings.Contains(err.Error(), "denies message deletes") {
		t.Fatalf("stock bucket: err = %v", err)
	}
	cfg := natsstore.KeyStreamConfig("EXPIRING", 1)
	cfg.MaxAge = time.Hour
	if _, err := n.JetStream.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	_, err = natsstore.OpenKeyring(ctx, n.JetStream, krMaster(t), natsstore.KeyringOptions{Bucket: "EXPIRING"})
	if err == nil || !strings.Contains(err.Error(), "expires entries") {
		t.Fatalf("expiring bucket: err = %v", err)
	}
}

func TestKeyringHammerCreate(t *testing.T) {
	ctx := context.Background()
	n := natstest.Start(t)
	master := krMaster(t)
	// Several keyrings (processes) with many goroutines each.
	rings := make([]*natsstore.Keyring, 4)
	for i := range rings {
		rings[i] = krOpen(t, n.JetStream, master, natsstore.KeyringOptions{})
	}
	const perRing = 16
	got := make([][]byte, len(rings)*perRing)
	errs := make([]error, len(got))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			<-start
			k, err := rings[i%len(rings)].DataKey(ctx, "uio.no", "ola", true)
			if err == nil {
				got[i] = k.Bytes()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("goroutine %d got a different key", i)
		}
	}
	kv := krKV(t, n.JetStream)
	name := natsstore.Key(events.Stream{Tenant: "uio.no", User: "ola"})
	e, err := kv.Get(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if e.Revision() != 2 { // the check entry is 1; one create is 2
		t.Fatalf("the key was written more than once (revision %d)", e.Revision())
	}
	for _, r := range rings {
		if k := krKey(t, r, "uio.no", "ola", false); !bytes.Equal(k.Bytes(), got[0]) {
			t.Fatal("a keyring kept a losing key")
		}
	}
}

func TestKeyringRestart(t *testing.T) {
	dir := t.TempDir()
	master := krMaster(t)
	n := natstest.Start(t, natstest.Dir(dir))
	kr := krOpen(t, n.JetStream, master, natsstore.KeyringOptions{})
	want := map[string][]byte{}
	for _, u := range []string{"ola", "kari", "per.hansen@uio.no"} {
		want[u] = krKey(t, kr, "uio.no", u, true).Bytes()
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	n = natstest.Start(t, natstest.Dir(dir))
	kr = krOpen(t, n.JetStream, master, natsstore.KeyringOptions{})
	for u, w := range want {
		if k := krKey(t, kr, "uio.no", u, false); k == nil || !bytes.Equal(k.Bytes(), w) {
			t.Fatalf("%s: key changed across a restart", u)
		}
	}
	if _, err := natsstore.OpenKeyring(context.Background(), n.JetStream, krMaster(t), natsstore.KeyringOptions{}); err == nil {
		t.Fatal("a new master key was accepted after a restart")
	}
}

// TestKeyringDestroy checks that destroying a key erases it: gone from KV, its
// stream message unreadable, and its bytes overwritten on disk.
func TestKeyringDestroy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n := natstest.Start(t, natstest.Dir(dir))
	master := krMaster(t)
	kr := krOpen(t, n.JetStream, master, natsstore.KeyringOptions{})
	kv := krKV(t, n.JetStream)
	st, err := n.JetStream.Stream(ctx, "KV_"+natsstore.KeyBucket)
	if err != nil {
		t.Fatal(err)
	}

	olaKey := krKey(t, kr, "uio.no", "ola", true).Bytes()
	keep := krKey(t, kr, "uio.no", "kari", true)
	olaName := natsstore.Key(events.Stream{Tenant: "uio.no", User: "ola"})
	kariName := natsstore.Key(events.Stream{Tenant: "uio.no", User: "kari"})
	e, err := kv.Get(ctx, olaName)
	if err != nil {
		t.Fatal(err)
	}
	olaSeq, olaWrapped := e.Revision(), e.Value()
	e, err = kv.Get(ctx, kariName)
	if err != nil {
		t.Fatal(err)
	}
	kariWrapped := e.Value()

	if err := kr.Destroy(ctx, "uio.no", "ola"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, olaName); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("Get after Destroy: %v", err)
	}
	if _, err := st.GetMsg(ctx, olaSeq); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("GetMsg(%d) after Destroy: %v", olaSeq, err)
	}
	if k := krKey(t, kr, "uio.no", "ola", false); k != nil {
		t.Fatal("the destroyed key is still served (cache)")
	}
	other := krOpen(t, n.JetStream, master, natsstore.KeyringOptions{})
	if k := krKey(t, other, "uio.no", "ola", false); k != nil {
		t.Fatal("the destroyed key is still in KV")
	}
	if k := krKey(t, kr, "uio.no", "kari", false); !bytes.Equal(k.Bytes(), keep.Bytes()) {
		t.Fatal("destroying Ola touched Kari's key")
	}

	// Idempotent, and destroying unknown users writes nothing.
	info, _ := st.Info(ctx)
	last := info.State.LastSeq
	for range 2 {
		if err := kr.Destroy(ctx, "uio.no", "ola"); err != nil {
			t.Fatal(err)
		}
		if err := kr.Destroy(ctx, "uio.no", "nobody"); err != nil {
			t.Fatal(err)
		}
	}
	if info, _ := st.Info(ctx); info.State.LastSeq != last {
		t.Fatalf("destroying absent keys wrote %d messages", info.State.LastSeq-last)
	}

	// A new key for the same user (after the erasure) is a different key.
	if k := krKey(t, kr, "uio.no", "ola", true); k == nil || bytes.Equal(k.Bytes(), olaKey) {
		t.Fatal("no new key after erasure")
	}
	if err := kr.Destroy(ctx, "uio.no", "ola"); err != nil {
		t.Fatal(err)
	}

	// On disk: after a clean shutdown the destroyed wrapped key is nowhere
	// in the store, while the kept one is (the control that shows the scan
	// would find it).
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if !krOnDisk(t, dir, kariWrapped) {
		t.Fatal("control: the kept wrapped key is not found on disk; the scan is broken")
	}
	if krOnDisk(t, dir, olaWrapped) {
		t.Fatal("the destroyed wrapped key is still on disk")
	}
}

func krOnDisk(t *testing.T, dir string, needle []byte) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			t.Logf("found in %s", path)
			found = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestKeyringConcurrentDestroy(t *testing.T) {
	ctx := context.Background()
	n := natstest.Start(t)
	master := krMaster(t)
	rings := []*natsstore.Keyring{
		krOpen(t, n.JetStream, master, natsstore.KeyringOptions{}),
		krOpen(t, n.JetStream, master, natsstore.KeyringOptions{}),
	}
	for round := range 20 {
		user := fmt.Sprint("u", round)
		for _, r := range rings {
			krKey(t, r, "t", user, true)
		}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				r := rings[i%2]
				if i%4 == 3 {
					// Readers racing the erasure must not re-cache the key.
					_, errs[i] = r.DataKey(ctx, "t", user, false)
					return
				}
				errs[i] = r.Destroy(ctx, "t", user)
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range rings {
			if err := r.Destroy(ctx, "t", user); err != nil { // as the engine does
				t.Fatal(err)
			}
			if k := krKey(t, r, "t", user, false); k != nil {
				t.Fatalf("round %d: key survived", round)
			}
		}
	}
}

// TestKeyringErasure runs an erasure end to end through the engine on the
// NATS event store: the events stay and verify, the key is gone, and the
// sealed secrets cannot be opened any more.
func TestKeyringErasure(t *testing.T) {
	ctx := context.Background()
	n := natstest.Start(t)
	store, err := natsstore.Open(ctx, n.JetStream, natsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	master := krMaster(t)
	kr := krOpen(t, n.JetStream, master, natsstore.KeyringOptions{})
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	svc := &engine.Service{Store: store, Keys: kr, Now: func() time.Time { return now }}
	const tenant, user = "uio.no", "ola.nordmann"
	cmd := 0
	do := func(c engine.Command) (engine.Result, error) {
		cmd++
		return svc.Execute(ctx, engine.Request{Tenant: tenant, User: user, Command: c, ID: fmt.Sprint("cmd-", cmd), Actor: "test"})
	}
	must := func(c engine.Command) engine.Result {
		t.Helper()
		res, err := do(c)
		if err != nil {
			t.Fatalf("%s: %v", c.CommandType(), err)
		}
		return res
	}

	// Enrol a TOTP app and an SMS number, and sign in once with client
	// details (which are sealed too).
	res := must(engine.StartEnrolment{Method: events.MethodTOTP, Label: "Phone"})
	totpID, secret := res.Reply.AuthenticatorID, res.Reply.Secret.Reveal()
	code, err := totp.GenerateCode(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	must(engine.ConfirmEnrolment{AuthenticatorID: totpID, Code: code})
	res = must(engine.StartEnrolment{Method: events.MethodSMS, Label: "Mobile", Address: "+47 912 34 567"})
	must(engine.ConfirmEnrolment{AuthenticatorID: res.Reply.AuthenticatorID, Code: res.Reply.Deliver.Code.Reveal()})
	now = now.Add(time.Minute)
	client := events.Context{IP: "192.0.2.7", UserAgent: "Firefox/140", Location: "Oslo"}
	ch := must(engine.IssueChallenge{App: "web", Context: client}).Reply
	code, _ = totp.GenerateCode(secret, now)
	must(engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: code})

	stream := events.Stream{Tenant: tenant, User: user}
	before, err := store.Load(ctx, stream, events.Head{})
	if err != nil {
		t.Fatal(err)
	}
	key := krKey(t, kr, tenant, user, false)
	if key == nil {
		t.Fatal("no data key after enrolment")
	}
	oldKey := key.Bytes() // what an attacker would need; the system drops it
	kv := krKV(t, n.JetStream)
	name := natsstore.Key(stream)
	e, err := kv.Get(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	keySeq := e.Revision()

	seed, issued := krSealed(t, before, totpID, ch.ChallengeID)
	// Controls: with the original key the sealed values open.
	if got, err := krOpenSeed(oldKey, tenant, user, totpID, seed); err != nil || len(got) != 20 {
		t.Fatalf("control: the original key does not open the seed (%v); the test's opener is out of date", err)
	}
	if got, err := engine.OpenClient(key, tenant, user, ch.ChallengeID, issued.Application, issued.Client); err != nil || got.IP != client.IP {
		t.Fatalf("control: OpenClient = %+v, %v", got, err)
	}
	for _, r := range before {
		if bytes.Contains(r.Raw, []byte("91234567")) || bytes.Contains(r.Raw, []byte(secret)) || bytes.Contains(r.Raw, []byte(client.IP)) {
			t.Fatalf("a secret is stored in clear in %s", r.Type)
		}
	}

	// Erase.
	res = must(engine.Erase{Operator: "dpo", Reason: "GDPR art. 17"})

	// The events are all still there, plus the erasure, and the chain holds.
	after, err := store.Load(ctx, stream, events.Head{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before)+len(res.Records) {
		t.Fatalf("%d events before, %d erasure events, %d after", len(before), len(res.Records), len(after))
	}
	for i := range before {
		if !bytes.Equal(after[i].Raw, before[i].Raw) {
			t.Fatalf("event %d changed by the erasure", i+1)
		}
	}
	v := events.NewVerifier()
	for i := range after {
		if brk := v.Check(&after[i]); brk != nil {
			t.Fatalf("chain after erasure: %v", brk)
		}
	}

	// The data key is gone from KV and from the stream behind it.
	if _, err := kv.Get(ctx, name); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("key entry after erasure: %v", err)
	}
	ks, err := n.JetStream.Stream(ctx, "KV_"+natsstore.KeyBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.GetMsg(ctx, keySeq); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("the key's message %d can still be read: %v", keySeq, err)
	}
	if k := krKey(t, kr, tenant, user, false); k != nil {
		t.Fatal("the keyring still serves the erased key")
	}

	// Later commands answer "erased", and create no key.
	for _, c := range []engine.Command{
		engine.IssueChallenge{App: "web"},
		engine.StartEnrolment{Method: events.MethodTOTP, Label: "Again"},
		engine.VerifyCode{ChallengeID: ch.ChallengeID, Code: code},
	} {
		if _, err := do(c); vakt.CodeOf(err) != vakt.CodeErased {
			t.Fatalf("%s after erasure: %v", c.CommandType(), err)
		}
	}
	if _, err := kv.Get(ctx, name); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("a command after erasure made a key: %v", err)
	}

	// The sealed values cannot be opened with whatever key the system can
	// now produce for this user: a fresh one.
	fresh := krKey(t, kr, tenant, user, true)
	if bytes.Equal(fresh.Bytes(), oldKey) {
		t.Fatal("the fresh key equals the erased one")
	}
	if _, err := krOpenSeed(fresh.Bytes(), tenant, user, totpID, seed); err == nil {
		t.Fatal("the seed opens after erasure")
	}
	if _, err := engine.OpenClient(fresh, tenant, user, ch.ChallengeID, issued.Application, issued.Client); err == nil {
		t.Fatal("the client details open after erasure")
	}
	if err := kr.Destroy(ctx, tenant, user); err != nil {
		t.Fatal(err)
	}
}

// krSealed finds the TOTP seed and the challenge's sealed client details.
func krSealed(t *testing.T, recs []events.Record, authID, challengeID string) (events.Sealed, events.ChallengeIssued) {
	t.Helper()
	var seed events.Sealed
	var issued events.ChallengeIssued
	for _, r := range recs {
		switch e := r.Event.(type) {
		case events.EnrolmentStarted:
			if e.AuthenticatorID == authID {
				seed = e.Secret
			}
		case events.ChallengeIssued:
			if e.ChallengeID == challengeID {
				issued = e
			}
		}
	}
	if seed.IsZero() || issued.Client.IsZero() {
		t.Fatalf("no sealed seed or client details in %d events", len(recs))
	}
	return seed, issued
}

// krOpenSeed opens a sealed seed as the engine does (AES-256-GCM, additional
// data binding tenant, user, authenticator and purpose).
func krOpenSeed(key []byte, tenant, user, authID string, s events.Sealed) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	ad := []byte("vakt-seal-v1")
	for _, p := range []string{tenant, user, authID, "seed"} {
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(p)))
		ad = append(ad, p...)
	}
	if len(s.Nonce) != aead.NonceSize() {
		return nil, errors.New("bad nonce")
	}
	return aead.Open(nil, s.Nonce, s.Box, ad)
}

func BenchmarkKeyringDataKey(b *testing.B) {
	ctx := context.Background()
	n := natstest.Start(b)
	master := krMaster(b)
	for _, bc := range []struct {
		name  string
		cache int
	}{{"cached", 0}, {"uncached", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			kr := krOpen(b, n.JetStream, master, natsstore.KeyringOptions{CacheSize: bc.cache})
			const users = 1000
			for i := range users {
				krKey(b, kr, "uio.no", fmt.Sprint("user.", i), true)
			}
			ids := make([]string, users)
			for i := range ids {
				ids[i] = fmt.Sprint("user.", i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if _, err := kr.DataKey(ctx, "uio.no", ids[i%users], false); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	b.Run("create", func(b *testing.B) {
		kr := krOpen(b, n.JetStream, master, natsstore.KeyringOptions{})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := kr.DataKey(ctx, "uio.no", fmt.Sprint("new.", i), true); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
