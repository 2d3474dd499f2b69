package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/internal/server"
	"github.com/vaktmfa/vakt/internal/stack"
)

// Prefix is where the pages are served.
const Prefix = "/ui/"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options are what `vakt serve` says about the pages; the zero value serves
// them with no way in but the helpdesk key (no development login, no relying
// party that may send users).
type Options struct {
	// DevLogin shows the development login (`vakt serve --dev`): anyone may
	// sign in as any user of any tenant. Never in production.
	DevLogin bool
	// RelyingParties may send users to the pages with a signed assertion.
	RelyingParties []RelyingParty
	// Proofs are the identity proof providers of the self-service reset
	// (default: the development provider when DevLogin is set, else none).
	Proofs []ProofProvider
	// SessionTTL is how long a page session lasts without a request
	// (default 30 minutes, the NIST 800-63B AAL2 idle limit).
	SessionTTL time.Duration
}

// Config is Options and what the pages need from the app.
type Config struct {
	Options
	Stack     *stack.Stack
	Access    server.Access
	Tokens    server.Tokens
	Deliverer server.Deliverer
	Pusher    server.Pusher
	// PublicURL is where browsers reach the server; https makes the cookies
	// Secure.
	PublicURL string
	// Secret is the key material the cookie and form signing keys are
	// derived from (the master key).
	Secret []byte
	Logger *slog.Logger
	// Metrics counts the page requests as the API's (by route pattern and
	// status) and the events the pages' commands append; nil: none.
	Metrics server.Metrics
	Now     func() time.Time
}

// Web is the pages.
type Web struct {
	cfg     Config
	svc     *engine.Service
	log     *slog.Logger
	mux     *http.ServeMux
	pages   map[string]*template.Template
	signKey []byte
	secure  bool
	jti     *replayCache
	static  http.Handler
}

// New checks the configuration and builds the pages.
func New(cfg Config) (*Web, error) {
	if cfg.Stack == nil || cfg.Access == nil || cfg.Tokens == nil || len(cfg.Secret) < 16 {
		return nil, vakt.Errorf(vakt.CodeInvalidArgument, "web: Stack, Access, Tokens and a Secret of 16 bytes or more are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 30 * time.Minute
	}
	if cfg.Proofs == nil && cfg.DevLogin {
		cfg.Proofs = []ProofProvider{DevProof{}}
	}
	for _, rp := range cfg.RelyingParties {
		if err := rp.validate(); err != nil {
			return nil, err
		}
		if su := rp.StepUp; su != nil && su.CookieDomain != "" {
			if h := strings.ToLower(hostOf(cfg.PublicURL)); h != su.CookieDomain && !strings.HasSuffix(h, "."+su.CookieDomain) {
				return nil, vakt.Errorf(vakt.CodeInvalidArgument, "relying party %q: step_up: the pages' host %q is not under cookie_domain %q, so browsers would refuse the cookie", rp.ID, h, su.CookieDomain)
			}
		}
	}
	mac := hmac.New(sha256.New, cfg.Secret)
	mac.Write([]byte("vakt web pages: cookies and forms v1"))
	w := &Web{
		cfg: cfg, svc: cfg.Stack.Service, log: cfg.Logger, mux: http.NewServeMux(),
		signKey: mac.Sum(nil), secure: strings.HasPrefix(cfg.PublicURL, "https://"),
		jti: newReplayCache(10000),
	}
	var err error
	if w.pages, err = parsePages(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	w.static = http.StripPrefix(Prefix+"static/", http.FileServerFS(sub))
	w.routes()
	return w, nil
}

// ServeHTTP serves the pages under Prefix. Every request is counted and
// logged like the API's: by its route pattern ("GET /ui/helpdesk/t/{t}/users/{u}",
// never the path, which holds user ids), method, status and time; never a
// query, a form, a cookie or a header, so no code, token or key.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	server.Observe(w.log, w.cfg.Metrics, rw, r, func(sw *server.StatusWriter, r *http.Request) { w.serve(sw, r) })
}

func (w *Web) serve(rw http.ResponseWriter, r *http.Request) {
	h := rw.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", csp(""))
	defer func() {
		if p := recover(); p != nil {
			w.log.ErrorContext(r.Context(), "web: panic", "route", server.RouteOf(r), "panic", p, "stack", string(debug.Stack()))
			http.Error(rw, "internal error", http.StatusInternalServerError)
		}
	}()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(rw, r.Body, maxForm)
	}
	w.mux.ServeHTTP(rw, r)
}

// csp is the pages' content security policy: nothing from anywhere but this
// server (images may be data: URLs, the QR codes), forms posted here or to
// formTarget (the relying party a sign-in returns to).
func csp(formTarget string) string {
	fa := "'self'"
	if formTarget != "" {
		fa += " " + formTarget
	}
	return "default-src 'none'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; form-action " + fa + "; frame-ancestors 'none'; base-uri 'none'"
}

// maxForm bounds a form body; every form here is far smaller.
const maxForm = 16 << 10

func (w *Web) routes() {
	m := w.mux
	m.Handle("GET "+Prefix+"static/", w.static)
	m.HandleFunc("GET "+Prefix+"{$}", w.home)
	m.HandleFunc("GET "+Prefix+"lang/{lang}", w.setLang)
	m.HandleFunc("GET "+Prefix+"enter", w.enter)
	m.HandleFunc("POST "+Prefix+"logout", w.logout)
	// Development login.
	m.HandleFunc("GET "+Prefix+"dev", w.devPage)
	m.HandleFunc("POST "+Prefix+"dev", w.devLogin)
	m.HandleFunc(Prefix+"dev/done", w.devDone)
	// Security info.
	m.HandleFunc("GET "+Prefix+"account", w.account)
	m.HandleFunc("POST "+Prefix+"account/add", w.accountAdd)
	m.HandleFunc("POST "+Prefix+"account/confirm", w.accountConfirm)
	m.HandleFunc("POST "+Prefix+"account/default", w.accountDefault)
	m.HandleFunc("POST "+Prefix+"account/remove", w.accountRemove)
	m.HandleFunc("POST "+Prefix+"account/recovery-codes", w.accountRecovery)
	m.HandleFunc("POST "+Prefix+"account/forget", w.accountForget)
	m.HandleFunc("GET "+Prefix+"account/enrolment/{id}", w.enrolmentCheck)
	m.HandleFunc("GET "+Prefix+"account/enrolment/{id}/status", w.enrolmentStatus)
	// Sign-in step.
	m.HandleFunc("GET "+Prefix+"signin", w.signin)
	m.HandleFunc("POST "+Prefix+"signin/method", w.signinMethod)
	m.HandleFunc("POST "+Prefix+"signin/verify", w.signinVerify)
	m.HandleFunc("GET "+Prefix+"signin/status", w.signinStatus)
	m.HandleFunc("GET "+Prefix+"signin/help", w.signinHelp)
	m.HandleFunc("GET "+Prefix+"signin/done", w.signinDone)
	// Step-up for the edge guard.
	m.HandleFunc("GET "+Prefix+"step-up", w.stepUpPage)
	m.HandleFunc("POST "+Prefix+"step-up", w.stepUpStart)
	// Reset.
	m.HandleFunc("GET "+Prefix+"reset", w.resetPage)
	m.HandleFunc("POST "+Prefix+"reset/start", w.resetStart)
	m.HandleFunc("GET "+Prefix+"reset/proof/{provider}", w.resetProofPage)
	m.HandleFunc("POST "+Prefix+"reset/proof/{provider}", w.resetProof)
	// Helpdesk and dashboard.
	m.HandleFunc("GET "+Prefix+"helpdesk/login", w.staffLoginPage)
	m.HandleFunc("POST "+Prefix+"helpdesk/login", w.staffLogin)
	m.HandleFunc("GET "+Prefix+"helpdesk", w.helpdeskHome)
	m.HandleFunc("GET "+Prefix+"helpdesk/tenant", w.tenantPicker)
	m.HandleFunc("POST "+Prefix+"helpdesk/tenant", w.pickTenant)
	m.HandleFunc("GET "+Prefix+"helpdesk/t/{t}/users/{u}", w.helpdeskUser)
	m.HandleFunc("POST "+Prefix+"helpdesk/t/{t}/users/{u}/{action}", w.helpdeskAction)
	m.HandleFunc("GET "+Prefix+"admin", w.dashboard)
	m.HandleFunc(Prefix, func(rw http.ResponseWriter, r *http.Request) {
		w.fail(rw, r, http.StatusNotFound, "err.no_page")
	})
}

// ---- rendering ----------------------------------------------------------------

func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// page is what every template sees.
type page struct {
	w    *Web
	r    *http.Request
	rw   http.ResponseWriter
	bid  string
	Lang string
	// Title is a catalogue key.
	Title  string
	Sess   *session
	Notice string // translated
	Error  string // translated
	Data   any
	// FormTarget widens form-action for a page that posts to a relying party.
	FormTarget string
}

// T translates key into the page's language.
func (p *page) T(key string, args ...any) string { return translate(p.Lang, key, args...) }

// Other is the language the switch offers.
func (p *page) Other() string {
	if p.Lang == LangNB {
		return LangEN
	}
	return LangNB
}

// LangLink is the switch's address: back to this page in the other language.
func (p *page) LangLink() string {
	back := p.r.URL.Path
	if p.r.Method == http.MethodGet && p.r.URL.RawQuery != "" && len(p.r.URL.RawQuery) < 512 {
		back += "?" + p.r.URL.RawQuery
	}
	if p.r.Method != http.MethodGet {
		back = p.r.URL.Path
		if i := strings.Index(back[len(Prefix):], "/"); i >= 0 {
			back = back[:len(Prefix)+i]
		}
	}
	return Prefix + "lang/" + p.Other() + "?back=" + urlQueryEscape(back)
}

// Form is the hidden fields of one form: a fresh signed token, which is
// also the idempotency key of what the form does.
func (p *page) Form() template.HTML {
	tok := p.w.newFormToken(p.bid)
	return template.HTML(`<input type="hidden" name="csrf" value="` + template.HTMLEscapeString(tok) + `">`)
}

// Dev reports whether the development login is on (the banner).
func (p *page) Dev() bool { return p.w.cfg.DevLogin }

func (w *Web) newPage(rw http.ResponseWriter, r *http.Request, title string) *page {
	p := &page{w: w, r: r, rw: rw, Lang: langOf(r), Title: title}
	p.bid = w.browserID(rw, r)
	p.Sess = w.sessionOf(r)
	return p
}

func (w *Web) render(p *page, status int, name string) {
	t, ok := w.pages[name]
	if !ok {
		panic("web: no template " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		w.log.ErrorContext(p.r.Context(), "web: render", "page", name, "err", err)
		http.Error(p.rw, "internal error", http.StatusInternalServerError)
		return
	}
	h := p.rw.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", p.Lang)
	if p.FormTarget != "" {
		h.Set("Content-Security-Policy", csp(p.FormTarget))
	}
	p.rw.WriteHeader(status)
	io.Copy(p.rw, &buf)
}

// fail shows a page with only a message.
func (w *Web) fail(rw http.ResponseWriter, r *http.Request, status int, key string, args ...any) {
	p := w.newPage(rw, r, "title.problem")
	p.Error = p.T(key, args...)
	w.render(p, status, "message")
}

// failErr shows an engine error as a clear message. Internal errors are
// logged, never shown.
func (w *Web) failErr(rw http.ResponseWriter, r *http.Request, err error) {
	e := vakt.As(err)
	if e.Code == vakt.CodeInternal {
		w.log.ErrorContext(r.Context(), "web: internal error", "route", server.RouteOf(r), "err", err)
	}
	w.fail(rw, r, statusOf(e.Code), errKey(e.Code))
}

func redirect(rw http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(rw, r, to, http.StatusSeeOther)
}

// statusOf is the HTTP status of a page that shows an error.
func statusOf(c vakt.Code) int {
	switch c {
	case vakt.CodeInvalidArgument, vakt.CodeInvalidCode, vakt.CodeCodeReused:
		return http.StatusBadRequest
	case vakt.CodeUnauthorized, vakt.CodeInsufficientProof:
		return http.StatusForbidden
	case vakt.CodeNotFound:
		return http.StatusNotFound
	case vakt.CodeConflict, vakt.CodeEnrolmentRequired:
		return http.StatusConflict
	case vakt.CodeExpired, vakt.CodeErased:
		return http.StatusGone
	case vakt.CodeLockedOut:
		return http.StatusLocked
	case vakt.CodePushPaused:
		return http.StatusTooManyRequests
	case vakt.CodeMethodNotAllowed:
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

// errKey is the catalogue key of an error code's message.
func errKey(c vakt.Code) string {
	if c.Valid() {
		return "err." + string(c)
	}
	return "err.internal"
}

// exec runs a command for a user with the form's idempotency key.
func (w *Web) exec(ctx context.Context, tenant, user, actor, id string, cmd engine.Command) (engine.Result, error) {
	return server.Execute(ctx, w.svc, w.cfg.Metrics, engine.Request{Tenant: tenant, User: user, Command: cmd, ID: id, Actor: actor})
}

func (w *Web) home(rw http.ResponseWriter, r *http.Request) {
	s := w.sessionOf(r)
	switch {
	case s != nil && s.Kind == kindUser:
		redirect(rw, r, Prefix+"account")
	case s != nil && s.Kind == kindStaff:
		redirect(rw, r, Prefix+"helpdesk")
	default:
		p := w.newPage(rw, r, "title.home")
		w.render(p, http.StatusOK, "home")
	}
}
