package projections_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/projections"
)

// fold applies records to fresh models, without a runner.
func fold(t testing.TB, recs []events.Record) models {
	t.Helper()
	m := newModels()
	for i := range recs {
		for _, p := range m.list() {
			if err := p.Apply(&recs[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	return m
}

func (w *world) foldUpTo(mark string) models { return fold(w.t, w.upTo(mark)) }

// recordOf returns the first record of a type whose event satisfies match.
func recordOf[E events.Event](t testing.TB, recs []events.Record, match func(E) bool) events.Record {
	t.Helper()
	for _, r := range recs {
		if e, ok := r.Event.(E); ok && match(e) {
			return r
		}
	}
	var zero E
	t.Fatalf("no %s event matches", zero.EventType())
	return events.Record{}
}

func info(t testing.TB, m models, user string) projections.SecurityInfo {
	t.Helper()
	s, ok := m.infos.Get(tenant, user)
	if !ok {
		t.Fatalf("no security info for %s", user)
	}
	return s
}

func onlyAuthenticator(t testing.TB, s projections.SecurityInfo) projections.AuthenticatorInfo {
	t.Helper()
	if len(s.Authenticators) != 1 {
		t.Fatalf("authenticators = %+v, want one", s.Authenticators)
	}
	return s.Authenticators[0]
}

func TestSecurityInfoLifecycle(t *testing.T) {
	w := buildWorld(t)
	const ola = "ola.nordmann"
	all := w.records()

	s := info(t, w.foldUpTo("ola-enrolment-started"), ola)
	a := onlyAuthenticator(t, s)
	if a.Status != projections.StatusPending || a.Label != "Phone" || a.Method != "totp" || a.Default || s.Default != "" ||
		!a.ExpiresAt.Equal(a.CreatedAt.Add(10*time.Minute)) || !a.ActivatedAt.IsZero() || a.ACR != "" {
		t.Fatalf("pending: %+v (default %q)", a, s.Default)
	}

	s = info(t, w.foldUpTo("ola-activated"), ola)
	a = onlyAuthenticator(t, s)
	if a.Status != projections.StatusActive || !a.Default || s.Default != a.ID || a.ACR != "substantial" ||
		a.ActivatedAt.IsZero() || !a.ExpiresAt.IsZero() || !a.LastUsedAt.IsZero() {
		t.Fatalf("activated: %+v", a)
	}

	// A success sets last_used_at to its event time.
	s = info(t, w.foldUpTo("ola-first-sign-in"), ola)
	first := recordOf(t, all, func(e events.ChallengeSucceeded) bool { return e.ChallengeID == w.ids["first-sign-in"] })
	if a := onlyAuthenticator(t, s); !a.LastUsedAt.Equal(first.Time) || !s.LastSignInAt.Equal(first.Time) {
		t.Fatalf("after the first sign-in: last used %v, last sign-in %v, want %v", a.LastUsedAt, s.LastSignInAt, first.Time)
	}
	s = info(t, w.foldUpTo("ola-replayed"), ola)
	if a := onlyAuthenticator(t, s); !a.LastUsedAt.After(first.Time) || s.FailedAttempts != 0 {
		t.Fatalf("after the replay and a good code: %+v, failed %d", a, s.FailedAttempts)
	}

	// New phone added, made default and renamed; the old one removed.
	s = info(t, w.foldUpTo("ola-new-phone"), ola)
	a = onlyAuthenticator(t, s)
	if a.ID != w.ids["new-phone"] || a.Label != "iPhone 17" || !a.Default || s.Default != a.ID || a.LastUsedAt.IsZero() {
		t.Fatalf("after the new phone: %+v default %q", a, s.Default)
	}

	s = info(t, w.foldUpTo("ola-push-paused"), ola)
	paused := recordOf(t, all, func(e events.PushPaused) bool { return true })
	if !s.PushPausedUntil.Equal(paused.Time.Add(15*time.Minute)) || !s.PushPausedAt(paused.Time.Add(14*time.Minute)) || s.PushPausedAt(paused.Time.Add(15*time.Minute)) {
		t.Fatalf("push paused until %v", s.PushPausedUntil)
	}
	if len(s.Active()) != 2 || s.Default != w.ids["push-phone"] {
		t.Fatalf("push phone: %+v", s.Authenticators)
	}

	s = info(t, w.foldUpTo("ola-remembered"), ola)
	if len(s.RememberedDevices) != 1 {
		t.Fatalf("remembered = %+v", s.RememberedDevices)
	}
	if d := s.RememberedDevices[0]; d.ID != w.ids["browser"] || d.App != "web" || d.ACR != "substantial" || !d.ExpiresAt.Equal(d.CreatedAt.Add(20*24*time.Hour)) {
		t.Fatalf("remembered device = %+v", d)
	}

	if s = info(t, w.foldUpTo("ola-recovery"), ola); s.RecoveryCodesLeft != 9 {
		t.Fatalf("recovery codes left = %d, want 9", s.RecoveryCodesLeft)
	}

	s = info(t, w.foldUpTo("ola-locked"), ola)
	lock := recordOf(t, all, func(e events.LockedOut) bool { return true })
	if !s.Locked || !s.LockedUntil.Equal(lock.Time.Add(time.Minute)) || s.Permanent || s.FailedAttempts != 5 || s.LockReason != "failures" {
		t.Fatalf("locked: %+v", s)
	}
	if !s.LockedAt(lock.Time.Add(59*time.Second)) || s.LockedAt(lock.Time.Add(time.Minute)) {
		t.Fatal("LockedAt does not follow locked_until")
	}
	if s = info(t, w.foldUpTo("ola-unlocked"), ola); s.Locked || !s.LockedUntil.IsZero() || s.FailedAttempts != 0 {
		t.Fatalf("unlocked: %+v", s)
	}

	s = info(t, w.foldUpTo("ola-self-service-reset"), ola)
	if len(s.Authenticators) != 0 || s.Default != "" || len(s.RememberedDevices) != 0 || s.RecoveryCodesLeft != 0 ||
		s.Resets != 1 || s.LastResetKind != "self_service" || s.TemporaryPassExpiresAt.IsZero() {
		t.Fatalf("after the self-service reset: %+v", s)
	}
	s = info(t, w.foldUpTo("ola-reactivated"), ola)
	if a := onlyAuthenticator(t, s); a.Label != "Reactivated phone" || !a.Default || !s.TemporaryPassExpiresAt.IsZero() {
		t.Fatalf("reactivated: %+v, pass until %v", a, s.TemporaryPassExpiresAt)
	}

	end := catchUp(t, w.store)
	s = info(t, end, ola)
	reset := recordOf(t, all, func(e events.ResetCompleted) bool { return e.Kind == "helpdesk" })
	if len(s.Authenticators) != 0 || s.Resets != 2 || s.LastResetKind != "helpdesk" || !s.LastResetAt.Equal(reset.Time) || s.Erased {
		t.Fatalf("after the helpdesk reset: %+v", s)
	}
	kari := info(t, end, "kari.hansen")
	if !kari.Erased || kari.ErasedAt.IsZero() || len(kari.Authenticators) != 0 || kari.Default != "" || kari.Seq != 13 {
		t.Fatalf("erased: %+v", kari)
	}
	if s := info(t, end, "nina"); len(s.Authenticators) != 0 || s.Snoozes != 1 {
		t.Fatalf("nina: %+v", s)
	}
	// Seq is the head of the user's stream.
	for _, k := range end.infos.Keys() {
		s, _ := end.infos.Lookup(k)
		var head uint64
		for _, r := range all {
			if r.User == k.ID {
				head = r.Seq
			}
		}
		if s.Seq != head {
			t.Errorf("%s: seq %d, stream head %d", k.ID, s.Seq, head)
		}
	}
}

func TestChallengeStatus(t *testing.T) {
	w := buildWorld(t)
	all := w.records()
	end := catchUp(t, w.store)
	get := func(name string) projections.ChallengeStatus {
		t.Helper()
		c, ok := end.challenges.Get(tenant, w.ids[name])
		if !ok {
			t.Fatalf("no challenge %s", name)
		}
		return c
	}

	c := get("first-sign-in")
	ok := recordOf(t, all, func(e events.ChallengeSucceeded) bool { return e.ChallengeID == w.ids["first-sign-in"] })
	if c.Status != projections.ChallengeSucceeded || c.Method != "totp" || c.ACR != "substantial" || fmt.Sprint(c.AMR) != "[otp]" ||
		!c.AuthTime.Equal(ok.Time) || !c.EndedAt.Equal(ok.Time) || !c.IssuedAt.Before(c.AuthTime) ||
		c.AuthenticatorID != w.ids["phone"] || c.App != "web" || c.User != "ola.nordmann" || c.RequiredACR != "substantial" {
		t.Fatalf("first sign-in: %+v", c)
	}
	if c := get("replayed"); c.Status != projections.ChallengeSucceeded || c.FailedAttempts != 1 {
		t.Fatalf("replayed: %+v", c)
	}
	for name, want := range map[string][2]string{
		"push-approved":     {projections.ChallengeSucceeded, ""},
		"push-denied":       {projections.ChallengeDenied, "denied"},
		"push-wrong-number": {projections.ChallengeDenied, "wrong_number"},
		"push-unanswered":   {projections.ChallengeExpired, "push_unanswered"},
		"push-fraud":        {projections.ChallengeFraud, ""},
	} {
		c := get(name)
		if c.Status != want[0] || c.Reason != want[1] || c.Push == nil || c.Push.AuthenticatorID != w.ids["push-phone"] || c.Push.ExpiresAt.IsZero() {
			t.Errorf("%s: %+v push %+v, want %s %q", name, c, c.Push, want[0], want[1])
		}
	}
	if c := get("remembered-at"); c.RememberedDeviceID != w.ids["browser"] || c.Status != projections.ChallengeSucceeded {
		t.Fatalf("remembered at: %+v", c)
	}
	c = get("skipped")
	if c.Status != projections.ChallengeSkipped || c.Reason != "remembered" || c.RememberedDeviceID != w.ids["browser"] || c.ACR != "substantial" || c.AuthTime.IsZero() {
		t.Fatalf("skipped: %+v", c)
	}
	if c := get("snoozed"); c.Status != projections.ChallengeSkipped || c.Reason != "snoozed" || c.ACR != "" {
		t.Fatalf("snoozed: %+v", c)
	}
	if c := get("recovery"); c.Method != "recovery_code" || c.Status != projections.ChallengeSucceeded {
		t.Fatalf("recovery: %+v", c)
	}
	if c := get("sms"); c.Code == nil || c.Code.Method != "sms" || c.Code.Sent != 1 || c.ACR != "low" || fmt.Sprint(c.AMR) != "[sms]" {
		t.Fatalf("sms: %+v code %+v", c, c.Code)
	}
	// The locked-out sign-in had run out before the reset took it away: it
	// expired at its own time. The one pending at the helpdesk reset was
	// cancelled by it.
	if c := get("locked"); c.Status != projections.ChallengeExpired || c.Reason != "" || !c.EndedAt.Equal(c.ExpiresAt) || c.FailedAttempts != 5 {
		t.Fatalf("locked: %+v", c)
	}
	reset := recordOf(t, all, func(e events.ResetCompleted) bool { return e.Kind == "helpdesk" })
	if c := get("cancelled-by-reset"); c.Status != projections.ChallengeExpired || c.Reason != "reset" || !c.EndedAt.Equal(reset.Time) {
		t.Fatalf("cancelled by reset: %+v", c)
	}

	// While pending, StatusAt tells when it runs out.
	issued := recordOf(t, all, func(e events.ChallengeIssued) bool { return e.ChallengeID == w.ids["cancelled-by-reset"] })
	m := fold(t, all[:issued.Position])
	c, _ = m.challenges.Get(tenant, w.ids["cancelled-by-reset"])
	if c.Status != projections.ChallengePending || c.StatusAt(c.IssuedAt.Add(time.Minute)) != projections.ChallengePending ||
		c.StatusAt(c.ExpiresAt) != projections.ChallengeExpired || c.Settled() {
		t.Fatalf("pending: %+v", c)
	}

	// Every challenge that was issued or skipped has a status.
	n := 0
	for _, r := range all {
		if r.Type == "challenge.issued" || r.Type == "challenge.skipped" {
			n++
		}
	}
	if end.challenges.Len() != n {
		t.Fatalf("%d challenge statuses for %d challenges", end.challenges.Len(), n)
	}
}

func TestTenantStats(t *testing.T) {
	w := buildWorld(t)
	all := w.records()
	s, ok := catchUp(t, w.store).stats.Get(tenant)
	if !ok {
		t.Fatal("no stats")
	}
	count := func(typ string, match func(events.Record) bool) int {
		n := 0
		for _, r := range all {
			if r.Type == typ && (match == nil || match(r)) {
				n++
			}
		}
		return n
	}
	o := s.ChallengesByOutcome
	for name, c := range map[string][2]int{
		"issued":             {o.Issued, count("challenge.issued", nil)},
		"succeeded":          {o.Succeeded, count("challenge.succeeded", nil)},
		"denied":             {o.Denied, count("challenge.denied", nil)},
		"fraud_reported":     {o.FraudReported, count("challenge.fraud_reported", nil)},
		"expired":            {o.Expired, count("challenge.expired", nil)},
		"skipped":            {o.Skipped, count("challenge.skipped", nil)},
		"attempts_failed":    {s.AttemptsFailed, count("challenge.attempt_failed", nil)},
		"codes_reused":       {s.CodesReused, 1},
		"push_denied":        {s.PushDenied, 5},
		"push_fraud":         {s.PushFraud, 1},
		"push_paused":        {s.PushPaused, 2},
		"lockouts":           {s.Lockouts, 1},
		"permanent_lockouts": {s.PermanentLockouts, 0},
		"unlocks":            {s.Unlocks, 1},
		"erasures":           {s.Erasures, 1},
		"policy_changes":     {s.PolicyChanges, 1},
		"users":              {s.Users, 4},
		"users_enrolled":     {s.UsersEnrolled, 1}, // only Per: Ola was reset, Kari erased, Nina never finished
		"events":             {s.Events, len(all)},
	} {
		if c[0] != c[1] {
			t.Errorf("%s = %d, want %d", name, c[0], c[1])
		}
	}
	if fmt.Sprint(s.AuthenticatorsByMethod) != "map[sms:1]" || fmt.Sprint(s.ResetsByKind) != "map[helpdesk:1 self_service:1]" ||
		fmt.Sprint(s.SucceededByMethod) != "map[push:2 recovery_code:1 sms:1 temporary_pass:1 totp:4]" {
		t.Errorf("by method: active %v, resets %v, succeeded %v", s.AuthenticatorsByMethod, s.ResetsByKind, s.SucceededByMethod)
	}
	// The daily buckets add up to the totals, and are keyed by UTC day.
	var daily projections.Outcomes
	enrolled, lockouts, fraud := 0, 0, 0
	for day, d := range s.Daily {
		if _, err := time.Parse(time.DateOnly, day); err != nil {
			t.Errorf("day key %q: %v", day, err)
		}
		daily.Issued += d.Challenges.Issued
		daily.Succeeded += d.Challenges.Succeeded
		daily.Denied += d.Challenges.Denied
		daily.FraudReported += d.Challenges.FraudReported
		daily.Expired += d.Challenges.Expired
		daily.Skipped += d.Challenges.Skipped
		for _, n := range d.Enrolments {
			enrolled += n
		}
		lockouts += d.Lockouts
		fraud += d.FraudReports
	}
	if daily != o || enrolled != count("authenticator.activated", nil) || lockouts != s.Lockouts || fraud != s.PushFraud {
		t.Errorf("daily sums %+v, %d enrolments, %d lockouts, %d fraud; totals %+v", daily, enrolled, lockouts, fraud, o)
	}
	if d := s.Daily["2026-11-23"]; fmt.Sprint(d.Enrolments) != "map[push:1 totp:2]" || d.FraudReports != 1 {
		t.Errorf("first day: %+v", d)
	}
	if len(s.Daily) != 5 {
		t.Errorf("%d days, want 5", len(s.Daily))
	}

	// Midway: Ola has two phones, then one after removing the old.
	mid, _ := w.foldUpTo("ola-new-phone").stats.Get(tenant)
	if mid.UsersEnrolled != 1 || fmt.Sprint(mid.AuthenticatorsByMethod) != "map[totp:1]" || mid.Users != 1 {
		t.Errorf("after the new phone: %+v", mid)
	}
	paused, _ := w.foldUpTo("kari-paused").stats.Get(tenant)
	if paused.Users != 2 || paused.UsersEnrolled != 1 || fmt.Sprint(paused.AuthenticatorsByMethod) != "map[push:1]" || paused.PushPaused != 2 {
		t.Errorf("when Kari's push paused: %+v", paused)
	}
}

func TestAuditTrail(t *testing.T) {
	w := buildWorld(t)
	all := w.records()
	end := catchUp(t, w.store)
	trail, ok := end.audit.Get(tenant, "ola.nordmann")
	if !ok {
		t.Fatal("no audit trail")
	}
	// One entry per event, in order, with the envelope's facts.
	var stream []events.Record
	for _, r := range all {
		if r.User == "ola.nordmann" {
			stream = append(stream, r)
		}
	}
	if len(trail.Entries) != len(stream) {
		t.Fatalf("%d entries for %d events", len(trail.Entries), len(stream))
	}
	for i, e := range trail.Entries {
		r := stream[i]
		if e.Seq != r.Seq || e.ID != r.ID || e.Type != r.Type || !e.Time.Equal(r.Time) || e.Actor != r.Actor || e.Command != r.Command || e.Summary == "" {
			t.Fatalf("entry %d = %+v for %s", i, e, r.Type)
		}
	}
	find := func(summary string) projections.AuditEntry {
		t.Helper()
		for _, e := range trail.Entries {
			if e.Summary == summary {
				return e
			}
		}
		t.Fatalf("no entry %q", summary)
		return projections.AuditEntry{}
	}
	e := find(`reset by helpdesk operator "kari", ticket "INC-1"`)
	if e.Operator != "kari" || e.Ticket != "INC-1" || e.Actor != "helpdesk:kari" || e.Reason != "helpdesk" || e.Removed != 1 || e.Type != "reset.completed" {
		t.Errorf("helpdesk reset: %+v", e)
	}
	e = find(`self-service reset after identity proof idporten at idporten-loa-high (reference "sid-2")`)
	if e.Proof == nil || *e.Proof != (events.Proof{Kind: "idporten", ACR: "idporten-loa-high", Reference: "sid-2"}) || e.Reason != "self_service" || e.Removed != 2 {
		t.Errorf("self-service reset: %+v proof %+v", e, e.Proof)
	}
	e = find(`unlocked by helpdesk operator "kari", ticket "INC-4711"`)
	if e.Operator != "kari" || e.Ticket != "INC-4711" {
		t.Errorf("unlock: %+v", e)
	}
	e = find(`locked out for 1m0s after 5 failed attempts`)
	if e.Failures != 5 || e.Until.IsZero() || e.Reason != "failures" {
		t.Errorf("lockout: %+v", e)
	}
	e = find(`enrolled authenticator app "Phone" (totp), pending`)
	if e.AuthenticatorID != w.ids["phone"] || e.Method != "totp" || e.Label != "Phone" {
		t.Errorf("enrolment: %+v", e)
	}
	e = find(`sign-in to web succeeded with totp (acr substantial)`)
	if e.ChallengeID != w.ids["first-sign-in"] || e.AuthenticatorID != w.ids["phone"] || e.Label != "Phone" || e.App != "web" {
		t.Errorf("first success: %+v", e)
	}
	find(`sign-in to web: code already used on authenticator app "Phone" (1 failure in a row)`)
	find(`removed authenticator app "Phone" (totp)`)
	find(`renamed authenticator app "New phone" to "iPhone 17"`)
	find(`sign-in to web denied on push app "Push phone": wrong number chosen`)
	find(`push paused for 15m0s after 3 denied or unanswered pushes`)
	e = find(`fraud reported ("this wasn't me") on push app "Push phone" for sign-in to web (Canvas)`)
	if e.Application != "Canvas" || !e.ClientSealed || e.ChallengeID != w.ids["push-fraud"] {
		t.Errorf("fraud: %+v", e)
	}
	find(`remembered the browser for web until 2026-12-13 12:22 UTC (acr substantial)`)
	find(`used a recovery code, 9 left`)
	find(`issued a temporary pass after a self-service reset, valid until 2026-11-25 14:23 UTC`)

	kari, _ := end.audit.Get(tenant, "kari.hansen")
	last := kari.Entries[len(kari.Entries)-1]
	if last.Summary != `erased by "dpo", ticket "PRIV-7" (GDPR art. 17); the data key is destroyed` || last.Operator != "dpo" || last.Ticket != "PRIV-7" || kari.Refs != nil {
		t.Errorf("erasure: %+v refs %v", last, kari.Refs)
	}
}

// futureEvent is an event type this version of Vakt does not know.
type futureEvent struct{}

func (futureEvent) EventType() string { return "future.event" }

// TestEverySummary makes sure every event type that can appear on a user's
// stream has its own sentence, so that adding an event type without teaching
// the audit trail fails here. Zero-valued events also show that every fold is
// total.
func TestEverySummary(t *testing.T) {
	tenantOnly := []string{"policy.set"}
	types := events.Default.Types()
	if len(types) < 30 {
		t.Fatalf("only %d registered types", len(types))
	}
	for _, typ := range types {
		ev, err := events.Default.DecodeData(typ, events.Default.Version(typ), []byte(`{}`))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		user := "u"
		if slices.Contains(tenantOnly, typ) {
			user = ""
		}
		rec := events.Record{Envelope: events.Envelope{Tenant: "t", User: user, Seq: 1, Time: t0, Type: typ, Version: 1, Command: "c", Actor: "a"}, Event: ev, Position: 1}
		m := newModels()
		for _, p := range m.list() {
			if err := p.Apply(&rec); err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
		}
		var a projections.AuditTrail
		a.Apply(&rec)
		if user == "" {
			if len(a.Entries) != 0 {
				t.Errorf("%s on the tenant stream reached a user's audit trail", typ)
			}
			continue
		}
		if len(a.Entries) != 1 {
			t.Fatalf("%s: %d entries", typ, len(a.Entries))
		}
		if s := a.Entries[0].Summary; s == "" || s == "event "+typ {
			t.Errorf("%s has no summary of its own (got %q); teach projections/audit.go about it", typ, s)
		}
	}
	// An unknown event still gets an entry, with a generic sentence.
	var a projections.AuditTrail
	a.Apply(&events.Record{Envelope: events.Envelope{Tenant: "t", User: "u", Seq: 1, Type: "future.event"}, Event: futureEvent{}})
	if len(a.Entries) != 1 || a.Entries[0].Summary != "event future.event" {
		t.Fatalf("unknown event: %+v", a.Entries)
	}
}
