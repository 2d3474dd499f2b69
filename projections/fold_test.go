package projections_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/projections"
)

// stream builds stored records for hand-written events: given these facts,
// when folded, then the model says this.
type stream struct {
	t    *testing.T
	s    events.Stream
	head events.Head
	now  time.Time
	n    int
}

func newStream(t *testing.T, user string) *stream {
	return &stream{t: t, s: events.Stream{Tenant: "t", User: user}, now: t0}
}

// add records one command's events, a minute after the previous one.
func (s *stream) add(evs ...events.Event) []events.Record {
	s.t.Helper()
	s.n++
	s.now = s.now.Add(time.Minute)
	recs, err := events.Build(s.s, s.head, events.Meta{Command: fmt.Sprintf("c%d", s.n), Actor: "user", Time: s.now},
		engine.SeededRand(fmt.Appendf(nil, "%s/%d", s.s.User, s.n)), evs)
	if err != nil {
		s.t.Fatal(err)
	}
	s.head = recs[len(recs)-1].Head()
	return recs
}

func applyAll[T any, P interface {
	*T
	Apply(*events.Record)
}](m P, recs ...[]events.Record) {
	for _, rs := range recs {
		for i := range rs {
			m.Apply(&rs[i])
		}
	}
}

const (
	authA = "0190a0a0-0000-7000-8000-00000000000a"
	authB = "0190a0a0-0000-7000-8000-00000000000b"
	authC = "0190a0a0-0000-7000-8000-00000000000c"
	chX   = "0190a0a0-0000-7000-8000-0000000000c1"
	chY   = "0190a0a0-0000-7000-8000-0000000000c2"
)

func TestChallengeStatusFold(t *testing.T) {
	s := newStream(t, "u")
	issued := s.add(events.ChallengeIssued{ChallengeID: chX, App: "web", RequiredACR: "low", Methods: []string{"push", "sms"}, ExpiresAt: t0.Add(time.Hour)})
	var c projections.ChallengeStatus
	applyAll(&c, issued)
	if c.Status != projections.ChallengePending || c.Push != nil || c.Code != nil || c.ChallengeID != chX {
		t.Fatalf("issued without push: %+v", c)
	}
	push := s.add(events.PushSent{ChallengeID: chX, Push: events.PushRequest{AuthenticatorID: authA, Number: 42, Choices: []int{42, 17, 88}, ExpiresAt: t0.Add(5 * time.Minute)}})
	again := s.add(events.PushSent{ChallengeID: chX, Push: events.PushRequest{AuthenticatorID: authA, Number: 11, Choices: []int{11, 12, 13}, ExpiresAt: t0.Add(9 * time.Minute)}})
	code := s.add(events.CodeSent{ChallengeID: chX, AuthenticatorID: authB, Method: "sms", CodeHash: []byte{1}, ExpiresAt: t0.Add(8 * time.Minute)})
	code2 := s.add(events.CodeSent{ChallengeID: chX, AuthenticatorID: authB, Method: "sms", CodeHash: []byte{2}, ExpiresAt: t0.Add(10 * time.Minute)})
	other := s.add(events.AttemptFailed{ChallengeID: chY, Reason: "invalid_code", Failures: 1})
	failed := s.add(events.AttemptFailed{ChallengeID: chX, Reason: "invalid_code", Failures: 2})
	applyAll(&c, push, again, code, code2, other, failed)
	if c.Push == nil || c.Push.Sent != 2 || !c.Push.ExpiresAt.Equal(t0.Add(9*time.Minute)) ||
		c.Code == nil || c.Code.Sent != 2 || c.Code.Method != "sms" || c.FailedAttempts != 1 {
		t.Fatalf("push %+v code %+v failed %d", c.Push, c.Code, c.FailedAttempts)
	}
	ok := s.add(events.ChallengeSucceeded{ChallengeID: chX, AuthenticatorID: authB, Method: "sms", ACR: "low", AMR: []string{"sms"}})
	applyAll(&c, ok)
	done := c.Clone()
	// After the end: a late expiry, a reset, and a replay of old events
	// change nothing.
	late := s.add(events.ChallengeExpired{ChallengeID: chX})
	reset := s.add(events.ResetCompleted{Kind: "helpdesk", Operator: "o", Ticket: "t"})
	applyAll(&c, late, reset, issued, failed, ok)
	if !reflect.DeepEqual(c, done) || c.Status != projections.ChallengeSucceeded || !c.AuthTime.Equal(ok[0].Time) || !c.Settled() {
		t.Fatalf("after the end:\n%+v\n%+v", c, done)
	}
	// Another stream's events are not this challenge's.
	var y projections.ChallengeStatus
	applyAll(&y, newStream(t, "v").add(events.ChallengeIssued{ChallengeID: chY, App: "web", ExpiresAt: t0.Add(time.Hour)}))
	applyAll(&y, failed, ok)
	if y.FailedAttempts != 0 || y.Status != projections.ChallengePending || y.Methods != nil {
		t.Fatalf("foreign events changed a challenge: %+v", y)
	}
	// An erasure ends a pending challenge.
	e := newStream(t, "v")
	e.add(events.ChallengeIssued{ChallengeID: chY, App: "web", ExpiresAt: t0.Add(time.Hour)})
	erased := e.add(events.UserErased{})
	applyAll(&y, erased)
	if y.Status != projections.ChallengeExpired || y.Reason != "erased" || !y.EndedAt.Equal(erased[0].Time) {
		t.Fatalf("erased: %+v", y)
	}
}

func TestSecurityInfoFold(t *testing.T) {
	s := newStream(t, "u")
	var info projections.SecurityInfo
	applyAll(&info,
		s.add(events.EnrolmentStarted{AuthenticatorID: authA, Method: "totp", Label: "A", ExpiresAt: t0.Add(time.Hour)}),
		s.add(events.Activated{AuthenticatorID: authA, Method: "totp", ACR: "substantial"}, events.DefaultChanged{AuthenticatorID: authA}),
		s.add(events.EnrolmentStarted{AuthenticatorID: authB, Method: "hotp", Label: "B", ExpiresAt: t0.Add(time.Hour)}),
		s.add(events.Activated{AuthenticatorID: authB, Method: "hotp", ACR: "substantial"}),
		s.add(events.DefaultChanged{AuthenticatorID: authB, Previous: authA}),
	)
	if info.Default != authB || info.Authenticators[0].Default || !info.Authenticators[1].Default {
		t.Fatalf("default moved: %+v", info)
	}
	applyAll(&info, s.add(events.Removed{AuthenticatorID: authB, Method: "hotp"}))
	if info.Default != "" || len(info.Authenticators) != 1 || info.Authenticators[0].Default {
		t.Fatalf("default removed: %+v", info)
	}
	applyAll(&info, s.add(events.DefaultChanged{AuthenticatorID: ""}))
	applyAll(&info, s.add(events.LockedOut{Reason: "fraud", Permanent: true}))
	if !info.Locked || !info.Permanent || !info.LockedAt(t0.Add(1000*time.Hour)) {
		t.Fatalf("fraud lock: %+v", info)
	}
	before := info.Clone()
	// Other users, the tenant stream and replays are ignored.
	applyAll(&info,
		newStream(t, "v").add(events.Unlocked{Operator: "o", Ticket: "t"}),
		(&stream{t: t, s: events.TenantStream("t"), now: t0}).add(events.PolicySet{Policy: engine.DefaultPolicy()}),
		newStream(t, "u").add(events.EnrolmentStarted{AuthenticatorID: authB, Method: "totp", Label: "B"}),
	)
	if !reflect.DeepEqual(info, before) {
		t.Fatalf("ignored events changed the model:\n%+v\n%+v", info, before)
	}
	// The erasure keeps the reset history and nothing the user gave.
	applyAll(&info, s.add(events.ResetCompleted{Kind: "helpdesk", Removed: 1}))
	applyAll(&info, s.add(events.DeviceRemembered{DeviceID: chY, App: "web", ExpiresAt: t0.Add(time.Hour)}))
	applyAll(&info, s.add(events.UserErased{Operator: "dpo"}))
	if !info.Erased || info.Resets != 1 || info.RememberedDevices != nil || info.Authenticators != nil || info.Locked {
		t.Fatalf("erased: %+v", info)
	}
}

func TestTenantStatsFold(t *testing.T) {
	u, v := newStream(t, "u"), newStream(t, "v")
	var st projections.TenantStats
	// Records as a store gives them: with increasing positions.
	var pos uint64
	stored := func(recs []events.Record) []events.Record {
		for i := range recs {
			pos++
			recs[i].Position = pos
		}
		return recs
	}
	pending := stored(u.add(events.EnrolmentStarted{AuthenticatorID: authB, Method: "push"}))
	act := stored(u.add(events.Activated{AuthenticatorID: authA, Method: "totp", Active: 1}))
	applyAll(&st,
		pending,
		act, act, // redelivered
		stored(v.add(events.Activated{AuthenticatorID: authB, Method: "push", Active: 1})),
		stored(u.add(events.Removed{AuthenticatorID: authB, Method: "push", Active: 1})), // was pending
		stored((&stream{t: t, s: events.Stream{Tenant: "other", User: "u"}, now: t0}).add(events.Activated{AuthenticatorID: authA, Method: "sms", Active: 1})),
	)
	if st.Users != 2 || st.UsersEnrolled != 2 || fmt.Sprint(st.AuthenticatorsByMethod) != "map[push:1 totp:1]" {
		t.Fatalf("stats: %+v", st)
	}
	// A second authenticator does not enrol the user twice.
	applyAll(&st, stored(u.add(events.Activated{AuthenticatorID: authC, Method: "hotp", Active: 2})))
	if st.UsersEnrolled != 2 || st.AuthenticatorsByMethod["hotp"] != 1 {
		t.Fatalf("second authenticator: %+v", st)
	}
	applyAll(&st,
		stored(u.add(events.Removed{AuthenticatorID: authA, Method: "totp", WasActive: true, Active: 1})),
		stored(u.add(events.ResetCompleted{Kind: "helpdesk", Removed: 1, ActiveMethods: []string{"hotp"}})),
		stored(v.add(events.UserErased{ActiveMethods: []string{"push"}})),
		stored(v.add(events.LockedOut{Reason: "fraud", Permanent: true})),
	)
	if st.UsersEnrolled != 0 || st.AuthenticatorsByMethod != nil || st.Erasures != 1 || st.PermanentLockouts != 1 || st.Lockouts != 1 || st.ResetsByKind["helpdesk"] != 1 {
		t.Fatalf("stats after removals: %+v", st)
	}
	if st.Position != pos {
		t.Fatalf("position %d, want %d", st.Position, pos)
	}
}
