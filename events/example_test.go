package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
)

// Build turns what a command decided into records: ids, sequence numbers,
// canonical bytes and the hash chain. The time and the entropy are arguments,
// so the same inputs give the same bytes on every host.
func ExampleBuild() {
	s := events.Stream{Tenant: "uio.no", User: "ola.nordmann@uio.no"}
	m := events.Meta{Command: "cmd-1", Actor: "user", Time: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	entropy := bytes.NewReader(make([]byte, 10)) // crypto/rand.Reader in production

	recs, err := events.Build(s, events.Head{}, m, entropy, []events.Event{
		events.Renamed{AuthenticatorID: "0190a0a0-0000-7000-8000-000000000001", Label: "Work phone <new>"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := recs[0]
	fmt.Println(string(r.Raw))
	fmt.Println("hash:", r.Hash)
	fmt.Println("same as ChainHash(prev, raw):", r.Hash == events.ChainHash(r.Prev, r.Raw))

	back, err := events.Decode(r.Raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("decoded: seq %d %s %+v\n", back.Seq, back.Type, back.Event)
	// Output:
	// {"id":"01a207a2-3280-7000-8000-000000000000","tenant":"uio.no","user":"ola.nordmann@uio.no","seq":1,"time":"2026-11-23T09:00:00Z","type":"authenticator.renamed","v":1,"command":"cmd-1","actor":"user","prev":"0000000000000000000000000000000000000000000000000000000000000000","data":{"authenticator_id":"0190a0a0-0000-7000-8000-000000000001","label":"Work phone \u003cnew\u003e"}}
	// hash: 56c18f09df5bb0a36615fd689b7924ef635c6019ecba0877b28e3b9657b5f081
	// same as ChainHash(prev, raw): true
	// decoded: seq 1 authenticator.renamed {AuthenticatorID:0190a0a0-0000-7000-8000-000000000001 Label:Work phone <new>}
}

// A Memory store keeps the promises of a durable one: optimistic
// concurrency on the stream's head, and a retried command answered with what
// its first attempt stored.
func ExampleMemory() {
	ctx := context.Background()
	store := events.NewMemory()
	s := events.Stream{Tenant: "uio.no", User: "ola.nordmann@uio.no"}
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	entropy := bytes.NewReader(bytes.Repeat([]byte{0x42}, 1000)) // crypto/rand.Reader in production
	const phone = "0190a0a0-0000-7000-8000-000000000001"
	decided := []events.Event{
		events.Renamed{AuthenticatorID: phone, Label: "Jobbtelefon"},
		events.DefaultChanged{AuthenticatorID: phone},
	}

	// Load the head, build on it, append.
	var head events.Head
	first := events.Meta{Command: "cmd-1", Actor: "user", Time: now}
	recs, _ := events.Build(s, head, first, entropy, decided)
	res, err := store.Append(ctx, s, head, recs)
	fmt.Println("appended:", len(res.Records), err)

	// The reply was lost and the shell retries the same command.
	retry, _ := events.Build(s, head, first, entropy, decided)
	res, err = store.Append(ctx, s, head, retry)
	fmt.Println("retry is a duplicate:", res.Duplicate, err)

	// Another command decided on the old head conflicts.
	other, _ := events.Build(s, head, events.Meta{Command: "cmd-2", Actor: "user", Time: now}, entropy, decided[:1])
	_, err = store.Append(ctx, s, head, other)
	fmt.Println("stale head:", vakt.CodeOf(err))

	loaded, _ := store.Load(ctx, s, events.Head{})
	for _, r := range loaded {
		fmt.Printf("%d %s %+v position %d\n", r.Seq, r.Type, r.Event, r.Position)
	}
	// Output:
	// appended: 2 <nil>
	// retry is a duplicate: true <nil>
	// stale head: conflict
	// 1 authenticator.renamed {AuthenticatorID:0190a0a0-0000-7000-8000-000000000001 Label:Jobbtelefon} position 1
	// 2 authenticator.default_changed {AuthenticatorID:0190a0a0-0000-7000-8000-000000000001 Previous:} position 2
}

// A Verifier replays every stream in store order and names the first place
// where a chain does not hold.
func ExampleVerifier() {
	ctx := context.Background()
	store := events.NewMemory()
	entropy := bytes.NewReader(bytes.Repeat([]byte{0x42}, 1000))
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	heads := map[events.Stream]events.Head{}
	for i, user := range []string{"alice", "bob", "alice", "alice", "bob"} {
		s := events.Stream{Tenant: "uio.no", User: user}
		recs, _ := events.Build(s, heads[s], events.Meta{Command: fmt.Sprint("cmd-", i), Actor: "user", Time: now}, entropy,
			[]events.Event{events.Renamed{AuthenticatorID: "0190a0a0-0000-7000-8000-000000000001", Label: fmt.Sprint("phone ", i)}})
		res, _ := store.Append(ctx, s, heads[s], recs)
		heads[s] = res.Records[0].Head()
	}

	var all []events.Record
	for r, err := range store.All(ctx, 0) {
		if err != nil {
			fmt.Println(err)
			return
		}
		all = append(all, r)
	}

	v := events.NewVerifier()
	for i := range all {
		if brk := v.Check(&all[i]); brk != nil {
			fmt.Println(brk)
		}
	}
	fmt.Println("intact:", !v.Broken())

	// Someone edits alice's second event in place.
	all[2].Raw = bytes.Replace(all[2].Raw, []byte("phone 2"), []byte("phone X"), 1) // a copy: the store is not touched
	v = events.NewVerifier()
	for i := range all {
		if brk := v.Check(&all[i]); brk != nil {
			fmt.Println(brk)
		}
	}
	fmt.Println("bob's head still verified at seq", v.Heads()[events.Stream{Tenant: "uio.no", User: "bob"}].Seq)
	// Output:
	// intact: true
	// tenant "uio.no" user "alice": chain broken at seq 2 (position 3): hash does not match the stored bytes (altered)
	// bob's head still verified at seq 2
}

// ChainHash is SHA-256 over the previous hash and the stored bytes; any host
// can recompute it (here: the zero hash's 32 bytes and the raw bytes, piped
// to sha256sum, give the first line).
func ExampleChainHash() {
	var first events.Hash // a stream's first event follows the zero hash
	h1 := events.ChainHash(first, []byte(`{"example":1}`))
	h2 := events.ChainHash(h1, []byte(`{"example":2}`))
	fmt.Println(h1)
	fmt.Println(h2)
	// Output:
	// cc534d53b118fbb24bb4b4943763ada179ddf249258e5fdae48f049f8d9702f4
	// dde532d3d998db18c4ebe7417a5b7e14aebdffcec4c63db1b13a92c0e53fd9a2
}

// NewID makes a UUIDv7 from the time and ten bytes of entropy.
func ExampleNewID() {
	t := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	id, err := events.NewID(t, bytes.NewReader([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}))
	fmt.Println(id, err)
	fmt.Println(events.IsID(id), events.IsID(strings.ToUpper(id)))
	// Output:
	// 01a207a2-3280-7001-8203-040506070809 <nil>
	// true false
}

// placeMoved is at schema version 2: version 1 had one "place" field.
type placeMoved struct {
	City    string `json:"city"`
	Country string `json:"country"`
}

func (placeMoved) EventType() string { return "example.place_moved" }

// A stored event never changes; when its schema does, an upcaster rewrites
// the old data on read.
func ExampleRegistry_Upcast() {
	reg := events.NewRegistry()
	events.Register[placeMoved](reg, 2)
	reg.Upcast("example.place_moved", 1, func(data []byte) ([]byte, error) {
		var v1 struct {
			Place string `json:"place"`
		}
		if err := json.Unmarshal(data, &v1); err != nil {
			return nil, err
		}
		city, country, _ := strings.Cut(v1.Place, ", ")
		return json.Marshal(placeMoved{City: city, Country: country})
	})

	old, err := reg.DecodeData("example.place_moved", 1, []byte(`{"place":"Oslo, Norway"}`))
	fmt.Printf("%+v %v\n", old, err)
	cur, err := reg.DecodeData("example.place_moved", 2, []byte(`{"city":"Bergen","country":"Norway"}`))
	fmt.Printf("%+v %v\n", cur, err)
	_, err = reg.DecodeData("example.place_moved", 3, []byte(`{}`))
	fmt.Println(vakt.CodeOf(err))
	// Output:
	// {City:Oslo Country:Norway} <nil>
	// {City:Bergen Country:Norway} <nil>
	// invalid_argument
}
