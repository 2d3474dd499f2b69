package web

import (
	"strings"
	"testing"
	"time"
)

func TestAllowedReturn(t *testing.T) {
	rp := RelyingParty{ReturnURLs: []string{"https://app.uio.no/auth/", "https://other.uio.no/cb", "http://127.0.0.1:8000/cb"}}
	for target, want := range map[string]bool{
		"https://app.uio.no/auth/callback":                     true,
		"https://APP.uio.no/auth/x?y=1":                        true,
		"https://other.uio.no/cb":                              true,
		"http://127.0.0.1:8000/cb":                             true,
		"https://other.uio.no/cb/more":                         false, // no trailing slash: exact
		"http://app.uio.no/auth/callback":                      false, // scheme
		"https://app.uio.no.evil.example/auth/":                false,
		"https://evil.example/auth/":                           false,
		"https://user@app.uio.no/auth/":                        false,
		"https://app.uio.no/auth/../admin":                     false,
		"https://app.uio.no/auth/%2e%2e/admin":                 false, // escaped dot segments (found by FuzzAllowedReturn)
		"https://app.uio.no/auth/%2E./admin":                   false,
		"https://app.uio.no/auth/x#frag":                       false,
		"//app.uio.no/auth/":                                   false,
		"javascript:alert(1)":                                  false,
		"https://app.uio.no/auth/" + strings.Repeat("a", 3000): false,
	} {
		if got := rp.allowedReturn(target); got != want {
			t.Errorf("allowedReturn(%q) = %v, want %v", target, got, want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/ui/account":          "/ui/account",
		"/ui/signin?x=1":       "/ui/signin?x=1",
		"https://evil.example": "/ui/",
		"//evil.example/ui/":   "/ui/",
		"/ui//evil.example":    "/ui/",
		"/ui/\\evil":           "/ui/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReplayCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newReplayCache(2)
	if !c.add("a", now.Add(time.Minute), now) || c.add("a", now.Add(time.Minute), now) {
		t.Fatal("a second use was accepted")
	}
	if !c.add("b", now.Add(time.Minute), now) || c.add("c", now.Add(time.Minute), now) {
		t.Fatal("a full cache of live entries must refuse")
	}
	if !c.add("c", now.Add(3*time.Minute), now.Add(2*time.Minute)) {
		t.Fatal("expired entries are not pruned")
	}
}

func TestCatalogueComplete(t *testing.T) {
	for k, v := range catalogue {
		if v[0] == "" || v[1] == "" {
			t.Errorf("%s lacks a language", k)
		}
		if strings.Count(v[0], "%") != strings.Count(v[1], "%") {
			t.Errorf("%s: the languages take different arguments", k)
		}
	}
	if got := translate(LangEN, "no.such.key"); got != "⟦no.such.key⟧" {
		t.Errorf("a missing key renders as %q", got)
	}
}

func TestNormalizeCode(t *testing.T) {
	if got := normalizeCode(" 123 456\t"); got != "123456" {
		t.Errorf("%q", got)
	}
	if got := normalizeCode("ab12-cd34"); got != "ab12cd34" {
		t.Errorf("%q", got)
	}
}
