package wazerohost

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/internal/jsonx"
)

// The Host is an engine.Decider: `vakt serve --engine=wasm` sets it as the
// service's Decider, so that every decision runs in the module.
var (
	_ engine.Decider        = (*Host)(nil)
	_ engine.AppendObserver = (*Host)(nil)
)

// codeStateUnknown is the ABI's own code: the instance does not hold the
// state a request referred to.
const codeStateUnknown vakt.Code = "state_unknown"

// Decide decides cmd for u in the module, exactly as engine.Decide does.
//
// The module keeps users' states between calls (wasm/ABI.md, the state
// cache): when the chosen instance already holds u's stream at u's head,
// only the command crosses the boundary; when it holds an older head and the
// events since are known from Appended, only those events cross; otherwise
// the whole state does, once. The entropy of the decision is a 32-byte seed
// read from env.Rand (the module expands it with engine.SeededRand).
func (h *Host) Decide(ctx context.Context, u *engine.User, cmd engine.Command, env engine.Env) (engine.Decision, error) {
	return h.decide(ctx, u.Tenant, u.ID, u, nil, cmd, env)
}

// DecideTenant decides a tenant command (set_policy) in the module, exactly
// as engine.DecideTenant does. The tenant's state is sent whole each time
// (policy changes are rare).
func (h *Host) DecideTenant(ctx context.Context, t *engine.Tenant, cmd engine.Command, env engine.Env) (engine.Decision, error) {
	return h.decide(ctx, t.ID, "", nil, t, cmd, env)
}

func (h *Host) decide(ctx context.Context, tenant, user string, u *engine.User, t *engine.Tenant, cmd engine.Command, env engine.Env) (engine.Decision, error) {
	if cmd == nil {
		return engine.Decision{}, vakt.Errorf(vakt.CodeInvalidArgument, "no command")
	}
	if env.Rand == nil {
		return engine.Decision{}, vakt.Errorf(vakt.CodeInternal, "no entropy source in the environment")
	}
	command, err := engine.EncodeCommand(cmd)
	if err != nil {
		return engine.Decision{}, err
	}
	var seed [32]byte
	if _, err := io.ReadFull(env.Rand, seed[:]); err != nil {
		return engine.Decision{}, vakt.Errorf(vakt.CodeInternal, "read entropy: %w", err)
	}
	var common []byte
	common = append(common, `,"time":`...)
	common = strconv.AppendQuote(common, env.Now.UTC().Format(time.RFC3339Nano))
	common = append(common, `,"entropy":"`...)
	common = hex.AppendEncode(common, seed[:])
	common = append(common, '"')
	if env.Policy != nil {
		p, err := jsonx.Marshal(env.Policy)
		if err != nil {
			return engine.Decision{}, vakt.Errorf(vakt.CodeInternal, "encode policy: %w", err)
		}
		common = append(common, `,"policy":`...)
		common = append(common, p...)
	}
	if env.DataKey != nil {
		k := env.DataKey.Bytes()
		common = append(common, `,"data_key":"`...)
		common = hex.AppendEncode(common, k)
		common = append(common, '"')
		clear(k)
	}
	common = append(common, `,"command":`...)
	common = append(common, command...)

	in, err := h.acquire(ctx)
	if err != nil {
		return engine.Decision{}, err
	}
	stream := events.Stream{Tenant: tenant, User: user}
	answer, err := h.exec(ctx, in, func(ctx context.Context) ([]byte, error) {
		return h.decideOn(ctx, in, stream, u, t, common)
	}, func(err error) bool {
		// The module's own errors (data) leave the instance as it was.
		return !errors.Is(err, ErrTrapped) && !errors.Is(err, ErrBadAnswer) && ctx.Err() == nil && !errors.Is(err, ErrClosed)
	})
	if err != nil {
		return engine.Decision{}, err
	}
	return decodeThen(answer)
}

// decideOn sends the decide request in the cheapest form the instance can
// take, falling back to the whole state when it does not hold the stream.
func (h *Host) decideOn(ctx context.Context, in *instance, stream events.Stream, u *engine.User, t *engine.Tenant, common []byte) ([]byte, error) {
	base := []byte(`{"op":"decide","tenant":`)
	base = strconv.AppendQuote(base, stream.Tenant) // ids are valid UTF-8 without control characters
	base = append(base, `,"user":`...)
	base = strconv.AppendQuote(base, stream.User)
	if u != nil {
		if held, ok := in.held[stream]; ok {
			req := append([]byte(nil), base...)
			if given, ok := h.since(stream, held, u.Head); ok {
				req = append(req, `,"keep":true,"after":{"seq":`...)
				req = strconv.AppendUint(req, held.Seq, 10)
				req = append(req, `,"hash":"`...)
				req = hex.AppendEncode(req, held.Hash[:])
				req = append(req, `"},"given":[`...)
				for i, raw := range given {
					if i > 0 {
						req = append(req, ',')
					}
					req = append(req, raw...)
				}
				req = append(req, ']')
				req = append(req, common...)
				req = append(req, '}')
				answer, err := h.callOK(ctx, in, req)
				if vakt.CodeOf(err) != codeStateUnknown {
					if err == nil {
						in.hold(stream, u.Head)
					}
					return answer, err
				}
			}
			delete(in.held, stream)
		}
	}
	var state []byte
	var err error
	if u != nil {
		state, err = jsonx.Marshal(u)
	} else {
		state, err = jsonx.Marshal(t)
	}
	if err != nil {
		return nil, vakt.Errorf(vakt.CodeInternal, "encode state: %w", err)
	}
	req := base
	if u != nil {
		req = append(req, `,"keep":true`...)
	}
	req = append(req, `,"state":`...)
	req = append(req, state...)
	req = append(req, `,"given":[]`...)
	req = append(req, common...)
	req = append(req, '}')
	answer, err := h.callOK(ctx, in, req)
	if err == nil && u != nil {
		in.hold(stream, u.Head)
	}
	return answer, err
}

func (in *instance) hold(s events.Stream, head events.Head) {
	if len(in.held) >= maxHeld {
		clear(in.held) // the module's own LRU may have dropped some anyway
	}
	in.held[s] = head
}

// maxHeld mirrors the module's cache size (wazerohost keeps it no larger).
const maxHeld = 4096

func (h *Host) callOK(ctx context.Context, in *instance, req []byte) ([]byte, error) {
	answer, err := in.do(ctx, req)
	if err != nil {
		return nil, h.callErr(ctx, err)
	}
	return ok(answer)
}

// ---- the events since a head, from appends -----------------------------------------

const (
	maxLogged  = 16   // records kept per stream
	maxStreams = 4096 // streams with a log
)

type streamLog struct {
	recs []loggedRecord
}

type loggedRecord struct {
	seq  uint64
	prev events.Hash
	hash events.Hash
	raw  []byte
}

// Appended implements engine.AppendObserver: it remembers the last records
// of each stream, so that an instance holding an older head gets only them.
func (h *Host) Appended(stream events.Stream, recs []events.Record) {
	if stream.User == "" || len(recs) == 0 {
		return
	}
	h.logMu.Lock()
	defer h.logMu.Unlock()
	l := h.logs[stream]
	if l == nil {
		if len(h.logs) >= maxStreams {
			// Drop the oldest half; a miss costs one state transfer.
			for _, s := range h.lru[:len(h.lru)/2] {
				delete(h.logs, s)
			}
			h.lru = append(h.lru[:0:0], h.lru[len(h.lru)/2:]...)
		}
		l = &streamLog{}
		h.logs[stream] = l
		h.lru = append(h.lru, stream)
	}
	for i := range recs {
		r := &recs[i]
		l.recs = append(l.recs, loggedRecord{seq: r.Seq, prev: r.Prev, hash: r.Hash, raw: r.Raw})
	}
	if n := len(l.recs); n > maxLogged {
		l.recs = append(l.recs[:0:0], l.recs[n-maxLogged:]...)
	}
}

// since returns the raw records from just after `from` up to `to`, if the
// log holds exactly that stretch of the chain.
func (h *Host) since(stream events.Stream, from, to events.Head) ([][]byte, bool) {
	if from.Seq == to.Seq {
		return nil, from.Hash == to.Hash
	}
	if from.Seq > to.Seq {
		return nil, false
	}
	h.logMu.Lock()
	defer h.logMu.Unlock()
	l := h.logs[stream]
	if l == nil {
		return nil, false
	}
	var out [][]byte
	prev := from.Hash
	for _, r := range l.recs {
		if r.seq <= from.Seq || r.seq > to.Seq {
			continue
		}
		if r.seq != from.Seq+uint64(len(out))+1 || r.prev != prev {
			return nil, false
		}
		out = append(out, r.raw)
		prev = r.hash
	}
	return out, uint64(len(out)) == to.Seq-from.Seq && prev == to.Hash
}

// ---- answers ------------------------------------------------------------------------

// then is a decide answer's ok value (a vector's then object).
type then struct {
	Events []struct {
		Type    string           `json:"type"`
		Version int              `json:"v"`
		Data    jsonx.RawMessage `json:"data"`
	} `json:"events"`
	Reply jsonx.RawMessage `json:"reply"`
	Error *vakt.Error      `json:"error"`
}

// decodeThen turns a decide answer back into the engine's Decision and
// error, as engine.Decide returned them.
func decodeThen(b []byte) (engine.Decision, error) {
	var t then
	if err := jsonx.Unmarshal(b, &t); err != nil {
		return engine.Decision{}, fmt.Errorf("%w: decide: %v", ErrBadAnswer, err)
	}
	var dec engine.Decision
	for _, e := range t.Events {
		ev, err := events.Default.DecodeData(e.Type, e.Version, e.Data)
		if err != nil {
			return engine.Decision{}, fmt.Errorf("%w: decide: event %s: %v", ErrBadAnswer, e.Type, err)
		}
		dec.Events = append(dec.Events, ev)
	}
	if len(t.Reply) > 0 {
		if err := jsonx.Unmarshal(t.Reply, &dec.Reply); err != nil {
			return engine.Decision{}, fmt.Errorf("%w: decide: reply: %v", ErrBadAnswer, err)
		}
	}
	if t.Error != nil {
		return dec, t.Error
	}
	return dec, nil
}
