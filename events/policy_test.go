package events_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/vaktmfa/vakt/events"
)

const day = 24 * time.Hour

func TestDurationText(t *testing.T) {
	cases := []struct {
		text string
		want time.Duration
	}{
		{"20d", 20 * day},
		{"90d", 90 * day},
		{"1h30m", 90 * time.Minute},
		{"2m", 2 * time.Minute},
		{"0s", 0},
		{"500ms", 500 * time.Millisecond},
		{"1d12h", 36 * time.Hour},
		{"3650d", 3650 * day},
		{"7d", 7 * day},
		{"1s", time.Second},
		{"1ns", time.Nanosecond},
		{"1us", time.Microsecond},
		{"1d1h1m1s1ms1us1ns", day + time.Hour + time.Minute + time.Second + time.Millisecond + time.Microsecond + time.Nanosecond},
		// Any number of days, and negative values: the codec writes and reads
		// every Duration; whether a value makes sense is the engine's policy
		// validation to decide.
		{"3651d", 3651 * day},
		{"99999d", 99999 * day},
		{"-1ns", -1},
		{"-1s", -time.Second},
		{"-1h", -time.Hour},
		{"-1d", -day},
		{"-1d12h", -36 * time.Hour},
		{"-3651d", -3651 * day},
		{"106751d23h47m16s854ms775us807ns", math.MaxInt64},
		{"-106751d23h47m16s854ms775us807ns", -math.MaxInt64},
		{"-106751d23h47m16s854ms775us808ns", math.MinInt64},
	}
	for _, tc := range cases {
		var d events.Duration
		if err := d.UnmarshalText([]byte(tc.text)); err != nil {
			t.Errorf("UnmarshalText(%q): %v", tc.text, err)
			continue
		}
		if d.D() != tc.want {
			t.Errorf("UnmarshalText(%q) = %v, want %v", tc.text, d.D(), tc.want)
		}
		// These are canonical: writing the value gives the same text back.
		b, err := events.Duration(tc.want).MarshalText()
		if err != nil || string(b) != tc.text {
			t.Errorf("MarshalText(%v) = %q, %v, want %q", tc.want, b, err, tc.text)
		}
		if s := events.Duration(tc.want).String(); s != tc.text {
			t.Errorf("String() = %q, want %q", s, tc.text)
		}
	}
}

// Other spellings Go's time.ParseDuration reads are accepted and written in
// the largest whole units.
func TestDurationNonCanonicalInput(t *testing.T) {
	cases := []struct{ in, out string }{
		{"90s", "1m30s"},
		{"36h", "1d12h"},
		{"1.5h", "1h30m"},
		{"480h", "20d"},
		{"0.5s", "500ms"},
		{"1d0s", "1d"},
		{"0d", "0s"},
		{"0h0m", "0s"},
		{"2000us", "2ms"},
		{"1µs", "1us"},
		{"+1h", "1h"},
		{"+1d", "1d"},
		{"-0s", "0s"},
		{"-0d", "0s"},
		{"+0d0s", "0s"},
		{"-90s", "-1m30s"},
		{"-36h", "-1d12h"},
		{"-1d24h", "-2d"},
		{"007d", "7d"},
		{"0d1h", "1h"},
		{"2562047h47m16.854775807s", "106751d23h47m16s854ms775us807ns"},
		{"106751d23h47m16.854775807s", "106751d23h47m16s854ms775us807ns"},
		{"-106751d85636854775808ns", "-106751d23h47m16s854ms775us808ns"},
		{"106751d85636854775807ns", "106751d23h47m16s854ms775us807ns"},
	}
	for _, tc := range cases {
		var d events.Duration
		if err := d.UnmarshalText([]byte(tc.in)); err != nil {
			t.Errorf("UnmarshalText(%q): %v", tc.in, err)
			continue
		}
		if got := d.String(); got != tc.out {
			t.Errorf("%q is written as %q, want %q", tc.in, got, tc.out)
		}
	}
}

func TestDurationRejects(t *testing.T) {
	for _, s := range []string{
		"abc", "d", "", "1.5d", "1x", "1d2x", "d1", "1h2d", "1dd", " 1d", "1d ", "20 d", "1 h",
		// A sign only in front of everything, once.
		"-", "+", "-d", "+d", "--1s", "+-1s", "-+1s", "++1d", "--1d", "1-d", "1d-", "1d+",
		"0d-5h", "1d-12h", "1d-48h", "1d+5h", "-1d-1h", "-1d+1h", "1d-0s",
		// Beyond the int64 range of nanoseconds.
		"106752d", "-106752d", "106751d23h47m16s854ms775us808ns", "-106751d23h47m16s854ms775us809ns",
		"106751d24h", "2562048h", "9223372036854775808ns", "-9223372036854775809ns",
		"18446744073709551616d", "99999999999999999999d", "213503d",
	} {
		d := events.Duration(42)
		if err := d.UnmarshalText([]byte(s)); err == nil {
			t.Errorf("UnmarshalText(%q) = %v, want an error", s, d.D())
		} else if d != 42 {
			t.Errorf("UnmarshalText(%q) failed but changed the value to %v", s, d.D())
		}
	}
}

// Every Duration, negative ones and the extremes of int64 included, survives
// a round trip through its text, and the text is canonical.
func TestDurationRoundTrips(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	vals := []time.Duration{
		0, 1, -1, time.Microsecond, 999 * time.Millisecond, day - 1, day, day + 1, -day + 1, -day, -day - 1,
		3650 * day, 3650*day + day - 1, 3651 * day, -3651 * day,
		math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, math.MinInt64 + 1, -math.MaxInt64 + day,
		time.Duration(math.MaxInt64 / int64(day) * int64(day)), // the most whole days
		time.Duration(math.MinInt64 / int64(day) * int64(day)),
	}
	for i := 0; i < 20000; i++ {
		vals = append(vals,
			time.Duration(rng.Int64N(int64(3651*day))),
			-time.Duration(rng.Int64N(int64(3651*day))),
			time.Duration(rng.Uint64()), // the whole int64 range, both signs
		)
	}
	for _, v := range vals {
		b, err := events.Duration(v).MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back events.Duration
		if err := back.UnmarshalText(b); err != nil || back.D() != v {
			t.Fatalf("%d ns written as %q read back as %v, %v", int64(v), b, back.D(), err)
		}
		if again, _ := back.MarshalText(); string(again) != string(b) {
			t.Fatalf("%d ns written as %q, then as %q", int64(v), b, again)
		}
		if v < 0 && (len(b) < 2 || b[0] != '-' || b[1] == '-') {
			t.Fatalf("%d ns written as %q, want one leading minus", int64(v), b)
		}
	}
}

// A policy.set event holds whatever durations the policy has: the stored bytes
// decode back to the same policy, however odd the values (the engine, not the
// codec, refuses nonsensical ones).
func TestPolicyWithAnyDurationRoundTrips(t *testing.T) {
	for _, v := range []time.Duration{-day, -36 * time.Hour, -time.Second, 3651 * day, 99999 * day, math.MaxInt64, math.MinInt64} {
		p := samplePolicy()
		p.PushTTL = events.Duration(v)
		p.Lockout.Max = events.Duration(-v)
		p.Apps[0].RememberFor = events.Duration(v / 3)
		rec := buildOne(t, events.TenantStream("uio.no"), events.Head{}, events.PolicySet{Policy: p})
		got, err := events.Decode(rec.Raw)
		if err != nil {
			t.Errorf("%v: Build stored a policy.set that Decode refuses: %v\n%s", v, err, rec.Raw)
			continue
		}
		if !reflect.DeepEqual(inUTC(got.Event), inUTC(events.PolicySet{Policy: p})) {
			t.Errorf("%v: policy decoded as %#v", v, got.Event)
		}
		again, err := events.Encode(&got.Envelope, got.Event)
		if err != nil || !bytes.Equal(again, rec.Raw) {
			t.Errorf("%v: re-encoding changed the bytes (%v):\n got  %s\n want %s", v, err, again, rec.Raw)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	type holder struct {
		D events.Duration `json:"d"`
	}
	b, err := json.Marshal(holder{D: events.Duration(20 * day)})
	if err != nil || string(b) != `{"d":"20d"}` {
		t.Errorf("marshal: %s %v", b, err)
	}
	var h holder
	if err := json.Unmarshal([]byte(`{"d":"1h30m"}`), &h); err != nil || h.D.D() != 90*time.Minute {
		t.Errorf("unmarshal: %v %v", h.D.D(), err)
	}
	if err := json.Unmarshal([]byte(`{"d":5400}`), &h); err == nil {
		t.Errorf("a bare number was accepted as %v", h.D.D())
	}
}

func TestPolicyLookups(t *testing.T) {
	p := samplePolicy()
	if a, ok := p.App("office"); !ok || a.RememberFor.D() != 90*day {
		t.Errorf("App(office) = %+v, %v", a, ok)
	}
	if a, ok := p.App("rdp"); ok || a != (events.AppPolicy{}) {
		t.Errorf("App(rdp) = %+v, %v, want nothing", a, ok)
	}
	if !p.Allows(events.MethodTOTP) || !p.Allows(events.MethodRecoveryCode) {
		t.Errorf("Allows misses an allowed method")
	}
	if p.Allows(events.MethodEmail) || p.Allows("") || p.Allows("TOTP") {
		t.Errorf("Allows accepts a method not in the policy")
	}
	var empty events.Policy
	if empty.Allows(events.MethodTOTP) {
		t.Errorf("an empty policy allows totp")
	}
	if _, ok := empty.App("web"); ok {
		t.Errorf("an empty policy has an app")
	}
}
