package web_test

import (
	"crypto/ed25519"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vaktmfa/vakt/engine"
)

// respond answers the pending push of a challenge as the device does: approve
// (with the number), deny or fraud (number 0).
func (e *env) respond(d device, tenant, user, apiChallenge, decision string, number int) reply {
	e.t.Helper()
	id, _, _ := strings.Cut(apiChallenge, "~")
	sig := ed25519.Sign(d.key, engine.PushMessage(tenant, user, id, d.id, decision, number, false))
	return e.mustAPI(200, "POST", "/v1/tenants/"+tenant+"/challenges/"+apiChallenge+"/respond", "", map[string]any{
		"authenticator_id": d.id, "decision": decision, "number": number, "signature": sig})
}

// enrolPush enrols a push authenticator through the API and activates it
// as the device does.
func (e *env) enrolPush(tenant, user string) device {
	e.t.Helper()
	r := e.mustAPI(201, "POST", userPath(tenant, user)+"/authenticators", e.admin, map[string]any{"method": "push", "label": "Telefon"})
	return e.activate(r.str("activation_url"))
}

// bar is one segment of a dashboard chart, as the page draws it.
type bar struct {
	Day    string `json:"day"`
	Series string `json:"series"`
	Value  int    `json:"value"`
}

// bars reads the drawn segments of one chart.
func (e *env) bars(chart string) []bar {
	e.t.Helper()
	out, err := chromedp.Run(e.ctx, chromedp.Evaluate[[]bar](fmt.Sprintf(`[...document.querySelectorAll("#chart-%s svg rect[data-series]")].map(r => ({
		day: r.dataset.day, series: r.dataset.series, value: parseInt(r.dataset.value, 10)}))`, chart)))
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestDashboardChart makes challenges end every way they can (success, a
// push denied, a push reported as fraud, expiry after the clock moves on, a
// lockout after wrong codes) and enrolments of two methods, then reads the
// bars the dashboard draws: each series must add up to what happened, on
// the days the table gives.
func TestDashboardChart(t *testing.T) {
	e := newEnv(t)
	const tenant = "hiof.no"
	// Succeeded: a TOTP code.
	_, secretA := e.enrolTOTP(tenant, "anne", "Telefon")
	ch := e.mustAPI(201, "POST", userPath(tenant, "anne")+"/challenges", e.admin, map[string]any{"app": "web"}).str("challenge_id")
	e.clock.Advance(30 * time.Second) // the code of enrolment is spent
	e.mustAPI(200, "POST", "/v1/tenants/"+tenant+"/challenges/"+ch+"/verify", e.admin, map[string]any{"code": e.totp(secretA)})
	// Denied and fraud: two pushes to the same phone.
	dev := e.enrolPush(tenant, "bjorn")
	for _, decision := range []string{engine.DecisionDeny, engine.DecisionFraud} {
		r := e.mustAPI(201, "POST", userPath(tenant, "bjorn")+"/challenges", e.admin, map[string]any{"app": "web", "method": "push"})
		if r.m["number_match"] == nil {
			t.Fatalf("no push was sent: %s", r.body)
		}
		if got := e.respond(dev, tenant, "bjorn", r.str("challenge_id"), decision, 0).str("status"); got == "" {
			t.Fatalf("%s: no status", decision)
		}
	}
	// Locked out: five wrong codes.
	e.enrolTOTP(tenant, "dina", "Telefon")
	for i := 0; i < 5; i++ {
		ch := e.mustAPI(201, "POST", userPath(tenant, "dina")+"/challenges", e.admin, map[string]any{"app": "web"}).str("challenge_id")
		e.api("POST", "/v1/tenants/"+tenant+"/challenges/"+ch+"/verify", e.admin, map[string]any{"code": "000000"})
	}
	if !e.user(tenant, "dina").Lock.Active(e.clock.Now()) {
		t.Fatal("dina is not locked out")
	}
	// Expired: a challenge left alone past its five minutes ends when the
	// next command for the user runs.
	e.enrolTOTP(tenant, "carl", "Telefon")
	e.mustAPI(201, "POST", userPath(tenant, "carl")+"/challenges", e.admin, map[string]any{"app": "web"})
	e.clock.Advance(6 * time.Minute)
	e.mustAPI(201, "POST", userPath(tenant, "carl")+"/challenges", e.admin, map[string]any{"app": "web"})

	// The tenant admin's view.
	key := e.mustAPI(201, "POST", "/v1/keys", e.admin, map[string]any{"scope": "tenant_admin", "tenant": tenant}).str("key")
	e.visit("/ui/helpdesk/login")
	e.typeInto("#key", key)
	e.click("#staff-submit")
	// The statistics follow the event stream: reload until they have
	// caught up with the last event (no fixed sleep).
	want := map[string]string{"#t-succeeded": "1", "#t-lockouts": "1", "#t-fraud": "1", "#t-users": "4", "#t-enrolled": "4"}
	deadline := time.Now().Add(15 * time.Second)
	for {
		e.visit("/ui/admin")
		caught := true
		for sel, v := range want {
			caught = caught && e.text(sel) == v
		}
		// The expired challenge is the last event.
		if caught && sum(e.bars("outcomes"), "expired") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard never showed the figures: %s", e.bodyText(e.ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.check("dashboard with figures")

	for chart, series := range map[string]map[string]int{
		"enrolments": {"totp": 3, "push": 1},
		"outcomes":   {"succeeded": 1, "denied": 1, "fraud_reported": 1, "expired": 1},
		"lockouts":   {"lockouts": 1},
		"fraud":      {"fraud_reports": 1},
	} {
		bs := e.bars(chart)
		for s, n := range series {
			if got := sum(bs, s); got != n {
				t.Errorf("chart %s, series %s: bars add up to %d, want %d (%+v)", chart, s, got, n, bs)
			}
		}
		for _, b := range bs {
			if _, ok := series[b.Series]; !ok || b.Value <= 0 {
				t.Errorf("chart %s: a bar that should not be there: %+v", chart, b)
			}
			// The bar's day is a row of the table with the same figure.
			row := e.tableRow(b.Day)
			if row == nil {
				t.Errorf("chart %s: bar on %s, a day the table does not list", chart, b.Day)
			}
		}
	}
	// The table's figures for the day of the success.
	day := e.bars("outcomes")[0].Day
	row := e.tableRow(day)
	heads := e.tableHeads()
	if len(row) != len(heads) {
		t.Fatalf("table row %v under heads %v", row, heads)
	}
	if v := row[indexOf(heads, "Vellykket")]; v != "1" {
		t.Errorf("the table says %s succeeded on %s", v, day)
	}

	e.click("#lang-switch")
	e.checkLang("dashboard with figures (en)", "en")
	if got := e.text("#chart-outcomes figcaption"); got != "Sign-ins per day by outcome" {
		t.Errorf("caption %q", got)
	}
}

func sum(bs []bar, series string) int {
	n := 0
	for _, b := range bs {
		if b.Series == series {
			n += b.Value
		}
	}
	return n
}

func indexOf(l []string, s string) int {
	for i, x := range l {
		if x == s {
			return i
		}
	}
	return -1
}

// tableRow is the cells of the figures table's row for day (nil if none).
func (e *env) tableRow(day string) []string {
	e.t.Helper()
	out, err := chromedp.Run(e.ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`(() => {
		for (const tr of document.querySelectorAll("#daily tbody tr")) {
			const cells = [...tr.children].map(c => c.textContent.trim());
			if (cells[0] === %s) return cells;
		}
		return null;
	})()`, strconv.Quote(day))))
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) tableHeads() []string {
	e.t.Helper()
	out, err := chromedp.Run(e.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#daily thead th")].map(c => c.textContent.trim())`))
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}
