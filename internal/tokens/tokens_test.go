package tokens_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
	"github.com/vaktmfa/vakt/internal/tokens"
)

const (
	iss    = "http://127.0.0.1:8080"
	rotate = 30 * 24 * time.Hour
	ttl    = time.Hour
)

// period0 is the start of a rotation period (a multiple of 30 days since the
// Unix epoch).
var period0 = time.Unix(0, 0).UTC().Add(700 * rotate)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func master(b byte) []byte { return bytes.Repeat([]byte{b}, tokens.MasterKeySize) }

func open(t *testing.T, js jetstream.JetStream, m []byte, opts tokens.Options) *tokens.Issuer {
	t.Helper()
	if opts.Issuer == "" {
		opts.Issuer = iss
	}
	i, err := tokens.Open(context.Background(), js, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := i.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return i
}

func claims() tokens.Claims {
	return tokens.Claims{
		Subject:     "ola.nordmann@uio.no",
		Tenant:      "uio.no",
		ACR:         "substantial",
		AMR:         []string{"otp"},
		AuthTime:    period0.Add(2 * time.Hour).Add(-time.Minute),
		App:         "web",
		ChallengeID: "0190a3e0-0000-7000-8000-000000000001",
	}
}

func sign(t *testing.T, i *tokens.Issuer, c tokens.Claims) string {
	t.Helper()
	tok, err := i.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func wantUnauthorized(t *testing.T, i *tokens.Issuer, tok, why string) {
	t.Helper()
	c, err := i.Verify(tok)
	t.Logf("%s: %v", why, err)
	if vakt.CodeOf(err) != vakt.CodeUnauthorized {
		t.Fatalf("%s: verified (%+v, %v)", why, c, err)
	}
	if c.Subject != "" {
		t.Fatalf("%s: claims returned with the error: %+v", why, c)
	}
}

// segments splits a compact JWS.
func segments(t *testing.T, tok string) (header, payload map[string]any, sig []byte) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%d segments", len(parts))
	}
	dec := func(s string, v any) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	dec(parts[0], &header)
	dec(parts[1], &payload)
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	return header, payload, sig
}

func encodeSegment(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestSignVerifyRoundTrip(t *testing.T) {
	n := natstest.Start(t)
	clk := &clock{t: period0.Add(2 * time.Hour)}
	i := open(t, n.JetStream, master(1), tokens.Options{Now: clk.Now})
	in := claims()
	tok := sign(t, i, in)

	header, payload, _ := segments(t, tok)
	if header["alg"] != "EdDSA" || header["typ"] != "JWT" || header["kid"] == "" {
		t.Fatalf("header %v", header)
	}
	now := clk.Now().Unix()
	for k, want := range map[string]any{
		"iss": iss, "sub": in.Subject, "tid": in.Tenant, "acr": "substantial", "app": "web", "jti": in.ChallengeID,
		"iat": float64(now), "exp": float64(now + int64(ttl/time.Second)), "auth_time": float64(in.AuthTime.Unix()),
	} {
		if payload[k] != want {
			t.Errorf("%s = %v, want %v", k, payload[k], want)
		}
	}
	if amr, _ := payload["amr"].([]any); len(amr) != 1 || amr[0] != "otp" {
		t.Errorf("amr %v", payload["amr"])
	}

	out, err := i.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if out.Subject != in.Subject || out.Tenant != in.Tenant || out.ACR != in.ACR || !slices.Equal(out.AMR, in.AMR) ||
		!out.AuthTime.Equal(in.AuthTime) || out.App != in.App || out.ChallengeID != in.ChallengeID {
		t.Fatalf("claims %+v, want %+v", out, in)
	}
	if out.Issuer != iss || !out.IssuedAt.Equal(clk.Now()) || !out.ExpiresAt.Equal(clk.Now().Add(ttl)) || out.KeyID != header["kid"] {
		t.Fatalf("registered claims %+v", out)
	}

	// Just within the leeway after expiry it still verifies; past it not.
	clk.Set(period0.Add(2*time.Hour + ttl + tokens.Leeway - time.Second))
	if _, err := i.Verify(tok); err != nil {
		t.Fatalf("within the leeway: %v", err)
	}
	clk.Set(period0.Add(2*time.Hour + ttl + tokens.Leeway + time.Second))
	wantUnauthorized(t, i, tok, "expired")

	for _, bad := range []tokens.Claims{{Tenant: "uio.no"}, {Subject: "ola"}, {Subject: "a\x00b", Tenant: "uio.no"}} {
		if _, err := i.Sign(bad); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
			t.Errorf("sign %+v: %v", bad, err)
		}
	}
}

// A relying party with nothing but the JWKS (no JWT library) verifies the
// token: find the key by kid, check the thumbprint, verify with ed25519.
func TestJWKSVerifiesDirectly(t *testing.T) {
	n := natstest.Start(t)
	clk := &clock{t: period0.Add(2 * time.Hour)}
	i := open(t, n.JetStream, master(1), tokens.Options{Now: clk.Now})
	tok := sign(t, i, claims())

	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(i.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("%d keys", len(set.Keys))
	}
	header, _, sig := segments(t, tok)
	var key map[string]string
	for _, k := range set.Keys {
		if k["kid"] == header["kid"] {
			key = k
		}
	}
	if key == nil {
		t.Fatal("the token's kid is not in the JWKS")
	}
	if key["kty"] != "OKP" || key["crv"] != "Ed25519" || key["use"] != "sig" || key["alg"] != "EdDSA" || len(key) != 6 {
		t.Fatalf("jwk %v", key)
	}
	// RFC 7638: the required members in lexicographic order, no spaces.
	h := sha256.Sum256([]byte(`{"crv":"` + key["crv"] + `","kty":"` + key["kty"] + `","x":"` + key["x"] + `"}`))
	if base64.RawURLEncoding.EncodeToString(h[:]) != key["kid"] {
		t.Fatal("kid is not the RFC 7638 thumbprint")
	}
	pub, err := base64.RawURLEncoding.DecodeString(key["x"])
	if err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("x: %v", err)
	}
	signed := tok[:strings.LastIndexByte(tok, '.')]
	if !ed25519.Verify(ed25519.PublicKey(pub), []byte(signed), sig) {
		t.Fatal("the JWKS key does not verify the token")
	}
	if ed25519.Verify(ed25519.PublicKey(pub), []byte(signed+"x"), sig) {
		t.Fatal("verification is not checking anything")
	}
}

func TestRefusals(t *testing.T) {
	n := natstest.Start(t)
	clk := &clock{t: period0.Add(2 * time.Hour)}
	i := open(t, n.JetStream, master(1), tokens.Options{Now: clk.Now})
	tok := sign(t, i, claims())
	header, payload, sig := segments(t, tok)
	parts := strings.Split(tok, ".")

	// Another deployment: its own bucket and master key.
	other := open(t, n.JetStream, master(2), tokens.Options{Bucket: "OTHER_SIGNING", Now: clk.Now})
	wantUnauthorized(t, i, sign(t, other, claims()), "a token of another key")

	// Same keys, another iss: an instance configured with another URL.
	wrongIss := open(t, n.JetStream, master(1), tokens.Options{Issuer: "https://evil.example", Now: clk.Now})
	wantUnauthorized(t, i, sign(t, wrongIss, claims()), "wrong iss")
	wantUnauthorized(t, wrongIss, tok, "wrong iss (the other way)")

	// An altered payload with the original signature.
	altered := maps(payload)
	altered["sub"] = "admin@uio.no"
	wantUnauthorized(t, i, parts[0]+"."+encodeSegment(altered)+"."+parts[2], "altered payload")
	longer := maps(payload)
	longer["exp"] = payload["exp"].(float64) + 86400
	wantUnauthorized(t, i, parts[0]+"."+encodeSegment(longer)+"."+parts[2], "extended expiry")

	// alg none, with and without a signature.
	none := maps(header)
	none["alg"] = "none"
	wantUnauthorized(t, i, encodeSegment(none)+"."+parts[1]+".", "alg none")
	wantUnauthorized(t, i, encodeSegment(none)+"."+parts[1]+"."+parts[2], "alg none with signature")

	// HS256 keyed with the public key (the classic confusion), in the raw
	// form and in the forms a JWKS consumer might use.
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(i.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.RawURLEncoding.DecodeString(set.Keys[0]["x"])
	hs := maps(header)
	hs["alg"] = "HS256"
	for _, secret := range [][]byte{pub, []byte(set.Keys[0]["x"]), i.JWKS()} {
		signingInput := encodeSegment(hs) + "." + parts[1]
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(signingInput))
		wantUnauthorized(t, i, signingInput+"."+base64.RawURLEncoding.EncodeToString(m.Sum(nil)), "HS256 with the public key")
	}

	// No kid, an unknown kid, a kid of another issuer's key.
	noKid := maps(header)
	delete(noKid, "kid")
	wantUnauthorized(t, i, encodeSegment(noKid)+"."+parts[1]+"."+parts[2], "no kid")
	unknown := maps(header)
	unknown["kid"] = "not-a-key"
	wantUnauthorized(t, i, encodeSegment(unknown)+"."+parts[1]+"."+parts[2], "unknown kid")

	// A signature by another key under this issuer's kid.
	_, foreignPriv, _ := ed25519.GenerateKey(nil)
	input := parts[0] + "." + parts[1]
	wantUnauthorized(t, i, input+"."+base64.RawURLEncoding.EncodeToString(ed25519.Sign(foreignPriv, []byte(input))), "forged signature")
	// A truncated signature, and padding (not in compact JWS).
	wantUnauthorized(t, i, input+"."+base64.RawURLEncoding.EncodeToString(sig[:32]), "short signature")
	wantUnauthorized(t, i, input+"."+base64.URLEncoding.EncodeToString(sig), "padded signature")

	// Issued in the future (a token from a clock far ahead).
	clk.Set(period0.Add(2*time.Hour + 10*time.Minute))
	future := sign(t, i, claims())
	clk.Set(period0.Add(2 * time.Hour))
	wantUnauthorized(t, i, future, "issued in the future")

	for _, g := range []string{"", "garbage", "a.b.c", "..", tok + ".", strings.Repeat("a", 10000)} {
		wantUnauthorized(t, i, g, "garbage "+g[:min(len(g), 10)])
	}
	if _, err := i.Verify(tok); err != nil {
		t.Fatalf("the real token stopped verifying: %v", err)
	}
}

func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func kids(t *testing.T, i *tokens.Issuer) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(i.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

func kidOf(t *testing.T, tok string) string {
	h, _, _ := segments(t, tok)
	return h["kid"].(string)
}

func bucketKeys(t *testing.T, js jetstream.JetStream, bucket string) []string {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.Keys(context.Background())
	if err == jetstream.ErrNoKeysFound {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestRotation(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	clk := &clock{t: period0.Add(2 * time.Hour)}
	i := open(t, n.JetStream, master(1), tokens.Options{Now: clk.Now})

	tok1 := sign(t, i, claims())
	kid1 := kidOf(t, tok1)
	if got := kids(t, i); !slices.Equal(got, []string{kid1}) {
		t.Fatalf("JWKS %v", got)
	}

	// A day before the period ends, the next key is made and published,
	// but tokens are still signed with the current one.
	clk.Set(period0.Add(rotate - 23*time.Hour))
	if err := i.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got := kids(t, i)
	if len(got) != 2 || got[1] != kid1 {
		t.Fatalf("JWKS before the boundary: %v", got)
	}
	kid2 := got[0]
	clk.Set(period0.Add(rotate - time.Minute))
	late := sign(t, i, claims())
	if kidOf(t, late) != kid1 {
		t.Fatal("a token before the boundary was signed with the next key")
	}

	// After RotateEvery the new key signs; the old token still verifies.
	clk.Set(period0.Add(rotate + time.Minute))
	tok2 := sign(t, i, claims())
	if kidOf(t, tok2) != kid2 {
		t.Fatalf("after the boundary: kid %s, want %s", kidOf(t, tok2), kid2)
	}
	if _, err := i.Verify(late); err != nil {
		t.Fatalf("a token of the old key: %v", err)
	}
	if got := kids(t, i); len(got) != 2 {
		t.Fatalf("JWKS after the boundary: %v", got)
	}

	// Once every token of the old key has expired, the key goes: from the
	// JWKS at once, and from the bucket at the next maintenance.
	clk.Set(period0.Add(rotate + ttl + tokens.Leeway - time.Second))
	if got := kids(t, i); len(got) != 2 {
		t.Fatalf("JWKS just before the old key retires: %v", got)
	}
	clk.Set(period0.Add(rotate + ttl + tokens.Leeway + time.Second))
	if got := kids(t, i); !slices.Equal(got, []string{kid2}) {
		t.Fatalf("JWKS after the old key retired: %v", got)
	}
	if err := i.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := bucketKeys(t, n.JetStream, tokens.Bucket); len(got) != 1 {
		t.Fatalf("bucket after retirement: %v", got)
	}
	if _, err := i.Verify(tok2); err != nil {
		t.Fatal(err)
	}

	// A clock far ahead without maintenance: Sign makes the key itself.
	clk.Set(period0.Add(5*rotate + time.Hour))
	tok5 := sign(t, i, claims())
	if k := kidOf(t, tok5); k == kid1 || k == kid2 {
		t.Fatal("an old key signs in a later period")
	}
	if _, err := i.Verify(tok5); err != nil {
		t.Fatal(err)
	}
	if err := i.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, i); len(got) != 1 || got[0] != kidOf(t, tok5) {
		t.Fatalf("JWKS far ahead: %v", got)
	}
}

// Two instances on one bucket, racing across the boundary, make one key per
// period and agree on the key set.
func TestTwoIssuersAgree(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	clk := &clock{t: period0.Add(2 * time.Hour)}
	var issuers []*tokens.Issuer
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			i, err := tokens.Open(ctx, n.JetStream, master(1), tokens.Options{Issuer: iss, Now: clk.Now})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			issuers = append(issuers, i)
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Cleanup(func() {
		for _, i := range issuers {
			i.Close()
		}
	})
	if got := bucketKeys(t, n.JetStream, tokens.Bucket); len(got) != 1 {
		t.Fatalf("concurrent first opens made %d keys: %v", len(got), got)
	}
	a, b := issuers[0], issuers[1]
	if !bytes.Equal(a.JWKS(), b.JWKS()) {
		t.Fatal("the issuers disagree after opening")
	}

	clk.Set(period0.Add(rotate + time.Second))
	toks := make([]string, 16)
	for j := range toks {
		wg.Go(func() {
			i := issuers[j%len(issuers)]
			tok, err := i.Sign(claims())
			if err != nil {
				t.Error(err)
				return
			}
			toks[j] = tok
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if got := bucketKeys(t, n.JetStream, tokens.Bucket); len(got) != 2 {
		t.Fatalf("the rotation made %d keys: %v", len(got), got)
	}
	kid := kidOf(t, toks[0])
	for _, tok := range toks {
		if kidOf(t, tok) != kid {
			t.Fatal("instances signed with different keys in one period")
		}
		for _, i := range issuers {
			if _, err := i.Verify(tok); err != nil {
				t.Fatalf("a token of another instance: %v", err)
			}
		}
	}
	// The watch brings every instance the same set.
	deadline := time.Now().Add(3 * time.Second)
	for {
		same := true
		for _, i := range issuers[1:] {
			same = same && bytes.Equal(i.JWKS(), issuers[0].JWKS())
		}
		if same && len(kids(t, a)) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the issuers disagree: %s vs %s", a.JWKS(), b.JWKS())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Deleting a key from the bucket retires it on every instance; the next
// token makes a new key for the period.
func TestDeletedKeyRetires(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	clk := &clock{t: period0.Add(2 * time.Hour)}
	a := open(t, n.JetStream, master(1), tokens.Options{Now: clk.Now})
	b := open(t, n.JetStream, master(1), tokens.Options{Now: clk.Now})
	tok := sign(t, a, claims())
	if _, err := b.Verify(tok); err != nil {
		t.Fatal(err)
	}
	kv, err := n.JetStream.KeyValue(ctx, tokens.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	names := bucketKeys(t, n.JetStream, tokens.Bucket)
	if len(names) != 1 || names[0] != "ed25519."+period0.Format("20060102T150405Z") {
		t.Fatalf("bucket %v", names)
	}
	if err := kv.Delete(ctx, names[0]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, errA := a.Verify(tok)
		_, errB := b.Verify(tok)
		if errA != nil && errB != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a deleted key still verifies")
		}
		time.Sleep(10 * time.Millisecond)
	}
	tok2 := sign(t, b, claims())
	if kidOf(t, tok2) == kidOf(t, tok) {
		t.Fatal("the deleted key signs again")
	}
	deadline = time.Now().Add(3 * time.Second)
	for {
		if _, err := a.Verify(tok2); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new key did not reach the other instance")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The bucket holds the private keys only sealed: with a known entropy
// stream the seed is known, and it appears in no form.
func TestPrivateKeyNotInClear(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	entropy := make([]byte, 4096)
	for j := range entropy {
		entropy[j] = byte(j*7 + 3)
	}
	clk := &clock{t: period0.Add(2 * time.Hour)}
	i := open(t, n.JetStream, master(1), tokens.Options{Now: clk.Now, Rand: bytes.NewReader(entropy)})
	tok := sign(t, i, claims())
	seed := entropy[:ed25519.SeedSize] // the first key's seed is read first
	priv := ed25519.NewKeyFromSeed(seed)
	if tokens.Thumbprint(priv.Public().(ed25519.PublicKey)) != kidOf(t, tok) {
		t.Fatal("the test does not know the seed")
	}
	forms := [][]byte{seed, priv, []byte(hex.EncodeToString(seed))}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		forms = append(forms, []byte(enc.EncodeToString(seed)), []byte(enc.EncodeToString(priv)))
	}
	st, err := n.JetStream.Stream(ctx, "KV_"+tokens.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Storage != jetstream.FileStorage {
		t.Fatal("not file storage")
	}
	seen := 0
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		seen++
		for _, f := range forms {
			if bytes.Contains(m.Data, f) {
				t.Fatalf("message %d holds the private key: %s", seq, m.Data)
			}
		}
		if !bytes.Contains(m.Data, []byte(kidOf(t, tok))) {
			t.Fatalf("message %d: %s", seq, m.Data)
		}
	}
	if seen != 1 {
		t.Fatalf("%d messages", seen)
	}

	// Another master key cannot open it.
	_, err = tokens.Open(ctx, n.JetStream, master(9), tokens.Options{Issuer: iss, Now: clk.Now})
	if vakt.CodeOf(err) != vakt.CodeInternal || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("another master key: %v", err)
	}
}

// An entry moved to another period's name does not open (the name is bound
// into the seal).
func TestSealBoundToName(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	clk := &clock{t: period0.Add(2 * time.Hour)}
	open(t, n.JetStream, master(1), tokens.Options{Now: clk.Now})
	kv, _ := n.JetStream.KeyValue(ctx, tokens.Bucket)
	names := bucketKeys(t, n.JetStream, tokens.Bucket)
	e, err := kv.Get(ctx, names[0])
	if err != nil {
		t.Fatal(err)
	}
	moved := "ed25519." + period0.Add(rotate).Format("20060102T150405Z")
	if _, err := kv.Put(ctx, moved, e.Value()); err != nil {
		t.Fatal(err)
	}
	_, err = tokens.Open(ctx, n.JetStream, master(1), tokens.Options{Issuer: iss, Now: clk.Now})
	if vakt.CodeOf(err) != vakt.CodeInternal {
		t.Fatalf("a moved entry opened: %v", err)
	}
	if err := kv.Delete(ctx, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Open(ctx, n.JetStream, master(1), tokens.Options{Issuer: iss, Now: clk.Now}); err != nil {
		t.Fatalf("after removing the moved entry: %v", err)
	}

	// A longer period written into the entry does not open either.
	var rec map[string]any
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	rec["not_after"] = period0.Add(100 * rotate).Format(time.RFC3339)
	longer, _ := json.Marshal(rec)
	if _, err := kv.Put(ctx, names[0], longer); err != nil {
		t.Fatal(err)
	}
	_, err = tokens.Open(ctx, n.JetStream, master(1), tokens.Options{Issuer: iss, Now: clk.Now})
	if vakt.CodeOf(err) != vakt.CodeInternal {
		t.Fatalf("an entry with a longer period opened: %v", err)
	}
}

func TestOptions(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	for name, c := range map[string]struct {
		master []byte
		opts   tokens.Options
	}{
		"no master":     {nil, tokens.Options{Issuer: iss}},
		"short master":  {master(1)[:16], tokens.Options{Issuer: iss}},
		"no issuer":     {master(1), tokens.Options{}},
		"tiny ttl":      {master(1), tokens.Options{Issuer: iss, TTL: time.Millisecond}},
		"tiny rotation": {master(1), tokens.Options{Issuer: iss, RotateEvery: time.Second}},
		"odd rotation":  {master(1), tokens.Options{Issuer: iss, RotateEvery: time.Hour + time.Millisecond}},
	} {
		if _, err := tokens.Open(ctx, n.JetStream, c.master, c.opts); vakt.CodeOf(err) != vakt.CodeInvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Defaults: 1h tokens on the real clock.
	i := open(t, n.JetStream, master(1), tokens.Options{})
	before := time.Now().Truncate(time.Second)
	c, err := i.Verify(sign(t, i, tokens.Claims{Subject: "u", Tenant: "t"}))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.ExpiresAt.Sub(c.IssuedAt); d != time.Hour || c.IssuedAt.Before(before) {
		t.Fatalf("iat %v exp %v", c.IssuedAt, c.ExpiresAt)
	}
}
