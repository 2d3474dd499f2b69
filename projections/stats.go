package projections

import (
	"maps"
	"time"

	"github.com/vaktmfa/vakt/events"
)

// TenantStats is a tenant's dashboard: how many users enrolled, with what,
// how sign-ins end, how often codes fail, pushes are refused and users are
// locked out, resets and erasures; and daily buckets for charts.
//
// Counters count events as recorded. A challenge ended by a reset has no
// event of its own and is counted as issued only.
type TenantStats struct {
	Tenant    string    `json:"tenant"`
	Events    int       `json:"events"` // events folded in
	UpdatedAt time.Time `json:"updated_at,omitzero"`

	Users                  int            `json:"users"`          // users seen
	UsersEnrolled          int            `json:"users_enrolled"` // with an active authenticator
	AuthenticatorsByMethod map[string]int `json:"authenticators_by_method,omitempty"`
	ChallengesByOutcome    Outcomes       `json:"challenges_by_outcome"`
	SucceededByMethod      map[string]int `json:"succeeded_by_method,omitempty"`

	AttemptsFailed    int            `json:"attempts_failed"`
	CodesReused       int            `json:"codes_reused"` // part of attempts_failed
	PushDenied        int            `json:"push_denied"`
	PushFraud         int            `json:"push_fraud"`
	PushPaused        int            `json:"push_paused"`
	Lockouts          int            `json:"lockouts"`           // every lockout
	PermanentLockouts int            `json:"permanent_lockouts"` // part of lockouts
	Unlocks           int            `json:"unlocks"`
	ResetsByKind      map[string]int `json:"resets_by_kind,omitempty"`
	Erasures          int            `json:"erasures"`
	PolicyChanges     int            `json:"policy_changes"`
	PolicySetAt       time.Time      `json:"policy_set_at,omitzero"`

	// Daily holds one bucket per UTC day ("2006-01-02") of the event time.
	Daily map[string]DayStats `json:"daily,omitempty"`

	// Position is the store position of the last event folded in; events at
	// or before it change nothing, so a redelivered event is not counted
	// twice. The statistics take events in store order, so this one number
	// is all the bookkeeping they need: the events carry the rest (a user's
	// first event has seq 1; activations, removals, resets and erasures say
	// how many authenticators stay active), and the document stays the same
	// size however many users the tenant has.
	Position uint64 `json:"position,omitempty"`
}

// Outcomes counts challenges by how they started or ended.
type Outcomes struct {
	Issued        int `json:"issued"`
	Succeeded     int `json:"succeeded"`
	Denied        int `json:"denied"`
	FraudReported int `json:"fraud_reported"`
	Expired       int `json:"expired"`
	Skipped       int `json:"skipped"`
}

// DayStats is one day of a tenant.
type DayStats struct {
	// Enrolments counts authenticators activated, by method.
	Enrolments   map[string]int `json:"enrolments,omitempty"`
	Challenges   Outcomes       `json:"challenges,omitzero"`
	Lockouts     int            `json:"lockouts,omitempty"`
	FraudReports int            `json:"fraud_reports,omitempty"`
}

// Apply folds one event into the statistics. A zero TenantStats takes the
// tenant of the first event it is given; events of other tenants, and events
// at or before the last position folded in, change nothing. Events without a
// position (not from a store) are always counted.
func (s *TenantStats) Apply(rec *events.Record) {
	if rec == nil {
		return
	}
	if s.Tenant == "" {
		s.Tenant = rec.Tenant
	}
	if rec.Tenant != s.Tenant {
		return
	}
	if rec.Position > 0 {
		if rec.Position <= s.Position {
			return
		}
		s.Position = rec.Position
	}
	s.counted(rec)
	if rec.User == "" {
		if _, ok := rec.Event.(events.PolicySet); ok {
			s.PolicyChanges++
			s.PolicySetAt = rec.Time
		}
		return
	}
	if rec.Seq == 1 {
		s.Users++
	}
	day := rec.Time.UTC().Format(time.DateOnly)
	switch e := rec.Event.(type) {
	case events.Activated:
		if e.Active == 1 {
			s.UsersEnrolled++
		}
		s.AuthenticatorsByMethod = inc(s.AuthenticatorsByMethod, e.Method, 1)
		s.day(day, func(d *DayStats) { d.Enrolments = inc(d.Enrolments, e.Method, 1) })
	case events.Removed:
		if e.WasActive {
			s.AuthenticatorsByMethod = inc(s.AuthenticatorsByMethod, e.Method, -1)
			if e.Active == 0 {
				s.UsersEnrolled--
			}
		}
	case events.ResetCompleted:
		s.deactivateAll(e.ActiveMethods)
		s.ResetsByKind = inc(s.ResetsByKind, e.Kind, 1)
	case events.UserErased:
		s.deactivateAll(e.ActiveMethods)
		s.Erasures++
	case events.ChallengeIssued:
		s.ChallengesByOutcome.Issued++
		s.day(day, func(d *DayStats) { d.Challenges.Issued++ })
	case events.ChallengeSkipped:
		s.ChallengesByOutcome.Skipped++
		s.day(day, func(d *DayStats) { d.Challenges.Skipped++ })
	case events.ChallengeSucceeded:
		s.ChallengesByOutcome.Succeeded++
		s.SucceededByMethod = inc(s.SucceededByMethod, e.Method, 1)
		s.day(day, func(d *DayStats) { d.Challenges.Succeeded++ })
	case events.ChallengeDenied:
		s.ChallengesByOutcome.Denied++
		s.PushDenied++
		s.day(day, func(d *DayStats) { d.Challenges.Denied++ })
	case events.FraudReported:
		s.ChallengesByOutcome.FraudReported++
		s.PushFraud++
		s.day(day, func(d *DayStats) { d.Challenges.FraudReported++; d.FraudReports++ })
	case events.ChallengeExpired:
		s.ChallengesByOutcome.Expired++
		s.day(day, func(d *DayStats) { d.Challenges.Expired++ })
	case events.AttemptFailed:
		s.AttemptsFailed++
		if e.Reason == "code_reused" {
			s.CodesReused++
		}
	case events.PushPaused:
		s.PushPaused++
	case events.LockedOut:
		s.Lockouts++
		if e.Permanent {
			s.PermanentLockouts++
		}
		s.day(day, func(d *DayStats) { d.Lockouts++ })
	case events.Unlocked:
		s.Unlocks++
	}
}

func (s *TenantStats) counted(rec *events.Record) {
	s.Events++
	if rec.Time.After(s.UpdatedAt) {
		s.UpdatedAt = rec.Time
	}
}

// deactivateAll takes a user's active authenticators (by method) out of
// the counts.
func (s *TenantStats) deactivateAll(methods []string) {
	if len(methods) == 0 {
		return
	}
	for _, m := range methods {
		s.AuthenticatorsByMethod = inc(s.AuthenticatorsByMethod, m, -1)
	}
	s.UsersEnrolled--
}

// day changes the bucket of one day.
func (s *TenantStats) day(key string, f func(*DayStats)) {
	if s.Daily == nil {
		s.Daily = map[string]DayStats{}
	}
	d := s.Daily[key]
	f(&d)
	s.Daily[key] = d
}

// inc adds n to m[k], deleting a key that reaches zero and returning nil for
// an empty map, so that the model survives a JSON round trip unchanged.
func inc(m map[string]int, k string, n int) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	if v := m[k] + n; v != 0 {
		m[k] = v
	} else {
		delete(m, k)
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// Clone returns a deep copy.
func (s *TenantStats) Clone() TenantStats {
	c := *s
	c.AuthenticatorsByMethod = maps.Clone(s.AuthenticatorsByMethod)
	c.SucceededByMethod = maps.Clone(s.SucceededByMethod)
	c.ResetsByKind = maps.Clone(s.ResetsByKind)
	if s.Daily != nil {
		c.Daily = make(map[string]DayStats, len(s.Daily))
		for k, d := range s.Daily {
			d.Enrolments = maps.Clone(d.Enrolments)
			c.Daily[k] = d
		}
	}
	return c
}
