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
	// Unknown, malformed or repeated members make FieldsNull fail; then
	// Strict decides. A null is what encoding/json makes of it: the raw
	// members hold the bytes null, every other member stays unset.
	ok := rd.FieldsNull(func(key []byte) bool {
		if rd.Null() {
			switch string(key) {
			case "policy":
				r.Policy = null
			case "command":
				r.Command = null
			case "state":
				r.State = null
			case "config":
				r.Config = null
			case "op", "tenant", "user", "data_key", "given", "time", "entropy", "keep", "after", "model", "events", "n", "request":
			default:
				return false
			}
			return true
		}
		var ok bool
		switch string(key) {
		case "op":
			r.Op, ok = rd.String()
		case "tenant":
			ok = str(&r.Tenant)
		case "user":
			ok = str(&r.User)
		case "policy":
			r.Policy, ok = rd.Raw()
		case "data_key":
			ok = str(&r.DataKey)
		case "given":
			ok = raws(&r.Given)
		case "time":
			ok = str(&r.Time)
		case "entropy":
			ok = str(&r.Entropy)
		case "command":
			r.Command, ok = rd.Raw()
		case "keep":
			r.Keep, ok = rd.Bool()
		case "after":
			ok = parseHead(&rd, r)
		case "state":
			r.State, ok = rd.Raw()
		case "model":
			r.Model, ok = rd.String()
		case "events":
			ok = raws(&r.Events)
		case "n":
			r.N, ok = rd.Int()
		case "config":
			r.Config, ok = rd.Raw()
		case "request":
			ok = parseEdgeRequest(&rd, r)
		}
		return ok
	})
	return ok && rd.End()
}

// null is what a null raw member holds (encoding/json hands a RawMessage
// the literal).
var null = jsonx.RawMessage("null")

// parseHead reads {"seq": n, "hash": "<64 hex>"} (position and command too).
func parseHead(rd *jsonx.Reader, r *Request) bool {
	r.After = new(events.Head)
	return rd.Fields(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "seq":
			r.After.Seq, ok = rd.Uint()
		case "position":
			r.After.Position, ok = rd.Uint()
		case "hash":
			var s string
			if s, ok = rd.String(); ok {
				ok = len(s) == 64 && hexInto(r.After.Hash[:], s)
			}
		case "command":
			r.After.Command, ok = rd.String()
		}
		return ok
	})
}

func hexInto(dst []byte, s string) bool {
	n, err := hex.Decode(dst, []byte(s))
	return err == nil && n == len(dst)
}

// parseEdgeRequest reads the edge_check request object.
func parseEdgeRequest(rd *jsonx.Reader, r *Request) bool {
	r.EdgeRequest = &edge.Request{}
	e := r.EdgeRequest
	return rd.Fields(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "method":
			e.Method, ok = rd.String()
		case "uri":
			e.URI, ok = rd.String()
		case "authorization":
			e.Authorization, ok = rd.String()
		case "cookie":
			e.Cookie, ok = rd.String()
		case "accept":
			e.Accept, ok = rd.String()
		}
		return ok
	})
}
