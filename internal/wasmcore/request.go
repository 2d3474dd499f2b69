package wasmcore

import (
	"encoding/hex"

	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/edge"
	"github.com/vaktmfa/vakt/internal/jsonx"
)

// decodeRequest reads an ABI request. The common form (exact keys, strings
// without escapes, no nulls) is read without reflection; anything else, and
// every malformed request, goes through jsonx.Strict, so the result and the
// error message are always those of encoding/json. The raw fields (policy,
// command, given, ...) point into req; every use of them copies or decodes.
func decodeRequest(req []byte, r *Request) error {
	if parseRequest(req, r) {
		return nil
	}
	*r = Request{}
	return jsonx.Strict(req, r)
}

// parseRequest is the fast path of decodeRequest; false means "use Strict".
func parseRequest(b []byte, r *Request) bool {
	rd := jsonx.Reader{B: b}
	var seen uint32
	str := func(p **string) bool {
		s, ok := rd.String()
		*p = &s
		return ok
	}
	raws := func(p *[]jsonx.RawMessage) bool {
		*p = []jsonx.RawMessage{}
		return rd.Elements(func() bool {
			v, ok := rd.Raw()
			*p = append(*p, v)
			return ok
		})
	}
	ok := rd.Members(func(key []byte) bool {
		bit := uint32(0)
		var ok bool
		if rd.Peek() == 'n' {
			return false // null: encoding/json's rules for it differ by type
		}
		switch string(key) {
		case "op":
			bit = 1 << 0
			r.Op, ok = rd.String()
		case "tenant":
			bit = 1 << 1
			ok = str(&r.Tenant)
		case "user":
			bit = 1 << 2
			ok = str(&r.User)
		case "policy":
			bit = 1 << 3
			r.Policy, ok = rd.Raw()
		case "data_key":
			bit = 1 << 4
			ok = str(&r.DataKey)
		case "given":
			bit = 1 << 5
			ok = raws(&r.Given)
		case "time":
			bit = 1 << 6
			ok = str(&r.Time)
		case "entropy":
			bit = 1 << 7
			ok = str(&r.Entropy)
		case "command":
			bit = 1 << 8
			r.Command, ok = rd.Raw()
		case "keep":
			bit = 1 << 9
			r.Keep, ok = rd.Bool()
		case "after":
			bit = 1 << 10
			ok = parseHead(&rd, r)
		case "state":
			bit = 1 << 11
			r.State, ok = rd.Raw()
		case "model":
			bit = 1 << 12
			r.Model, ok = rd.String()
		case "events":
			bit = 1 << 13
			ok = raws(&r.Events)
		case "n":
			bit = 1 << 14
			r.N, ok = rd.Int()
		case "config":
			bit = 1 << 15
			r.Config, ok = rd.Raw()
		case "request":
			bit = 1 << 16
			ok = parseEdgeRequest(&rd, r)
		}
		if !ok || seen&bit != 0 { // unknown, malformed or repeated: Strict decides
			return false
		}
		seen |= bit
		return true
	})
	return ok && rd.End()
}

// parseHead reads {"seq": n, "hash": "<64 hex>"} (position and command too).
func parseHead(rd *jsonx.Reader, r *Request) bool {
	var h = new(struct{ seq, pos, hash, cmd bool })
	r.After = new(events.Head)
	return rd.Members(func(key []byte) bool {
		var ok bool
		var dup bool
		switch string(key) {
		case "seq":
			dup, h.seq = h.seq, true
			r.After.Seq, ok = rd.Uint()
		case "position":
			dup, h.pos = h.pos, true
			r.After.Position, ok = rd.Uint()
		case "hash":
			dup, h.hash = h.hash, true
			var s string
			if s, ok = rd.String(); ok {
				ok = len(s) == 64 && hexInto(r.After.Hash[:], s)
			}
		case "command":
			dup, h.cmd = h.cmd, true
			r.After.Command, ok = rd.String()
		}
		return ok && !dup
	})
}

func hexInto(dst []byte, s string) bool {
	n, err := hex.Decode(dst, []byte(s))
	return err == nil && n == len(dst)
}

// parseEdgeRequest reads the edge_check request object.
func parseEdgeRequest(rd *jsonx.Reader, r *Request) bool {
	r.EdgeRequest = &edge.Request{}
	var seen uint8
	return rd.Members(func(key []byte) bool {
		var ok bool
		var bit uint8
		e := r.EdgeRequest
		switch string(key) {
		case "method":
			bit = 1
			e.Method, ok = rd.String()
		case "uri":
			bit = 2
			e.URI, ok = rd.String()
		case "authorization":
			bit = 4
			e.Authorization, ok = rd.String()
		case "cookie":
			bit = 8
			e.Cookie, ok = rd.String()
		case "accept":
			bit = 16
			e.Accept, ok = rd.String()
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}
