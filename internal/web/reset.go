package web

import (
	"crypto/subtle"
	"net/http"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
)

// ProofProvider proves a person's identity for a self-service reset, as
// ID-porten (MinID, BankID) does in production. The pages show the
// provider's form (or a button that goes to the provider and back) at
// /ui/reset/proof/{Name}; Prove reads the answer.
type ProofProvider interface {
	// Name is the provider's path segment and the proof's kind.
	Name() string
	// Label is a catalogue key naming the provider on the page.
	Label() string
	// Template is the page (in templates/) that asks for the proof.
	Template() string
	// Prove reads the posted form and returns the proof and the user it
	// proves, or an error the page shows.
	Prove(r *http.Request, tenant, user string) (events.Proof, string, error)
}

// DevProof stands in for ID-porten in development: the person picks the
// assurance level the identity provider would assert, and the engine
// decides whether it is enough for the tenant's policy (high by default:
// BankID passes, MinID's substantial does not).
type DevProof struct{}

// Name implements ProofProvider.
func (DevProof) Name() string { return "dev-idporten" }

// Label implements ProofProvider.
func (DevProof) Label() string { return "proof.dev" }

// Template implements ProofProvider.
func (DevProof) Template() string { return "proofdev" }

// Prove implements ProofProvider.
func (DevProof) Prove(r *http.Request, tenant, user string) (events.Proof, string, error) {
	acr := r.PostForm.Get("acr")
	if acr != "idporten-loa-high" && acr != "idporten-loa-substantial" {
		return events.Proof{}, "", vakt.Errorf(vakt.CodeInvalidArgument, "choose a level")
	}
	return events.Proof{Kind: "dev-idporten", ACR: acr, Reference: "dev-" + randomHex(8)}, user, nil
}

func (w *Web) provider(name string) ProofProvider {
	for _, p := range w.cfg.Proofs {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

type resetData struct {
	Providers []ProofProvider
	Provider  ProofProvider
	User      string
	Tenant    string
}

// resetSubject is who a reset is for: the signed-in user, or the person of
// a sign-in step who cannot use their authenticator. Either way the proof
// decides; neither opens anything by itself.
func (w *Web) resetSubject(r *http.Request) (tenant, user string, ok bool) {
	if s := w.sessionOf(r); s != nil && s.Kind == kindUser {
		return s.Tenant, s.User, true
	}
	var f flow
	if c, err := r.Cookie(cookieFlow); err == nil && w.verify("flow", c.Value, &f) {
		return f.Tenant, f.User, true
	}
	return "", "", false
}

func (w *Web) resetPage(rw http.ResponseWriter, r *http.Request) {
	tenant, user, ok := w.resetSubject(r)
	if !ok {
		w.fail(rw, r, http.StatusUnauthorized, "err.signin_needed")
		return
	}
	p := w.newPage(rw, r, "title.reset")
	p.Data = &resetData{Providers: w.cfg.Proofs, User: user, Tenant: tenant}
	w.render(p, http.StatusOK, "reset")
}

// resetStart goes to the chosen provider.
func (w *Web) resetStart(rw http.ResponseWriter, r *http.Request) {
	if _, ok := w.checkForm(rw, r); !ok {
		return
	}
	pr := w.provider(r.PostForm.Get("provider"))
	if pr == nil {
		w.fail(rw, r, http.StatusBadRequest, "err.provider")
		return
	}
	redirect(rw, r, Prefix+"reset/proof/"+pr.Name())
}

func (w *Web) resetProofPage(rw http.ResponseWriter, r *http.Request) {
	tenant, user, ok := w.resetSubject(r)
	pr := w.provider(r.PathValue("provider"))
	switch {
	case !ok:
		w.fail(rw, r, http.StatusUnauthorized, "err.signin_needed")
		return
	case pr == nil:
		w.fail(rw, r, http.StatusNotFound, "err.provider")
		return
	}
	p := w.newPage(rw, r, pr.Label())
	p.Data = &resetData{Provider: pr, User: user, Tenant: tenant}
	w.render(p, http.StatusOK, pr.Template())
}

// resetProof takes the provider's answer, resets the user with the proof
// (the engine refuses a proof below the policy's level, and nothing
// changes) and opens the security info page to enrol again.
func (w *Web) resetProof(rw http.ResponseWriter, r *http.Request) {
	nonce, ok := w.checkForm(rw, r)
	if !ok {
		return
	}
	tenant, user, ok := w.resetSubject(r)
	pr := w.provider(r.PathValue("provider"))
	switch {
	case !ok:
		w.fail(rw, r, http.StatusUnauthorized, "err.signin_needed")
		return
	case pr == nil:
		w.fail(rw, r, http.StatusNotFound, "err.provider")
		return
	}
	again := func(status int, key string) {
		p := w.newPage(rw, r, pr.Label())
		p.Error = p.T(key)
		p.Data = &resetData{Provider: pr, User: user, Tenant: tenant}
		w.render(p, status, pr.Template())
	}
	if r.PostForm.Get("tenant") != tenant || r.PostForm.Get("user") != user {
		again(http.StatusConflict, "err.other_account")
		return
	}
	proof, proved, err := pr.Prove(r, tenant, user)
	if err != nil {
		again(http.StatusBadRequest, "err.proof_level")
		return
	}
	if subtle.ConstantTimeCompare([]byte(proved), []byte(user)) != 1 {
		again(http.StatusForbidden, "err.proof_other_person")
		return
	}
	res, err := w.exec(r.Context(), tenant, user, "user", nonce, engine.Reset{Proof: &proof})
	if err != nil {
		e := vakt.As(err)
		if e.Code == vakt.CodeInternal {
			w.log.ErrorContext(r.Context(), "web: reset", "err", err)
		}
		again(statusOf(e.Code), errKey(e.Code))
		return
	}
	http.SetCookie(rw, w.cookie(cookieFlow, "", -1))
	w.startSession(rw, session{Kind: kindUser, Tenant: tenant, User: user, Actor: "user", Via: "proof:" + pr.Name(), Reset: true})
	if res.Duplicate {
		redirect(rw, r, Prefix+"account?n=duplicate")
		return
	}
	redirect(rw, r, Prefix+"account?n=reset")
}
