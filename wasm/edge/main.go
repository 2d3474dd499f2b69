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

// scratch holds header values the guest writes for the host to copy.
var scratch = make([]byte, 0, 256)

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
		Method:        read(getMethod),
		URI:           read(getURI),
		Accept:        headerValue("Accept", ", "),
		Cookie:        headerValue("Cookie", "; "),
		Authorization: firstHeaderValue("Authorization"),
	}
	stripClaimHeaders()
	d := guard.Check(req, time.Now())
	if d.Allow {
		if c := d.Claims; c != nil {
			setHeader(kindRequest, "X-Vakt-Sub", c.Subject)
			setHeader(kindRequest, "X-Vakt-Tenant", c.Tenant)
			setHeader(kindRequest, "X-Vakt-Acr", c.ACR)
			// The joined amr and the auth time are written into scratch,
			// which the host copies: no allocation per request.
			scratch = scratch[:0]
			for i, m := range c.AMR {
				if i > 0 {
					scratch = append(scratch, ' ')
				}
				scratch = append(scratch, m...)
			}
			setHeaderBytes(kindRequest, "X-Vakt-Amr", scratch)
			if c.AuthTime != 0 {
				scratch = strconv.AppendInt(scratch[:0], c.AuthTime, 10)
				setHeaderBytes(kindRequest, "X-Vakt-Auth-Time", scratch)
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
// guard's reach the next handler. The names are compared where the host
// wrote them (remove_header writes nothing into buf).
func stripClaimHeaders() {
	rest := readList(func(p unsafe.Pointer, l uint32) uint64 { return getHeaderNames(kindRequest, p, l) })
	for len(rest) > 0 {
		var n []byte
		n, rest = next(rest)
		if claimHeader(n) {
			removeHeader(kindRequest, ptr(n), uint32(len(n)))
		}
	}
}

// claimHeader reports whether a header name starts with claimPrefix, in
// any case.
func claimHeader(n []byte) bool {
	if len(n) < len(claimPrefix) {
		return false
	}
	for i := range len(claimPrefix) {
		c := n[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != claimPrefix[i] {
			return false
		}
	}
	return true
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
