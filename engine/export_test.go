package engine

import "testing"

// BenchCodeCheck measures the code check alone: three HMAC steps and the
// constant-time comparison, with a prepared key.
func BenchCodeCheck(b *testing.B) {
	k, err := newOTPKey("SHA1", []byte("12345678901234567890"), 6)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		v, ok := parseDigits("000000", 6)
		if _, ok2, _ := k.matchTOTP(v, 59847481, 1, 0); !ok || ok2 {
			b.Fatal("000000 matched")
		}
	}
}
