// Package apikeys keeps Vakt's API keys: bearer secrets with a scope, stored
// only as hashes, in a KV bucket (VAKT_APIKEYS) that every instance of
// `vakt serve` shares.
//
// # Keys
//
// A key is shown once, when it is created, in the form
//
//	vakt_<id>_<secret>
//
// where id is 16 random bytes and secret 32 random bytes, both base64url
// without padding (71 characters in all). The id names the key (it is the KV
// key, and what a revocation or a log line names); the bucket holds the id,
// the scope, the tenant, a label, who created it and when, and the SHA-256 of
// the whole string, never the string itself. [Keys.Authenticate] compares
// hashes in constant time, and every failure (a malformed bearer, an unknown
// id, a wrong secret, a revoked key) is the same unauthorized error, so an
// answer never tells whether an id exists.
//
// The admin key is not in the bucket: it comes from VAKT_API_KEY or the file
// admin.key in the data directory ([LoadAdminKey]) and is handed to [Open].
//
// # Scopes
//
//   - admin: everything, for every tenant, including tenant_admin keys. Only
//     the admin key has it; no key of this scope can be created.
//   - tenant_admin: everything for one tenant: its policy, keys of the lower
//     scopes (helpdesk, relying_party) for that tenant, erasure, and every
//     user-level action.
//   - helpdesk: one tenant: read users and their events, reset a user with an
//     operator and a ticket, unlock, issue a temporary pass, remove
//     authenticators.
//   - relying_party: one tenant: enrol and confirm authenticators, start,
//     follow and verify challenges, recovery codes, self-service reset with
//     an identity proof, and the user's own authenticator management.
//
// # Actions
//
// The server asks [Principal.Can] whether a caller may do an action for a
// tenant. The matrix (admin may do every action for every tenant; the
// others only for their own tenant):
//
//	action                 relying_party  helpdesk  tenant_admin
//	enrol                       x                        x
//	authenticators              x                        x
//	remove_authenticator        x             x          x
//	challenge                   x                        x
//	verify                      x                        x
//	recovery_codes              x                        x
//	self_reset                  x                        x
//	read_user                   x             x          x
//	read_events                               x          x
//	helpdesk                                  x          x
//	policy                                               x
//	keys                                                 x
//	erase                                                x
//	admin                                      (admin only)
//
// ActionKeys only lets a tenant_admin reach the key calls; [Keys.Create],
// [Keys.Revoke] and [Keys.List] apply the finer rules (a tenant_admin
// manages helpdesk and relying_party keys of its own tenant, never
// tenant_admin keys).
//
// # Revocation
//
// A revoked key is deleted from the bucket. Each [Keys] caches recently
// verified keys for at most [DefaultCacheTTL] and watches the bucket, so a
// revocation by any instance takes effect everywhere at once (within the
// TTL if the watch is interrupted).
package apikeys

// Scope is what a key may do.
type Scope string

// The scopes, from most to least powerful (helpdesk and relying_party are
// side by side: neither includes the other).
const (
	ScopeAdmin        Scope = "admin"
	ScopeTenantAdmin  Scope = "tenant_admin"
	ScopeHelpdesk     Scope = "helpdesk"
	ScopeRelyingParty Scope = "relying_party"
)

// Scopes lists every scope.
var Scopes = []Scope{ScopeAdmin, ScopeTenantAdmin, ScopeHelpdesk, ScopeRelyingParty}

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool {
	switch s {
	case ScopeAdmin, ScopeTenantAdmin, ScopeHelpdesk, ScopeRelyingParty:
		return true
	}
	return false
}

// Action is something a caller may be allowed to do for a tenant; see the
// matrix in the package documentation.
type Action string

// The actions.
const (
	// ActionEnrol: add and confirm authenticators (POST .../authenticators,
	// .../confirm).
	ActionEnrol Action = "enrol"
	// ActionAuthenticators: the user's own authenticator management, such as
	// choosing the default (PUT .../default-authenticator).
	ActionAuthenticators Action = "authenticators"
	// ActionRemoveAuthenticator: remove an authenticator (DELETE
	// .../authenticators/{id}), by the user or by the helpdesk.
	ActionRemoveAuthenticator Action = "remove_authenticator"
	// ActionChallenge: start a challenge, follow it, answer a push
	// (POST .../challenges, GET .../challenges/{id}, .../respond).
	ActionChallenge Action = "challenge"
	// ActionVerify: verify a challenge and get the session token.
	ActionVerify Action = "verify"
	// ActionRecoveryCodes: issue recovery codes.
	ActionRecoveryCodes Action = "recovery_codes"
	// ActionSelfReset: a reset with an identity proof (self-service).
	ActionSelfReset Action = "self_reset"
	// ActionReadUser: read a user's authenticators and status.
	ActionReadUser Action = "read_user"
	// ActionReadEvents: read a user's audit timeline.
	ActionReadEvents Action = "read_events"
	// ActionHelpdesk: a reset with an operator and a ticket, an unlock, a
	// temporary pass.
	ActionHelpdesk Action = "helpdesk"
	// ActionPolicy: read and change the tenant's policy.
	ActionPolicy Action = "policy"
	// ActionKeys: create, list and revoke keys (with the finer rules of
	// [Keys.Create] and [Keys.Revoke]).
	ActionKeys Action = "keys"
	// ActionErase: erase a user (crypto-shredding; cannot be undone).
	ActionErase Action = "erase"
	// ActionAdmin: what concerns every tenant (the admin key only).
	ActionAdmin Action = "admin"
)

// Actions lists every action.
var Actions = []Action{
	ActionEnrol, ActionAuthenticators, ActionRemoveAuthenticator, ActionChallenge,
	ActionVerify, ActionRecoveryCodes, ActionSelfReset, ActionReadUser,
	ActionReadEvents, ActionHelpdesk, ActionPolicy, ActionKeys, ActionErase, ActionAdmin,
}

// scopeSet is a set of the tenant scopes.
type scopeSet uint8

const (
	rp scopeSet = 1 << iota
	hd
	ta
)

// matrix says which tenant scopes may do each action for their tenant.
var matrix = map[Action]scopeSet{
	ActionEnrol:               rp | ta,
	ActionAuthenticators:      rp | ta,
	ActionRemoveAuthenticator: rp | hd | ta,
	ActionChallenge:           rp | ta,
	ActionVerify:              rp | ta,
	ActionRecoveryCodes:       rp | ta,
	ActionSelfReset:           rp | ta,
	ActionReadUser:            rp | hd | ta,
	ActionReadEvents:          hd | ta,
	ActionHelpdesk:            hd | ta,
	ActionPolicy:              ta,
	ActionKeys:                ta,
	ActionErase:               ta,
	ActionAdmin:               0,
}

func (s Scope) set() scopeSet {
	switch s {
	case ScopeRelyingParty:
		return rp
	case ScopeHelpdesk:
		return hd
	case ScopeTenantAdmin:
		return ta
	}
	return 0
}

// AdminKeyID is the KeyID of the admin key's principal.
const AdminKeyID = "admin"

// Principal is an authenticated caller: the key's id, scope and tenant
// (empty for admin).
type Principal struct {
	KeyID  string `json:"key_id"`
	Scope  Scope  `json:"scope"`
	Tenant string `json:"tenant,omitempty"`
}

// IsAdmin reports whether p holds the admin scope.
func (p Principal) IsAdmin() bool { return p.Scope == ScopeAdmin }

// Can reports whether p may do action for tenant: admin may do every known
// action for any tenant; a tenant scope only for its own tenant (never for
// the empty tenant, which stands for all of them) and only the actions the
// matrix gives it. An unknown action is refused to everyone.
func (p Principal) Can(action Action, tenant string) bool {
	set, known := matrix[action]
	switch {
	case !known:
		return false
	case p.Scope == ScopeAdmin:
		return true
	case tenant == "" || p.Tenant != tenant:
		return false
	}
	return set&p.Scope.set() != 0
}

// Allows reports whether p holds every power of a key of scope for tenant:
// admin holds all; a tenant_admin those of its tenant's tenant_admin,
// helpdesk and relying_party keys; helpdesk and relying_party only their
// own scope for their own tenant.
func (p Principal) Allows(scope Scope, tenant string) bool {
	switch {
	case p.Scope == ScopeAdmin:
		return scope.Valid()
	case scope == ScopeAdmin || !scope.Valid() || !p.Scope.Valid():
		return false
	case tenant == "" || p.Tenant != tenant:
		return false
	case p.Scope == scope:
		return true
	}
	return p.Scope == ScopeTenantAdmin && (scope == ScopeHelpdesk || scope == ScopeRelyingParty)
}

// manages reports whether p may create or revoke a key of scope for tenant:
// admin any (except an admin key, which is never stored); a tenant_admin
// the lower scopes of its own tenant.
func (p Principal) manages(scope Scope, tenant string) bool {
	switch {
	case p.Scope == ScopeAdmin:
		return scope == ScopeTenantAdmin || scope == ScopeHelpdesk || scope == ScopeRelyingParty
	case p.Scope == ScopeTenantAdmin:
		return tenant != "" && tenant == p.Tenant && (scope == ScopeHelpdesk || scope == ScopeRelyingParty)
	}
	return false
}
