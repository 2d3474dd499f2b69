package engine

import (
	"reflect"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

func (d *decider) issueRecoveryCodes() error {
	if !d.p.Allows(events.MethodRecoveryCode) {
		return vakt.Errorf(vakt.CodeMethodNotAllowed, "recovery codes are not allowed by this tenant's policy")
	}
	if len(d.u.Active()) == 0 {
		return vakt.Errorf(vakt.CodeEnrolmentRequired, "enrol an authenticator before creating recovery codes")
	}
	key, err := d.dataKey()
	if err != nil {
		return err
	}
	n := d.p.RecoveryCodes
	hashes := make([]events.CodeHash, n)
	codes := make([]Secret, n)
	for i := range hashes {
		code, err := randString(d.env.Rand, passAlphabet, recoveryCodeLen)
		if err != nil {
			return err
		}
		salt, err := randBytes(d.env.Rand, 16)
		if err != nil {
			return err
		}
		hashes[i] = events.CodeHash{Salt: salt, Hash: keyedHash(key, purposeRecovery, salt, []byte(code))}
		codes[i] = Secret(formatGroups(code, 5))
	}
	d.emit(events.RecoveryCodesIssued{Codes: hashes})
	d.reply = Reply{Status: "issued", RecoveryCodes: codes}
	return nil
}

func (d *decider) issueTemporaryPass(c IssueTemporaryPass) error {
	if err := checkOperator(c.Operator, c.Ticket); err != nil {
		return err
	}
	ttl := c.TTL
	if ttl == 0 {
		ttl = d.p.TemporaryPassTTL
	}
	if ttl.D() < 10*time.Minute || ttl > d.p.TemporaryPassMaxTTL {
		return invalid("ttl is %s; it must be from 10m to %s", ttl, d.p.TemporaryPassMaxTTL)
	}
	return d.newTemporaryPass(c.Operator, c.Ticket, ttl)
}

func (d *decider) newTemporaryPass(operator, ticket string, ttl events.Duration) error {
	if !d.p.Allows(events.MethodTemporaryPass) {
		return vakt.Errorf(vakt.CodeMethodNotAllowed, "temporary passes are not allowed by this tenant's policy")
	}
	key, err := d.dataKey()
	if err != nil {
		return err
	}
	pass, err := randString(d.env.Rand, passAlphabet, passLen)
	if err != nil {
		return err
	}
	exp := d.now.Add(ttl.D())
	d.emit(events.TemporaryPassIssued{Hash: keyedHash(key, purposePass, []byte(pass)), ExpiresAt: exp, Operator: operator, Ticket: ticket})
	d.reply.Status = "issued"
	d.reply.TemporaryPass, d.reply.ExpiresAt = Secret(formatGroups(pass, 4)), exp
	return nil
}

// Reset kinds.
const (
	ResetSelfService = "self_service"
	ResetHelpdesk    = "helpdesk"
)

func (d *decider) reset(c Reset) error {
	if (c.Proof == nil) == (c.Helpdesk == nil) {
		return invalid("a reset needs either an identity proof or a helpdesk operator and ticket")
	}
	ev := events.ResetCompleted{Removed: len(d.u.Authenticators), ActiveMethods: d.activeMethods()}
	operator, ticket := "", ""
	if p := c.Proof; p != nil {
		if err := checkText("proof.kind", p.Kind, 64); err != nil {
			return err
		}
		if err := checkText("proof.acr", p.ACR, 128); err != nil {
			return err
		}
		if err := checkOptionalText("proof.reference", p.Reference, 256); err != nil {
			return err
		}
		lvl := ProofLevel(p.ACR)
		if lvl == "" {
			return vakt.Errorf(vakt.CodeInsufficientProof, "the proof's acr %q is not a known assurance level; use an identity provider at %s", p.ACR, d.p.ResetProofLevel)
		}
		if level(lvl) < level(d.p.ResetProofLevel) {
			return vakt.Errorf(vakt.CodeInsufficientProof, "the proof is at level %s; a self-service reset needs %s (for example ID-porten idporten-loa-high)", lvl, d.p.ResetProofLevel)
		}
		proof := *p
		ev.Kind, ev.Proof = ResetSelfService, &proof
		// The pass is the reset's own: the proof on reset.completed says why.
	} else {
		if err := checkOperator(c.Helpdesk.Operator, c.Helpdesk.Ticket); err != nil {
			return err
		}
		ev.Kind, ev.Operator, ev.Ticket = ResetHelpdesk, c.Helpdesk.Operator, c.Helpdesk.Ticket
		operator, ticket = c.Helpdesk.Operator, c.Helpdesk.Ticket
	}
	d.emit(ev)
	d.reply = Reply{Status: "reset"}
	if c.TemporaryPass {
		if err := d.newTemporaryPass(operator, ticket, d.p.TemporaryPassTTL); err != nil {
			return err
		}
		d.reply.Status = "reset"
	}
	return nil
}

func (d *decider) unlock(c Unlock) error {
	if err := checkOperator(c.Operator, c.Ticket); err != nil {
		return err
	}
	if d.u.Lock.IsZero() && d.u.Failures == 0 {
		d.reply = Reply{Status: "not_locked"}
		return nil
	}
	d.emit(events.Unlocked{Operator: c.Operator, Ticket: c.Ticket})
	d.reply = Reply{Status: "unlocked"}
	return nil
}

func (d *decider) erase(c Erase) error {
	for _, f := range []struct{ name, v string }{{"operator", c.Operator}, {"ticket", c.Ticket}, {"reason", c.Reason}} {
		if err := checkOptionalText(f.name, f.v, 256); err != nil {
			return err
		}
	}
	d.emit(events.UserErased{Operator: c.Operator, Ticket: c.Ticket, Reason: c.Reason, ActiveMethods: d.activeMethods()})
	d.reply = Reply{Status: "erased"}
	return nil
}

// DecideTenant decides a command on a tenant's stream. SetPolicy is the only
// one: the policy is completed with the defaults (SetPolicy.Exact keeps its
// meaningful zeros), validated, and recorded in full so the audit shows
// every number in force.
func DecideTenant(t *Tenant, cmd Command, env Env) (Decision, error) {
	c, ok := cmd.(SetPolicy)
	if !ok {
		if cmd == nil {
			return Decision{}, invalid("no command")
		}
		return Decision{}, invalid("unknown command %q for a tenant", cmd.CommandType())
	}
	p := complete(c.Policy, c.Exact)
	if err := ValidatePolicy(&p); err != nil {
		return Decision{}, err
	}
	if t.Set && policyEqual(&t.Policy, &p) {
		return Decision{Reply: Reply{Status: "unchanged"}}, nil
	}
	return Decision{Events: []events.Event{events.PolicySet{Policy: p}}, Reply: Reply{Status: "set"}}, nil
}

func policyEqual(a, b *Policy) bool { return reflect.DeepEqual(a, b) }

// activeMethods lists the methods of the user's active authenticators, oldest
// first.
func (d *decider) activeMethods() []string {
	var out []string
	for _, a := range d.usable() {
		out = append(out, a.Method)
	}
	return out
}
