package engine

import (
	"testing"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/vaktmfa/vakt/events"
)

// TestOTPKeyURIMatchesPquerna checks that otpKeyURI writes the same Key URI
// and secret as github.com/pquerna/otp (which the engine used before; the
// vectors hold its output), byte for byte, including its errors.
func TestOTPKeyURIMatchesPquerna(t *testing.T) {
	algs := map[string]otp.Algorithm{"SHA1": otp.AlgorithmSHA1, "SHA256": otp.AlgorithmSHA256, "SHA512": otp.AlgorithmSHA512}
	texts := []string{
		"", "Vakt", "ola.nordmann", "Ola Nordmann", "ola+tag@example.com", "a/b?c#d", "100%", "a&b=c;d",
		"Æøå – ≠ 日本", "tab\there", " lead", "trail ", "user_1", "~!*'()[]{}$,|\\^`\"<>", "%2F%zz", "..", "/",
	}
	seeds := [][]byte{
		make([]byte, 16), []byte("12345678901234567890"),
		[]byte{0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7, 0xf6, 0xf5, 0xf4, 0xf3, 0xf2, 0xf1, 0xf0, 0x01},
	}
	n := 0
	for _, method := range []string{events.MethodTOTP, events.MethodHOTP} {
		for algName, alg := range algs {
			for _, digits := range []int{0, 6, 8} {
				for _, period := range []int{0, 30, 60} {
					for _, issuer := range texts {
						for _, account := range texts {
							for _, seed := range seeds {
								var k *otp.Key
								var err error
								if method == events.MethodTOTP {
									k, err = totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Period: uint(period), Secret: seed, Digits: otp.Digits(digits), Algorithm: alg})
								} else {
									k, err = hotp.Generate(hotp.GenerateOpts{Issuer: issuer, AccountName: account, Secret: seed, Digits: otp.Digits(digits), Algorithm: alg})
								}
								uri, secret, gotErr := otpKeyURI(method, issuer, account, seed, period, digits, algName)
								n++
								if err != nil || gotErr != nil {
									if err == nil || gotErr == nil || err.Error() != gotErr.Error() {
										t.Fatalf("%s %q %q: error %v, pquerna %v", method, issuer, account, gotErr, err)
									}
									continue
								}
								if uri != k.URL() || secret != k.Secret() {
									t.Fatalf("%s %s %d %d %q %q:\n got  %s %s\n want %s %s", method, algName, digits, period, issuer, account, uri, secret, k.URL(), k.Secret())
								}
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d cases", n)
}
