package delivery_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/internal/delivery"
)

const (
	testCode  = "493817"
	testPhone = "+4791234567"
	testEmail = "ola.nordmann@example.no"
)

func smsMessage() delivery.Message {
	return delivery.Message{
		Tenant: "acme", User: "ola", Method: "sms", Purpose: "challenge",
		Address: testPhone, Code: testCode,
		ChallengeID: "0194f3a0-0000-7000-8000-000000000001", AuthenticatorID: "0194f3a0-0000-7000-8000-000000000002",
	}
}

func emailMessage() delivery.Message {
	m := smsMessage()
	m.Method, m.Purpose, m.Address, m.ChallengeID = "email", "enrolment", testEmail, ""
	return m
}

func TestMask(t *testing.T) {
	for _, c := range []struct{ method, address, want string }{
		{"sms", "+4791234567", "+47*****567"},
		{"sms", "+47 912 34 567", "+47*****567"},
		{"sms", "+14155550123", "+1*******123"},
		{"sms", "+358401234567", "+358******567"},
		{"sms", "+4412345", "+44***"},   // too short to show the end
		{"sms", "91234567", "*****567"}, // no country code
		{"sms", "call me maybe", "***"}, // not a number
		{"sms", "", "***"},
		{"email", "ola.nordmann@example.no", "o***@example.no"},
		{"email", "Ørjan@eksempel.no", "Ø***@eksempel.no"},
		{"email", "\"a@b\"@example.com", "\"***@example.com"},
		{"email", "no-at-sign", "***"},
		{"email", "@example.com", "***"},
		{"email", "ola@", "***"},
		{"fax", "+4791234567", "***"},
	} {
		if got := delivery.Mask(c.method, engine.Secret(c.address)); got != c.want {
			t.Errorf("Mask(%q, %q) = %q, want %q", c.method, c.address, got, c.want)
		}
	}
}

func TestMessageLogValue(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	m := smsMessage()
	logger.Info("x", "delivery", m)
	fmt.Fprintf(&buf, "%v %+v %#v %s", m, m, m, m)
	out := buf.String()
	for _, secret := range []string{testCode, testPhone, "91234567"} {
		if strings.Contains(out, secret) {
			t.Errorf("%q leaked: %s", secret, out)
		}
	}
	if !strings.Contains(out, `"address":"+47*****567"`) {
		t.Errorf("no masked address in %s", out)
	}
}

func TestLogDeliverer(t *testing.T) {
	for _, dev := range []bool{false, true} {
		for _, m := range []delivery.Message{smsMessage(), emailMessage()} {
			t.Run(fmt.Sprintf("%s/development=%v", m.Method, dev), func(t *testing.T) {
				for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
					"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
					"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
				} {
					var buf bytes.Buffer
					d := delivery.LogDeliverer{Logger: slog.New(h(&buf)), Development: dev}
					if err := d.Deliver(t.Context(), m); err != nil {
						t.Fatal(err)
					}
					out := buf.String()
					if n := strings.Count(out, "\n"); n != 1 {
						t.Errorf("%s: %d lines, want 1: %s", name, n, out)
					}
					if got := strings.Contains(out, testCode); got != dev {
						t.Errorf("%s: code in the log = %v, want %v: %s", name, got, dev, out)
					}
					if strings.Contains(out, m.Address.Reveal()) || strings.Contains(out, "91234567") || strings.Contains(out, "nordmann") {
						t.Errorf("%s: address in the log: %s", name, out)
					}
					for _, want := range []string{m.Method, m.Purpose, "acme", delivery.Mask(m.Method, m.Address)} {
						if !strings.Contains(out, want) {
							t.Errorf("%s: %q missing from %s", name, want, out)
						}
					}
					if !dev && !strings.Contains(out, "******") {
						t.Errorf("%s: no masked code in %s", name, out)
					}
				}
			})
		}
	}
}

func TestLogDelivererDefaultLogger(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	t.Cleanup(func() { slog.SetDefault(old) })
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	if err := (delivery.LogDeliverer{}).Deliver(t.Context(), smsMessage()); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "level=WARN") || strings.Contains(out, testCode) {
		t.Errorf("production log line: %s", out)
	}
}

func TestInvalidMessage(t *testing.T) {
	bad := []func(*delivery.Message){
		func(m *delivery.Message) { m.Method = "fax" },
		func(m *delivery.Message) { m.Purpose = "marketing" },
		func(m *delivery.Message) { m.Tenant = "" },
		func(m *delivery.Message) { m.Address = "" },
		func(m *delivery.Message) { m.Code = "" },
	}
	q := delivery.NewQueue(delivery.LogDeliverer{}, 1, 1, nil)
	defer q.Close(context.Background())
	for i, f := range bad {
		m := smsMessage()
		f(&m)
		for name, d := range map[string]delivery.Deliverer{
			"log":     delivery.LogDeliverer{},
			"webhook": &delivery.Webhook{URL: "http://127.0.0.1:1/", Secret: []byte("k")},
			"queue":   q,
		} {
			err := d.Deliver(t.Context(), m)
			if vakt.CodeOf(err) != vakt.CodeInvalidArgument {
				t.Errorf("%d %s: err = %v, want invalid_argument", i, name, err)
			}
			if err != nil && strings.Contains(err.Error(), testCode) {
				t.Errorf("%d %s: code in %v", i, name, err)
			}
		}
	}
}

func TestFromDelivery(t *testing.T) {
	d := engine.Delivery{Method: "sms", Address: testPhone, Code: testCode, Purpose: "challenge"}
	m := delivery.FromDelivery("acme", "ola", d, "c1", "a1")
	want := delivery.Message{Tenant: "acme", User: "ola", Method: "sms", Purpose: "challenge",
		Address: testPhone, Code: testCode, ChallengeID: "c1", AuthenticatorID: "a1"}
	if m != want {
		t.Errorf("FromDelivery = %#v", m)
	}
}
