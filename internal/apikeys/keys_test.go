package apikeys_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/apikeys"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
)

const adminSecret = "an-admin-key-of-at-least-32-chars!!"

var admin = apikeys.Principal{KeyID: apikeys.AdminKeyID, Scope: apikeys.ScopeAdmin}

func open(t *testing.T, js jetstream.JetStream, opts apikeys.Options) *apikeys.Keys {
	t.Helper()
	if opts.Admin == "" {
		opts.Admin = adminSecret
	}
	k, err := apikeys.Open(context.Background(), js, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return k
}

func setup(t *testing.T) (*apikeys.Keys, jetstream.JetStream) {
	t.Helper()
	n := natstest.Start(t)
	return open(t, n.JetStream, apikeys.Options{}), n.JetStream
}

func create(t *testing.T, k *apikeys.Keys, by apikeys.Principal, scope apikeys.Scope, tenant string) (apikeys.Key, string) {
	t.Helper()
	key, secret, err := k.Create(context.Background(), by, scope, tenant, "test "+string(scope))
	if err != nil {
		t.Fatalf("%s creates %s for %s: %v", by.Scope, scope, tenant, err)
	}
	return key, secret
}

func wantCode(t *testing.T, err error, code vakt.Code) {
	t.Helper()
	if vakt.CodeOf(err) != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}

func TestCreateAndAuthenticateAcrossScopes(t *testing.T) {
	k, _ := setup(t)
	ctx := context.Background()

	p, err := k.Authenticate(ctx, adminSecret)
	if err != nil || p != admin {
		t.Fatalf("admin key: %+v, %v", p, err)
	}

	taKey, taSecret := create(t, k, admin, apikeys.ScopeTenantAdmin, "uio.no")
	if !strings.HasPrefix(taSecret, "vakt_"+taKey.ID+"_") || len(taSecret) != apikeys.SecretLen {
		t.Fatalf("secret form: %q (id %s)", taSecret, taKey.ID)
	}
	if taKey.CreatedBy != apikeys.AdminKeyID || taKey.Tenant != "uio.no" || taKey.Scope != apikeys.ScopeTenantAdmin || taKey.CreatedAt.IsZero() {
		t.Fatalf("key: %+v", taKey)
	}
	ta, err := k.Authenticate(ctx, taSecret)
	if err != nil {
		t.Fatal(err)
	}
	if ta != (apikeys.Principal{KeyID: taKey.ID, Scope: apikeys.ScopeTenantAdmin, Tenant: "uio.no"}) {
		t.Fatalf("tenant admin principal: %+v", ta)
	}

	hdKey, hdSecret := create(t, k, ta, apikeys.ScopeHelpdesk, "uio.no")
	rpKey, rpSecret := create(t, k, ta, apikeys.ScopeRelyingParty, "uio.no")
	if hdKey.CreatedBy != taKey.ID || rpKey.CreatedBy != taKey.ID {
		t.Fatalf("created_by: %s, %s", hdKey.CreatedBy, rpKey.CreatedBy)
	}
	otherRP, otherSecret := create(t, k, admin, apikeys.ScopeRelyingParty, "ntnu.no")

	for _, c := range []struct {
		secret string
		want   apikeys.Principal
	}{
		{hdSecret, hdKey.Principal()},
		{rpSecret, rpKey.Principal()},
		{otherSecret, otherRP.Principal()},
	} {
		for range 2 { // from the bucket, then from the cache
			got, err := k.Authenticate(ctx, c.secret)
			if err != nil || got != c.want {
				t.Fatalf("authenticate %s: %+v, %v", c.want.Scope, got, err)
			}
		}
	}
	hd, _ := k.Authenticate(ctx, hdSecret)
	rp, _ := k.Authenticate(ctx, rpSecret)
	if !hd.Can(apikeys.ActionHelpdesk, "uio.no") || hd.Can(apikeys.ActionHelpdesk, "ntnu.no") || hd.Can(apikeys.ActionVerify, "uio.no") {
		t.Fatal("helpdesk rights")
	}
	if !rp.Can(apikeys.ActionVerify, "uio.no") || rp.Can(apikeys.ActionVerify, "ntnu.no") || rp.Can(apikeys.ActionHelpdesk, "uio.no") {
		t.Fatal("relying party rights")
	}
}

func TestCreateRules(t *testing.T) {
	k, _ := setup(t)
	ctx := context.Background()
	_, taSecret := create(t, k, admin, apikeys.ScopeTenantAdmin, "uio.no")
	ta, err := k.Authenticate(ctx, taSecret)
	if err != nil {
		t.Fatal(err)
	}
	_, hdSecret := create(t, k, ta, apikeys.ScopeHelpdesk, "uio.no")
	hd, _ := k.Authenticate(ctx, hdSecret)
	_, rpSecret := create(t, k, ta, apikeys.ScopeRelyingParty, "uio.no")
	rp, _ := k.Authenticate(ctx, rpSecret)

	cases := []struct {
		name   string
		by     apikeys.Principal
		scope  apikeys.Scope
		tenant string
		label  string
		code   vakt.Code
	}{
		{"tenant admin for another tenant", ta, apikeys.ScopeRelyingParty, "ntnu.no", "", vakt.CodeUnauthorized},
		{"tenant admin makes a tenant admin", ta, apikeys.ScopeTenantAdmin, "uio.no", "", vakt.CodeUnauthorized},
		{"tenant admin makes an admin", ta, apikeys.ScopeAdmin, "uio.no", "", vakt.CodeInvalidArgument},
		{"admin makes an admin", admin, apikeys.ScopeAdmin, "uio.no", "", vakt.CodeInvalidArgument},
		{"admin makes an admin without tenant", admin, apikeys.ScopeAdmin, "", "", vakt.CodeInvalidArgument},
		{"helpdesk makes a key", hd, apikeys.ScopeHelpdesk, "uio.no", "", vakt.CodeUnauthorized},
		{"relying party makes a key", rp, apikeys.ScopeRelyingParty, "uio.no", "", vakt.CodeUnauthorized},
		{"nobody makes a key", apikeys.Principal{}, apikeys.ScopeRelyingParty, "uio.no", "", vakt.CodeUnauthorized},
		{"unknown scope", admin, "superuser", "uio.no", "", vakt.CodeInvalidArgument},
		{"no tenant", admin, apikeys.ScopeRelyingParty, "", "", vakt.CodeInvalidArgument},
		{"bad tenant", admin, apikeys.ScopeRelyingParty, "uio\x00no", "", vakt.CodeInvalidArgument},
		{"long tenant", admin, apikeys.ScopeRelyingParty, strings.Repeat("t", 129), "", vakt.CodeInvalidArgument},
		{"bad label", admin, apikeys.ScopeRelyingParty, "uio.no", "web\u202e", vakt.CodeInvalidArgument},
		{"long label", admin, apikeys.ScopeRelyingParty, "uio.no", strings.Repeat("l", 129), vakt.CodeInvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key, secret, err := k.Create(ctx, c.by, c.scope, c.tenant, c.label)
			wantCode(t, err, c.code)
			if key != (apikeys.Key{}) || secret != "" {
				t.Fatalf("a refused create returned %+v %q", key, secret)
			}
		})
	}
	// Nothing was stored by the refusals: the tenant_admin, helpdesk and
	// relying party keys only.
	all, err := k.List(ctx, admin, "")
	if err != nil || len(all) != 3 {
		t.Fatalf("list after refusals: %d keys, %v", len(all), err)
	}
	// Free-text tenant ids work as elsewhere in Vakt.
	if _, _, err := k.Create(ctx, admin, apikeys.ScopeRelyingParty, "ola.nordmann@uio.no > *", "Web"); err != nil {
		t.Fatal(err)
	}
}

func TestRevoke(t *testing.T) {
	k, _ := setup(t)
	ctx := context.Background()
	taKey, taSecret := create(t, k, admin, apikeys.ScopeTenantAdmin, "uio.no")
	ta, _ := k.Authenticate(ctx, taSecret)
	otherTA, otherTASecret := create(t, k, admin, apikeys.ScopeTenantAdmin, "ntnu.no")
	rpKey, rpSecret := create(t, k, ta, apikeys.ScopeRelyingParty, "uio.no")
	hdKey, hdSecret := create(t, k, ta, apikeys.ScopeHelpdesk, "uio.no")
	hd, _ := k.Authenticate(ctx, hdSecret)
	foreign, foreignSecret := create(t, k, admin, apikeys.ScopeRelyingParty, "ntnu.no")

	if _, err := k.Authenticate(ctx, rpSecret); err != nil { // cached now
		t.Fatal(err)
	}
	wantCode(t, k.Revoke(ctx, hd, rpKey.ID), vakt.CodeUnauthorized)
	wantCode(t, k.Revoke(ctx, ta, foreign.ID), vakt.CodeNotFound)
	wantCode(t, k.Revoke(ctx, ta, otherTA.ID), vakt.CodeNotFound)
	wantCode(t, k.Revoke(ctx, ta, taKey.ID), vakt.CodeUnauthorized)
	wantCode(t, k.Revoke(ctx, ta, "a.*"), vakt.CodeInvalidArgument)
	wantCode(t, k.Revoke(ctx, admin, "AAAAAAAAAAAAAAAAAAAAAA"), vakt.CodeNotFound)
	wantCode(t, k.Revoke(ctx, admin, apikeys.AdminKeyID), vakt.CodeInvalidArgument)

	if err := k.Revoke(ctx, ta, rpKey.ID); err != nil {
		t.Fatal(err)
	}
	_, err := k.Authenticate(ctx, rpSecret)
	wantCode(t, err, vakt.CodeUnauthorized)
	wantCode(t, k.Revoke(ctx, ta, rpKey.ID), vakt.CodeNotFound)

	if err := k.Revoke(ctx, ta, hdKey.ID); err != nil {
		t.Fatal(err)
	}
	if err := k.Revoke(ctx, admin, foreign.ID); err != nil {
		t.Fatal(err)
	}
	if err := k.Revoke(ctx, admin, otherTA.ID); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{hdSecret, foreignSecret, otherTASecret} {
		_, err := k.Authenticate(ctx, s)
		wantCode(t, err, vakt.CodeUnauthorized)
	}
	if _, err := k.Authenticate(ctx, taSecret); err != nil {
		t.Fatalf("an unrevoked key stopped working: %v", err)
	}
	left, err := k.List(ctx, admin, "")
	if err != nil || len(left) != 1 || left[0].ID != taKey.ID {
		t.Fatalf("left after revocations: %+v, %v", left, err)
	}
}

// A revocation through one instance stops the key on another that has it
// cached, through the watch (the second instance's cache TTL is an hour).
func TestRevokeSeenByOtherInstance(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	k1 := open(t, n.JetStream, apikeys.Options{})
	k2 := open(t, n.JetStream, apikeys.Options{CacheTTL: time.Hour})
	key, secret := create(t, k1, admin, apikeys.ScopeRelyingParty, "uio.no")
	for range 3 {
		if _, err := k2.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if err := k1.Revoke(ctx, admin, key.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, err := k2.Authenticate(ctx, secret)
		if vakt.CodeOf(err) == vakt.CodeUnauthorized {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the revoked key still works on the other instance after 3 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Without the watch (it ended), the short cache TTL bounds a revocation
// elsewhere; here the cache is off altogether once the watch stops.
func TestNoCache(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	k1 := open(t, n.JetStream, apikeys.Options{})
	k2 := open(t, n.JetStream, apikeys.Options{CacheTTL: -1})
	key, secret := create(t, k1, admin, apikeys.ScopeRelyingParty, "uio.no")
	if _, err := k2.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := k1.Revoke(ctx, admin, key.ID); err != nil {
		t.Fatal(err)
	}
	_, err := k2.Authenticate(ctx, secret)
	wantCode(t, err, vakt.CodeUnauthorized)
}

func TestBadBearersLookAlike(t *testing.T) {
	k, _ := setup(t)
	ctx := context.Background()
	key, secret := create(t, k, admin, apikeys.ScopeRelyingParty, "uio.no")
	if _, err := k.Authenticate(ctx, secret); err != nil { // cached
		t.Fatal(err)
	}
	forged := "vakt_" + key.ID + "_" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	unknownID := "vakt_" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{1}, 16)) + secret[len("vakt_")+22:]
	// The last character of the secret part carries 4 padding bits; a
	// non-canonical spelling of the same bytes must not work either.
	last := secret[len(secret)-1]
	alt := byte('B')
	if last == 'B' {
		alt = 'C'
	}
	nonCanonical := secret[:len(secret)-1] + string(alt)
	bearers := map[string]string{
		"empty":          "",
		"garbage":        "garbage",
		"bearer prefix":  "Bearer " + secret,
		"forged secret":  forged,
		"unknown id":     unknownID,
		"truncated":      secret[:len(secret)-1],
		"extended":       secret + "A",
		"wrong prefix":   "vakx_" + secret[5:],
		"upper case":     strings.ToUpper(secret),
		"wildcard id":    "vakt_" + "a.*>" + strings.Repeat("A", 18) + secret[27:],
		"huge":           strings.Repeat("x", 1<<20),
		"admin prefixed": adminSecret + " ",
		"non-canonical":  nonCanonical,
	}
	var msg string
	for name, b := range bearers {
		_, err := k.Authenticate(ctx, b)
		var ve *vakt.Error
		if !errors.As(err, &ve) || ve.Code != vakt.CodeUnauthorized {
			t.Fatalf("%s: %v", name, err)
		}
		if msg == "" {
			msg = ve.Message
		}
		if ve.Message != msg {
			t.Fatalf("%s: message %q differs from %q", name, ve.Message, msg)
		}
		if strings.Contains(ve.Message, key.ID) {
			t.Fatalf("%s: the message names the key id", name)
		}
	}
	if _, err := k.Authenticate(ctx, secret); err != nil {
		t.Fatalf("the real key stopped working: %v", err)
	}
}

// A stored entry that claims the admin scope (written by hand into the
// bucket) never authenticates: only the admin key has that scope.
func TestStoredAdminScopeRefused(t *testing.T) {
	k, js := setup(t)
	ctx := context.Background()
	key, secret := create(t, k, admin, apikeys.ScopeRelyingParty, "uio.no")
	kv, err := js.KeyValue(ctx, apikeys.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, key.ID)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		t.Fatal(err)
	}
	m["scope"] = "admin"
	b, _ := json.Marshal(m)
	if _, err := kv.Put(ctx, key.ID, b); err != nil {
		t.Fatal(err)
	}
	k2 := open(t, js, apikeys.Options{})
	_, err = k2.Authenticate(ctx, secret)
	wantCode(t, err, vakt.CodeUnauthorized)
}

func TestBucketHoldsNoSecret(t *testing.T) {
	k, js := setup(t)
	ctx := context.Background()
	_, taSecret := create(t, k, admin, apikeys.ScopeTenantAdmin, "uio.no")
	ta, _ := k.Authenticate(ctx, taSecret)
	_, rpSecret := create(t, k, ta, apikeys.ScopeRelyingParty, "uio.no")
	_, hdSecret := create(t, k, ta, apikeys.ScopeHelpdesk, "uio.no")
	secrets := []string{taSecret, rpSecret, hdSecret, adminSecret}

	st, err := js.Stream(ctx, "KV_"+apikeys.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Storage != jetstream.FileStorage || info.Config.MaxMsgsPerSubject != 1 {
		t.Fatalf("bucket config: storage %v, history %d", info.Config.Storage, info.Config.MaxMsgsPerSubject)
	}
	var seen int
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		seen++
		raw := append([]byte(m.Subject), m.Data...)
		for _, s := range secrets {
			secretPart := s
			if len(s) == apikeys.SecretLen {
				secretPart = s[len(s)-43:]
			}
			dec, _ := base64.RawURLEncoding.DecodeString(secretPart)
			if bytes.Contains(raw, []byte(s)) || bytes.Contains(raw, []byte(secretPart)) || (len(dec) > 0 && bytes.Contains(raw, dec)) {
				t.Fatalf("message %d holds a secret: %s", seq, raw)
			}
		}
		var rec map[string]any
		if err := json.Unmarshal(m.Data, &rec); err != nil {
			t.Fatalf("message %d is not JSON: %v", seq, err)
		}
		for _, f := range []string{"id", "scope", "tenant", "label", "created_at", "created_by", "hash"} {
			if _, ok := rec[f]; !ok {
				t.Fatalf("message %d lacks %s: %s", seq, f, m.Data)
			}
		}
		found := false
		for _, s := range secrets {
			h := sha256.Sum256([]byte(s))
			if rec["hash"] == hex.EncodeToString(h[:]) {
				found = true
			}
		}
		if !found {
			t.Fatalf("message %d: hash is not the SHA-256 of any key", seq)
		}
	}
	if seen != 3 {
		t.Fatalf("%d entries, want 3", seen)
	}
}

func TestList(t *testing.T) {
	k, _ := setup(t)
	ctx := context.Background()
	taKey, taSecret := create(t, k, admin, apikeys.ScopeTenantAdmin, "uio.no")
	ta, _ := k.Authenticate(ctx, taSecret)
	rpKey, rpSecret := create(t, k, ta, apikeys.ScopeRelyingParty, "uio.no")
	rp, _ := k.Authenticate(ctx, rpSecret)
	hdKey, hdSecret := create(t, k, ta, apikeys.ScopeHelpdesk, "uio.no")
	hd, _ := k.Authenticate(ctx, hdSecret)
	other, _ := create(t, k, admin, apikeys.ScopeRelyingParty, "ntnu.no")

	ids := func(keys []apikeys.Key) map[string]bool {
		m := map[string]bool{}
		for _, k := range keys {
			m[k.ID] = true
		}
		return m
	}
	all, err := k.List(ctx, admin, "")
	if err != nil || len(all) != 4 {
		t.Fatalf("admin, all: %d, %v", len(all), err)
	}
	uio, err := k.List(ctx, admin, "uio.no")
	if got := ids(uio); err != nil || len(got) != 3 || !got[taKey.ID] || !got[rpKey.ID] || !got[hdKey.ID] {
		t.Fatalf("admin, uio.no: %+v, %v", uio, err)
	}
	ntnu, err := k.List(ctx, admin, "ntnu.no")
	if err != nil || len(ntnu) != 1 || ntnu[0] != other {
		t.Fatalf("admin, ntnu.no: %+v, %v (want %+v)", ntnu, err, other)
	}
	own, err := k.List(ctx, ta, "")
	if err != nil || len(ids(own)) != 3 {
		t.Fatalf("tenant admin, own: %+v, %v", own, err)
	}
	own2, err := k.List(ctx, ta, "uio.no")
	if err != nil || len(own2) != 3 {
		t.Fatalf("tenant admin, uio.no: %+v, %v", own2, err)
	}
	_, err = k.List(ctx, ta, "ntnu.no")
	wantCode(t, err, vakt.CodeUnauthorized)
	_, err = k.List(ctx, hd, "uio.no")
	wantCode(t, err, vakt.CodeUnauthorized)
	_, err = k.List(ctx, rp, "uio.no")
	wantCode(t, err, vakt.CodeUnauthorized)
	b, _ := json.Marshal(all)
	if bytes.Contains(b, []byte("hash")) {
		t.Fatalf("a listed key carries its hash: %s", b)
	}
	// Oldest first.
	for i := 1; i < len(all); i++ {
		if all[i].CreatedAt.Before(all[i-1].CreatedAt) {
			t.Fatalf("not oldest first: %+v", all)
		}
	}
}

func TestAdminOption(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	for _, bad := range []string{"short", strings.Repeat("a", 31), strings.Repeat("a b", 20), strings.Repeat("æ", 40)} {
		_, err := apikeys.Open(ctx, n.JetStream, apikeys.Options{Admin: bad})
		wantCode(t, err, vakt.CodeInvalidArgument)
	}
	// No admin key: nothing authenticates as admin.
	k, err := apikeys.Open(ctx, n.JetStream, apikeys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	for _, b := range []string{"", adminSecret} {
		_, err := k.Authenticate(ctx, b)
		wantCode(t, err, vakt.CodeUnauthorized)
	}
}

func TestConcurrentAuthenticateAndRevoke(t *testing.T) {
	k, _ := setup(t)
	ctx := context.Background()
	type pair struct {
		key    apikeys.Key
		secret string
	}
	var keys []pair
	for range 8 {
		key, secret := create(t, k, admin, apikeys.ScopeRelyingParty, "uio.no")
		keys = append(keys, pair{key, secret})
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				for _, p := range keys {
					if _, err := k.Authenticate(ctx, p.secret); err != nil && vakt.CodeOf(err) != vakt.CodeUnauthorized {
						t.Errorf("authenticate: %v", err)
						return
					}
				}
			}
		})
		if i%2 == 0 {
			p := keys[i]
			wg.Go(func() {
				if err := k.Revoke(ctx, admin, p.key.ID); err != nil {
					t.Errorf("revoke: %v", err)
				}
			})
		}
	}
	wg.Wait()
	for i, p := range keys {
		_, err := k.Authenticate(ctx, p.secret)
		if revoked := i%2 == 0; revoked != (err != nil) {
			t.Fatalf("key %d (revoked %v): %v", i, revoked, err)
		}
	}
}

func TestCanMatrix(t *testing.T) {
	const (
		R = 1 << iota
		H
		T
	)
	want := map[apikeys.Action]int{
		apikeys.ActionEnrol:               R | T,
		apikeys.ActionAuthenticators:      R | T,
		apikeys.ActionRemoveAuthenticator: R | H | T,
		apikeys.ActionChallenge:           R | T,
		apikeys.ActionVerify:              R | T,
		apikeys.ActionRecoveryCodes:       R | T,
		apikeys.ActionSelfReset:           R | T,
		apikeys.ActionReadUser:            R | H | T,
		apikeys.ActionReadEvents:          H | T,
		apikeys.ActionHelpdesk:            H | T,
		apikeys.ActionPolicy:              T,
		apikeys.ActionKeys:                T,
		apikeys.ActionErase:               T,
		apikeys.ActionAdmin:               0,
	}
	if len(want) != len(apikeys.Actions) {
		t.Fatalf("the test covers %d actions, the package has %d", len(want), len(apikeys.Actions))
	}
	scopes := map[apikeys.Scope]int{apikeys.ScopeRelyingParty: R, apikeys.ScopeHelpdesk: H, apikeys.ScopeTenantAdmin: T}
	for _, a := range apikeys.Actions {
		bits, ok := want[a]
		if !ok {
			t.Fatalf("action %s is not in the test", a)
		}
		if !admin.Can(a, "uio.no") || !admin.Can(a, "") {
			t.Fatalf("admin cannot %s", a)
		}
		for s, bit := range scopes {
			p := apikeys.Principal{KeyID: "x", Scope: s, Tenant: "uio.no"}
			if got := p.Can(a, "uio.no"); got != (bits&bit != 0) {
				t.Errorf("%s %s own tenant: %v", s, a, got)
			}
			if p.Can(a, "ntnu.no") || p.Can(a, "") {
				t.Errorf("%s may %s outside its tenant", s, a)
			}
		}
		if (apikeys.Principal{}).Can(a, "") || (apikeys.Principal{Tenant: "uio.no"}).Can(a, "uio.no") {
			t.Errorf("the zero principal may %s", a)
		}
	}
	if admin.Can("launch", "uio.no") {
		t.Error("an unknown action is allowed")
	}

	ta := apikeys.Principal{Scope: apikeys.ScopeTenantAdmin, Tenant: "uio.no"}
	hd := apikeys.Principal{Scope: apikeys.ScopeHelpdesk, Tenant: "uio.no"}
	for _, c := range []struct {
		p      apikeys.Principal
		scope  apikeys.Scope
		tenant string
		want   bool
	}{
		{admin, apikeys.ScopeAdmin, "", true},
		{admin, apikeys.ScopeTenantAdmin, "x", true},
		{ta, apikeys.ScopeTenantAdmin, "uio.no", true},
		{ta, apikeys.ScopeHelpdesk, "uio.no", true},
		{ta, apikeys.ScopeRelyingParty, "uio.no", true},
		{ta, apikeys.ScopeRelyingParty, "ntnu.no", false},
		{ta, apikeys.ScopeAdmin, "uio.no", false},
		{hd, apikeys.ScopeHelpdesk, "uio.no", true},
		{hd, apikeys.ScopeRelyingParty, "uio.no", false},
		{hd, apikeys.ScopeTenantAdmin, "uio.no", false},
	} {
		if got := c.p.Allows(c.scope, c.tenant); got != c.want {
			t.Errorf("%s allows %s for %q: %v", c.p.Scope, c.scope, c.tenant, got)
		}
	}
}

func TestReopenKeepsKeys(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	k1 := open(t, n.JetStream, apikeys.Options{Now: func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }})
	key, secret := create(t, k1, admin, apikeys.ScopeHelpdesk, "uio.no")
	if !key.CreatedAt.Equal(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("created_at %v", key.CreatedAt)
	}
	k2 := open(t, n.JetStream, apikeys.Options{})
	p, err := k2.Authenticate(ctx, secret)
	if err != nil || p != key.Principal() {
		t.Fatalf("%+v, %v", p, err)
	}
}
