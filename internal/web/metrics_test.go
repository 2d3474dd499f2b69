package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	vaktapp "github.com/vaktmfa/vakt/internal/app"
	"github.com/vaktmfa/vakt/internal/apptest"
)

// TestPagesInMetricsAndLogs: page requests are counted in /metrics and
// logged like the API's, by route pattern (the user id is in no label and
// no log line's route), and the code typed, the key shown and the session
// never reach the log; the events the pages' commands append are counted.
func TestPagesInMetricsAndLogs(t *testing.T) {
	logs := &apptest.SyncBuffer{}
	e := newEnv(t, func(c *vaktapp.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	const tenant, user = "uio.no", "metrikk-ola@uio.no"
	e.devLogin(tenant, user, "account")
	e.click("#add-totp button[type=submit]")
	secret := strings.ReplaceAll(e.text("#manual-key"), " ", "")
	code := e.totp(secret)
	e.typeInto("#code", code[:3]+" "+code[3:])
	e.click("#confirm-button")
	e.check("method added (metrics)")
	if activeCount(e.user(tenant, user)) != 1 {
		t.Fatal("the method was not added")
	}
	e.visit("/ui/no-such-page")
	key := e.mustAPI(201, "POST", "/v1/keys", e.admin, map[string]any{"scope": "helpdesk", "tenant": tenant}).str("key")
	e.visit("/ui/helpdesk/login")
	e.typeInto("#key", key)
	e.click("#staff-submit")
	e.visit("/ui/helpdesk/t/uio.no/users/" + user)
	e.check("helpdesk user (metrics)")

	resp, err := http.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metrics := string(b)
	for _, want := range []string{
		`vakt_http_requests_total{route="POST /ui/dev",code="303"}`,
		`vakt_http_requests_total{route="GET /ui/account",code="200"}`,
		`vakt_http_requests_total{route="POST /ui/account/confirm",code="303"}`,
		`vakt_http_requests_total{route="GET /ui/helpdesk/t/{t}/users/{u}",code="200"}`,
		`vakt_http_requests_total{route="/ui/",code="404"}`,
		`vakt_http_request_duration_seconds_count{route="GET /ui/account"}`,
		`vakt_events_appended_total{type="authenticator.activated"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if strings.Contains(metrics, "metrikk-ola") {
		t.Errorf("a user id is in a metric label")
	}

	// The log: a line per page request, by route; no code, key or id.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), `route="GET /ui/helpdesk/t/{t}/users/{u}"`) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	out := logs.String()
	for _, want := range []string{`msg=request method=POST route="POST /ui/account/confirm" status=303`, `route="GET /ui/helpdesk/t/{t}/users/{u}" status=200`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log has no %s", want)
		}
	}
	for what, secretText := range map[string]string{"the code": code, "the code as typed": code[:3] + " " + code[3:], "the TOTP key": secret,
		"the helpdesk key": key, "the admin key": e.admin} {
		if strings.Contains(out, secretText) {
			t.Errorf("%s is in the log", what)
		}
	}
	if regexp.MustCompile(`route="[^"]*metrikk-ola`).MatchString(out) {
		t.Errorf("a user id is in a logged route")
	}
}
