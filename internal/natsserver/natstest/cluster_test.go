package natstest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt/internal/natsserver"
	"github.com/vaktmfa/vakt/internal/natsserver/natstest"
)

func TestCluster(t *testing.T) {
	ctx := context.Background()
	begin := time.Now()
	c := natstest.Cluster(t, 3)
	t.Logf("cluster formed in %s", time.Since(begin).Round(time.Millisecond))
	if c.N() != 3 || c.MetaLeader() < 0 {
		t.Fatalf("%d nodes, meta leader %d", c.N(), c.MetaLeader())
	}
	_, js := c.Connect(t)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	leader, err := c.WaitStreamLeader("R3", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	name, err := natstest.StreamInfoLeader(ctx, js, "R3")
	if err != nil || name != c.Name(leader) {
		t.Fatalf("stream info says leader %q (%v), servers say %q", name, err, c.Name(leader))
	}
	for range 10 {
		if _, err := js.Publish(ctx, "r3.a", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}

	// Stop the leader: another node takes over and the data is there.
	c.StopServer(leader)
	begin = time.Now()
	next, err := c.WaitStreamLeader("R3", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("new stream leader %s after %s", c.Name(next), time.Since(begin).Round(time.Millisecond))
	if next == leader {
		t.Fatal("stopped node still leads")
	}
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		_, err := js.Publish(pctx, "r3.a", []byte("y"))
		if err == nil {
			break
		}
		if pctx.Err() != nil {
			t.Fatalf("no publish after the leader stopped: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The stopped node comes back on its store and catches up.
	c.RestartServer(leader)
	if err := c.WaitStreamCurrent("R3", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	_, js1 := c.ConnectTo(t, leader)
	st, err := js1.Stream(ctx, "R3")
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().State.Msgs; got != 11 {
		t.Fatalf("%d messages, want 11", got)
	}

	// natsserver connects to the cluster by URL list.
	n, err := natsserver.Start(ctx, natsserver.Config{URL: c.URLs()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := n.JetStream.Stream(ctx, "R3"); err != nil {
		t.Fatal(err)
	}
}
