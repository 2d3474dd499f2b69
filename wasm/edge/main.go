//go:build wasip1

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/vaktmfa/vakt/internal/edge"
)

// claimHeaders are the request headers the guard sets for the next handler;
// any header with this prefix that the client sent is removed first.
const claimPrefix = "x-vakt-"

// earliest is a date before which the wall clock cannot be right: wazero's
// default fake clock starts in 2022, and with it every token would look
// issued in the future.
var earliest = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

var guard *edge.Guard

func init() {
	cfg := read(getConfig)
	g, err := edge.Compile([]byte(cfg))
	if err == nil && time.Now().Before(earliest) {
		err = fmt.Errorf("the host gives the guest no real clock (it reads %s); with wazero, use ModuleConfig.WithSysWalltime()", time.Now().UTC().Format(time.RFC3339))
	}
	if err != nil {
		msg := "vakt-edge: refusing to start: " + err.Error()
		hostLog(levelError, sptr(msg), uint32(len(msg))) // whatever the host's level
		fmt.Fprintln(os.Stderr, msg)
		panic(msg)
	}
	guard = g
}

//go:wasmexport handle_request
func handleRequest() uint64 {
	req := edge.Request{
		Method: read(getMethod),
		URI:    read(getURI),
		Accept: strings.Join(headerValues("Accept"), ", "),
		Cookie: strings.Join(headerValues("Cookie"), "; "),
	}
	if a := headerValues("Authorization"); len(a) > 0 {
		req.Authorization = a[0]
	}
	stripClaimHeaders()
	d := guard.Check(req, time.Now())
	if d.Allow {
		if c := d.Claims; c != nil {
			setHeader(kindRequest, "X-Vakt-Sub", c.Subject)
			setHeader(kindRequest, "X-Vakt-Tenant", c.Tenant)
			setHeader(kindRequest, "X-Vakt-Acr", c.ACR)
			setHeader(kindRequest, "X-Vakt-Amr", strings.Join(c.AMR, " "))
			if c.AuthTime != 0 {
				setHeader(kindRequest, "X-Vakt-Auth-Time", strconv.FormatInt(c.AuthTime, 10))
			}
		}
		if logEnabled(levelDebug) != 0 {
			logf(levelDebug, describe("allowed", req, d))
		}
		return 1
	}
	respond(d)
	if logEnabled(levelInfo) != 0 {
		logf(levelInfo, describe("refused", req, d))
	}
	return 0
}

//go:wasmexport handle_response
func handleResponse(reqCtx uint32, isError uint32) {}

// stripClaimHeaders removes every X-Vakt-* request header, so that only the
// guard's reach the next handler.
func stripClaimHeaders() {
	names := readList(func(p unsafe.Pointer, l uint32) uint64 { return getHeaderNames(kindRequest, p, l) })
	for _, n := range names {
		if len(n) >= len(claimPrefix) && strings.EqualFold(n[:len(claimPrefix)], claimPrefix) {
			removeHeader(kindRequest, sptr(n), uint32(len(n)))
		}
	}
}

// respond answers a refused request itself.
func respond(d edge.Decision) {
	setHeader(kindResponse, "Cache-Control", "no-store")
	setHeader(kindResponse, "Content-Type", "text/plain; charset=utf-8")
	var body string
	switch {
	case d.Location != "":
		setHeader(kindResponse, "Location", d.Location)
		body = "Stronger or more recent authentication is needed: " + d.Location + "\n"
	case d.WWWAuthenticate != "":
		setHeader(kindResponse, "WWW-Authenticate", d.WWWAuthenticate)
		body = "Authentication needed (" + string(d.Reason) + ").\n"
	default:
		body = "Bad request (" + string(d.Reason) + ").\n"
	}
	setStatusCode(uint32(d.Status))
	writeBody(kindResponse, sptr(body), uint32(len(body)))
}

// describe is the log line of a decision: never the token, and the path
// without its query (which may hold personal data).
func describe(what string, req edge.Request, d edge.Decision) string {
	path, _, _ := strings.Cut(req.URI, "?")
	s := "vakt-edge: " + what + " reason=" + string(d.Reason) + " method=" + strconv.Quote(req.Method) + " path=" + strconv.Quote(path) + " route=" + strconv.Quote(d.Route)
	if d.Status != 0 {
		s += " status=" + strconv.Itoa(d.Status)
	}
	if d.Claims != nil {
		s += " sub=" + strconv.Quote(d.Claims.Subject) + " acr=" + d.Claims.ACR
	}
	if d.Cached {
		s += " cached=true"
	}
	return s
}
