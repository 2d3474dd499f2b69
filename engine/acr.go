package engine

import "github.com/vaktmfa/vakt/events"

// Assurance levels (eIDAS 2015/1502), used as acr values in challenges and
// session tokens.
const (
	ACRLow         = "low"
	ACRSubstantial = "substantial"
	ACRHigh        = "high"
)

// level orders acr values; 0 means unknown.
func level(acr string) int {
	switch acr {
	case ACRLow:
		return 1
	case ACRSubstantial:
		return 2
	case ACRHigh:
		return 3
	}
	return 0
}

// proofLevels maps the acr values of identity providers to eIDAS levels, for
// self-service resets. ID-porten's current and older names, eIDAS URIs, and the
// plain level names.
var proofLevels = map[string]string{
	"idporten-loa-high":                      ACRHigh,
	"idporten-loa-substantial":               ACRSubstantial,
	"Level4":                                 ACRHigh,
	"Level3":                                 ACRSubstantial,
	"http://eidas.europa.eu/LoA/high":        ACRHigh,
	"http://eidas.europa.eu/LoA/substantial": ACRSubstantial,
	"http://eidas.europa.eu/LoA/low":         ACRLow,
	ACRHigh:                                  ACRHigh,
	ACRSubstantial:                           ACRSubstantial,
	ACRLow:                                   ACRLow,
}

// ProofLevel returns the eIDAS level of an identity provider's acr value, or
// "" when it is not known.
func ProofLevel(acr string) string { return proofLevels[acr] }

// methodACR is the assurance a method gives by default (DESIGN.md section 3).
// Push gives high when the device asserted user verification.
func methodACR(method string, userVerified bool) string {
	switch method {
	case events.MethodSMS, events.MethodEmail:
		return ACRLow // restricted authenticators (NIST 800-63B 5.1.3.3)
	case events.MethodPush:
		if userVerified {
			return ACRHigh
		}
	}
	return ACRSubstantial
}

// methodAMR returns the RFC 8176 authentication method references.
func methodAMR(method string, userVerified bool) []string {
	switch method {
	case events.MethodHOTP:
		return []string{"otp", "hwk"}
	case events.MethodPush:
		if userVerified {
			return []string{"pop", "swk", "user"}
		}
		return []string{"pop", "swk"}
	case events.MethodSMS:
		return []string{"sms"}
	default:
		return []string{"otp"}
	}
}
