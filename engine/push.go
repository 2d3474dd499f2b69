package engine

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// EnrolmentMessage is what a push device signs with its new Ed25519 key to
// confirm enrolment: it binds the key to the user, the authenticator and the
// activation code that only the enrolment screen (QR code) showed.
func EnrolmentMessage(tenant, user, authenticatorID, activation string, publicKey []byte, userVerification bool) []byte {
	return message("vakt-enrol-v1", tenant, user, authenticatorID, activation,
		base64.StdEncoding.EncodeToString(publicKey), strconv.FormatBool(userVerification))
}

// PushMessage is what a push device signs to answer a challenge. The number
// is the one the person chose on the device (0 for deny and fraud).
func PushMessage(tenant, user, challengeID, authenticatorID, decision string, number int, userVerification bool) []byte {
	return message("vakt-push-v1", tenant, user, challengeID, authenticatorID, decision,
		strconv.Itoa(number), strconv.FormatBool(userVerification))
}

// message joins fields with their lengths so that no two different field
// lists give the same bytes.
func message(fields ...string) []byte {
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// DeviceMessage is what a push device signs to authenticate a request that
// is not an answer (polling for pushes): the user, the authenticator and the
// request's Unix time, which the server accepts within a few minutes of its
// own clock.
func DeviceMessage(tenant, user, authenticatorID string, unix int64) []byte {
	return message("vakt-device-v1", tenant, user, authenticatorID, strconv.FormatInt(unix, 10))
}
