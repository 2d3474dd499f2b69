package engine

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// RFC 4226 Appendix D: secret "12345678901234567890", 6 digits, counters 0-9.
func TestRFC4226AppendixD(t *testing.T) {
	want := []uint32{755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489}
	k, err := newOTPKey("SHA1", []byte("12345678901234567890"), 6)
	if err != nil {
		t.Fatal(err)
	}
	for ctr, w := range want {
		if got := k.value(uint64(ctr)); got != w {
			t.Errorf("counter %d: %06d, want %06d", ctr, got, w)
		}
	}
	// And matchHOTP finds each within the look-ahead window.
	for ctr, w := range want {
		if got, ok := k.matchHOTP(w, 0, 10); !ok || got != uint64(ctr) {
			t.Errorf("matchHOTP(%06d) = %d, %v; want %d", w, got, ok, ctr)
		}
	}
}

// RFC 6238 Appendix B, 8 digits, T0 = 0, X = 30, with the seed lengths of
// errata 2866: the ASCII "1234567890" repeated to 20, 32 and 64 bytes.
func TestRFC6238AppendixB(t *testing.T) {
	seed := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = "1234567890"[i%10]
		}
		return b
	}
	cases := []struct {
		time                 int64
		sha1, sha256, sha512 uint32
	}{
		{59, 94287082, 46119246, 90693936},
		{1111111109, 7081804, 68084774, 25091201},
		{1111111111, 14050471, 67062674, 99943326},
		{1234567890, 89005924, 91819424, 93441116},
		{2000000000, 69279037, 90698825, 38618901},
		{20000000000, 65353130, 77737706, 47863826},
	}
	algs := []struct {
		name string
		seed []byte
		pick func(i int) uint32
	}{
		{"SHA1", seed(20), func(i int) uint32 { return cases[i].sha1 }},
		{"SHA256", seed(32), func(i int) uint32 { return cases[i].sha256 }},
		{"SHA512", seed(64), func(i int) uint32 { return cases[i].sha512 }},
	}
	for _, a := range algs {
		k, err := newOTPKey(a.name, a.seed, 8)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			step := c.time / 30
			if got := k.value(uint64(step)); got != a.pick(i) {
				t.Errorf("%s at %d: %08d, want %08d", a.name, c.time, got, a.pick(i))
			}
			// The TOTP matcher accepts the code at its step, with no skew.
			if st, ok, _ := k.matchTOTP(a.pick(i), step, 0, -1); !ok || st != step {
				t.Errorf("%s at %d: matchTOTP = %d %v", a.name, c.time, st, ok)
			}
		}
	}
}

// TestMatchTOTPAgainstPquerna cross-checks the engine's check with
// pquerna/otp's independent implementation over many times and seeds.
func TestMatchTOTPAgainstPquerna(t *testing.T) {
	r := SeededRand([]byte("cross-check"))
	for i := 0; i < 200; i++ {
		seed, _ := randBytes(r, 20)
		k, _ := newOTPKey("SHA1", seed, 6)
		key, err := totp.Generate(totp.GenerateOpts{Issuer: "x", AccountName: "y", Secret: seed})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := randUint32n(r, 1<<30)
		at := time.Unix(int64(v)+1_600_000_000, 0)
		code, _ := totp.GenerateCodeCustom(key.Secret(), at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		c, ok := parseDigits(code, 6)
		if !ok {
			t.Fatalf("pquerna code %q", code)
		}
		step := at.Unix() / 30
		for _, off := range []int64{-1, 0, 1} {
			st, ok, _ := k.matchTOTP(c, step+off, 1, -1)
			if !ok || st != step {
				t.Fatalf("seed %x at %v centre offset %d: step %d ok %v, want %d", seed, at, off, st, ok, step)
			}
		}
	}
}

func TestMatchTOTPReplay(t *testing.T) {
	k, _ := newOTPKey("SHA1", []byte("12345678901234567890"), 8)
	code := k.value(100)
	if _, ok, reused := k.matchTOTP(code, 100, 1, 100); ok || !reused {
		t.Fatalf("code of the last used step: ok %v reused %v", ok, reused)
	}
	if _, ok, reused := k.matchTOTP(code, 101, 1, 99); !ok || reused {
		t.Fatalf("code after the last used step: ok %v reused %v", ok, reused)
	}
}

func TestCodeCheckAllocatesNothing(t *testing.T) {
	k, _ := newOTPKey("SHA1", []byte("12345678901234567890"), 6)
	code := k.value(59847481)
	allocs := testing.AllocsPerRun(1000, func() {
		v, _ := parseDigits("123456", 6)
		if _, ok, _ := k.matchTOTP(code, 59847481, 1, 0); !ok || v != 123456 {
			panic("no match")
		}
	})
	if allocs != 0 {
		t.Fatalf("the code check allocates %.1f times per call", allocs)
	}
}

func TestNormalizeCode(t *testing.T) {
	for in, want := range map[string]string{
		"123456": "123456", "123 456": "123456", " 12-34-56 ": "123456",
		"ABCDE-FGHIJ": "abcdefghij", "": "",
	} {
		if got := normalizeCode(in); got != want {
			t.Errorf("normalizeCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseDigits(t *testing.T) {
	for _, c := range []struct {
		in string
		n  int
		ok bool
	}{{"000000", 6, true}, {"12345", 6, false}, {"1234567", 6, false}, {"12a456", 6, false}, {"１２３４５６", 6, false}, {"12345678", 8, true}} {
		if _, ok := parseDigits(c.in, c.n); ok != c.ok {
			t.Errorf("parseDigits(%q, %d) ok = %v", c.in, c.n, ok)
		}
	}
}

// TestClientInfoJSON: the hand-written encoder of the sealed client details
// writes what encoding/json writes, escaping and omitted fields included.
func TestClientInfoJSON(t *testing.T) {
	for _, ci := range []clientInfo{
		{},
		{IP: "192.0.2.1"},
		{UserAgent: "Mozilla/5.0 <x> & \u2028 \xff"},
		{IP: "2001:db8::1", UserAgent: "curl/8", Location: "Oslo, \"NO\""},
		{Location: "Tromsø"},
	} {
		want, err := json.Marshal(ci)
		if err != nil {
			t.Fatal(err)
		}
		if got := ci.appendJSON(nil); string(got) != string(want) {
			t.Errorf("%+v: got %s, want %s", ci, got, want)
		}
	}
}
