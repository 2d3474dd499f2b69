package nats_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/engine"
	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
)

func asJSON(t testing.TB, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	json.Unmarshal(b, &out)
	return out
}

// TestServiceOnNATS runs sign-ins through the engine on JetStream with
// snapshots in KV, and checks that a load from the snapshot gives the state
// a full fold gives.
func TestServiceOnNATS(t *testing.T) {
	n := natstest.Start(t)
	ctx := context.Background()
	store, err := natsstore.Open(ctx, n.JetStream, natsstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	snaps, err := natsstore.OpenSnapshots(ctx, n.JetStream, natsstore.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	svc := &engine.Service{Store: store, Keys: &engine.MemoryKeyring{}, Snapshots: snaps, SnapshotEvery: 10,
		Now: func() time.Time { return now }, Rand: engine.SeededRand([]byte("nats"))}
	cmd := 0
	do := func(c engine.Command) (engine.Result, error) {
		cmd++
		return svc.Execute(ctx, engine.Request{Tenant: "uio.no", User: "ola.nordmann@uio.no", Command: c, ID: fmt.Sprint("c", cmd)})
	}
	res, err := do(engine.StartEnrolment{Method: "totp", Label: "Phone"})
	if err != nil {
		t.Fatal(err)
	}
	secret := res.Reply.Secret.Reveal()
	code := func() string {
		c, _ := totp.GenerateCodeCustom(secret, now, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		return c
	}
	if _, err := do(engine.ConfirmEnrolment{AuthenticatorID: res.Reply.AuthenticatorID, Code: code()}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 25; i++ {
		now = now.Add(30 * time.Second)
		ch, err := do(engine.IssueChallenge{App: "web"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := do(engine.VerifyCode{ChallengeID: ch.Reply.ChallengeID, Code: code()}); err != nil {
			t.Fatal(err)
		}
		// The replayed code is refused on NATS too.
		if i == 0 {
			ch2, _ := do(engine.IssueChallenge{App: "web"})
			if _, err := do(engine.VerifyCode{ChallengeID: ch2.Reply.ChallengeID, Code: code()}); vakt.CodeOf(err) != vakt.CodeCodeReused {
				t.Fatalf("replay: %v", err)
			}
		}
	}
	stream := events.Stream{Tenant: "uio.no", User: "ola.nordmann@uio.no"}
	snap, ok, err := snaps.Get(ctx, stream)
	if err != nil || !ok || snap.Version != engine.StateVersion || snap.Head.Position == 0 {
		t.Fatalf("snapshot: %+v %v %v", snap.Head, ok, err)
	}
	all, err := store.Load(ctx, stream, events.Head{})
	if err != nil {
		t.Fatal(err)
	}
	tail, err := store.Load(ctx, stream, snap.Head)
	if err != nil {
		t.Fatal(err)
	}
	if len(tail) != len(all)-int(snap.Head.Seq) {
		t.Fatalf("after the snapshot: %d events, want %d", len(tail), len(all)-int(snap.Head.Seq))
	}
	full, _ := engine.Fold(stream.Tenant, stream.User, all)
	got, err := svc.User(ctx, stream.Tenant, stream.User)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(asJSON(t, got), asJSON(t, full)) {
		t.Fatal("state from snapshot + tail differs from the full fold")
	}
	v := events.NewVerifier()
	for i := range all {
		if brk := v.Check(&all[i]); brk != nil {
			t.Fatal(brk)
		}
	}
}
