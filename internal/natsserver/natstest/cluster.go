package natstest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt/internal/natsserver"
)

// Account is the account streams live in when a server has no accounts
// configured (for the JetStreamIs... checks).
const Account = server.DEFAULT_GLOBAL_ACCOUNT

// TestCluster is a JetStream cluster of nats-server nodes running in this
// process, on loopback, each with its own file store in a temporary
// directory. Every node keeps its ports and store across StopServer and
// RestartServer, so clients reconnect to the same URLs and a restarted node
// recovers its own data.
type TestCluster struct {
	t     testing.TB
	name  string
	cfg   natsserver.Config
	mu    sync.Mutex
	nodes []*clusterNode
}

type clusterNode struct {
	name       string
	dir        string
	clientPort int
	routePort  int
	srv        *server.Server // nil while stopped
}

// Cluster starts an n-node JetStream cluster for t (routes between every
// pair of nodes, random loopback ports, file storage) and waits until
// JetStream has a meta leader that sees all n peers. The nodes are shut
// down when t ends. Like Start, it runs without fsync unless Durable is
// given.
//
// The nodes are configured through a configuration string
// (Options.ProcessConfigString), as nats-server's own cluster tests are:
// clusters built from a bare server.Options struct have had problems
// (nats-server #6890).
func Cluster(t testing.TB, n int, opts ...Option) *TestCluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("natstest.Cluster: %d nodes", n)
	}
	cfg := natsserver.Config{NoSync: true, Name: "vakt"}
	for _, o := range opts {
		o(&cfg)
	}
	c := &TestCluster{t: t, name: fmt.Sprintf("%s-test-%d", cfg.Name, rand.IntN(1e6)), cfg: cfg}
	ports := freePorts(t, 2*n)
	for i := range n {
		c.nodes = append(c.nodes, &clusterNode{
			name:       fmt.Sprintf("%s-%d", cfg.Name, i+1),
			dir:        t.TempDir(),
			clientPort: ports[2*i],
			routePort:  ports[2*i+1],
		})
	}
	t.Cleanup(c.shutdown)
	for i := range c.nodes {
		if err := c.start(i); err != nil {
			t.Fatalf("natstest.Cluster: %v", err)
		}
	}
	if err := c.WaitMetaLeader(60 * time.Second); err != nil {
		t.Fatalf("natstest.Cluster: %v", err)
	}
	return c
}

// freePorts finds n distinct free loopback ports below the Linux ephemeral
// range (32768 and up), so that an outgoing connection cannot take one
// between this check and the server binding it.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	seen := map[int]bool{}
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 10000 {
			t.Fatalf("natstest: no free ports")
		}
		p := 20000 + rand.IntN(12000)
		if seen[p] {
			continue
		}
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		out = append(out, p)
	}
	return out
}

func (c *TestCluster) config(i int) string {
	nd := c.nodes[i]
	var routes []string
	for _, o := range c.nodes {
		routes = append(routes, strconv.Quote(fmt.Sprintf("nats-route://127.0.0.1:%d", o.routePort)))
	}
	var js strings.Builder
	fmt.Fprintf(&js, "store_dir: %s\n max_memory_store: 256MB\n", strconv.Quote(nd.dir))
	if c.cfg.MaxStore > 0 {
		fmt.Fprintf(&js, " max_file_store: %d\n", c.cfg.MaxStore)
	}
	if !c.cfg.NoSync {
		js.WriteString(" sync_interval: always\n")
	}
	return fmt.Sprintf(`
server_name: %s
listen: "127.0.0.1:%d"
jetstream {
 %s}
cluster {
 name: %s
 listen: "127.0.0.1:%d"
 routes: [%s]
}
`, strconv.Quote(nd.name), nd.clientPort, js.String(), strconv.Quote(c.name), nd.routePort, strings.Join(routes, ", "))
}

func (c *TestCluster) start(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	nd := c.nodes[i]
	if nd.srv != nil {
		return fmt.Errorf("node %d is running", i)
	}
	opts := &server.Options{}
	if err := opts.ProcessConfigString(c.config(i)); err != nil {
		return fmt.Errorf("node %d config: %w", i, err)
	}
	opts.NoSigs = true
	opts.NoLog = os.Getenv("VAKT_NATS_LOG") == ""
	s, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("node %d: %w", i, err)
	}
	if !opts.NoLog {
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return fmt.Errorf("node %d did not start", i)
	}
	nd.srv = s
	return nil
}

func (c *TestCluster) shutdown() {
	for i := range c.nodes {
		c.stop(i)
	}
}

func (c *TestCluster) stop(i int) bool {
	c.mu.Lock()
	nd := c.nodes[i]
	s := nd.srv
	nd.srv = nil
	c.mu.Unlock()
	if s == nil {
		return false
	}
	s.Shutdown()
	s.WaitForShutdown()
	return true
}

// N is the number of nodes.
func (c *TestCluster) N() int { return len(c.nodes) }

// Server is node i's server, nil while it is stopped.
func (c *TestCluster) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].srv
}

// Name is node i's server name.
func (c *TestCluster) Name(i int) string { return c.nodes[i].name }

// Dir is node i's store directory.
func (c *TestCluster) Dir(i int) string { return c.nodes[i].dir }

// ClientURL is node i's client URL (the same across restarts).
func (c *TestCluster) ClientURL(i int) string {
	return fmt.Sprintf("nats://127.0.0.1:%d", c.nodes[i].clientPort)
}

// URLs lists every node's client URL, comma-separated (for nats.Connect or
// natsserver.Config.URL).
func (c *TestCluster) URLs() string {
	var urls []string
	for i := range c.nodes {
		urls = append(urls, c.ClientURL(i))
	}
	return strings.Join(urls, ",")
}

// Connect opens a client connection that knows every node and reconnects
// forever (every 50 ms), and a JetStream context on it; both are closed when
// t ends.
func (c *TestCluster) Connect(t testing.TB, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return c.connect(t, c.URLs(), opts)
}

// ConnectTo is Connect to node i only (it still learns the others from the
// cluster, unless nats.DontRandomize or nats.IgnoreDiscoveredServers is
// given).
func (c *TestCluster) ConnectTo(t testing.TB, i int, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return c.connect(t, c.ClientURL(i), opts)
}

func (c *TestCluster) connect(t testing.TB, urls string, opts []nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	all := append([]nats.Option{
		nats.Name("vakt-test"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50 * time.Millisecond),
		nats.ReconnectJitter(10*time.Millisecond, 10*time.Millisecond),
		nats.ReconnectBufSize(-1), // fail a publish while disconnected instead of buffering it
	}, opts...)
	nc, err := nats.Connect(urls, all...)
	if err != nil {
		t.Fatalf("natstest: connect to %s: %v", urls, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	return nc, js
}

// StopServer shuts node i down and waits for it (no lame duck, no leader
// handover: as if it crashed, but with its files closed cleanly).
func (c *TestCluster) StopServer(i int) {
	c.t.Helper()
	if !c.stop(i) {
		c.t.Fatalf("natstest: node %d is not running", i)
	}
}

// RestartServer starts node i again on its ports and store directory, and
// waits until it has caught up with the JetStream meta group (its streams
// may still be catching up: see WaitStreamCurrent).
func (c *TestCluster) RestartServer(i int) {
	c.t.Helper()
	if err := c.start(i); err != nil {
		c.t.Fatalf("natstest: restart: %v", err)
	}
	if err := c.WaitMetaLeader(60 * time.Second); err != nil {
		c.t.Fatalf("natstest: restart: %v", err)
	}
}

// MetaLeader is the index of the node that leads the JetStream meta group,
// or -1.
func (c *TestCluster) MetaLeader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, nd := range c.nodes {
		if nd.srv != nil && nd.srv.JetStreamIsLeader() {
			return i
		}
	}
	return -1
}

// WaitMetaLeader waits until JetStream has a meta leader that sees every
// running node as a peer, and every running node is current with it (has
// applied the meta group's log, so that it knows every stream).
func (c *TestCluster) WaitMetaLeader(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if c.metaReady() {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("no JetStream meta leader with every node as a current peer within " + timeout.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (c *TestCluster) metaReady() bool {
	i := c.MetaLeader()
	if i < 0 {
		return false
	}
	if s := c.Server(i); s == nil || len(s.JetStreamClusterPeers()) < c.running() {
		return false
	}
	for j := range c.nodes {
		if s := c.Server(j); s != nil && !s.JetStreamIsCurrent() {
			return false
		}
	}
	return true
}

func (c *TestCluster) running() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, nd := range c.nodes {
		if nd.srv != nil {
			n++
		}
	}
	return n
}

// StreamLeader is the index of the running node that leads stream (in the
// default account), or -1 while it has none.
func (c *TestCluster) StreamLeader(stream string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, nd := range c.nodes {
		if nd.srv != nil && nd.srv.JetStreamIsStreamLeader(Account, stream) {
			return i
		}
	}
	return -1
}

// WaitStreamLeader waits until stream has a leader and returns its index.
func (c *TestCluster) WaitStreamLeader(stream string, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		if i := c.StreamLeader(stream); i >= 0 {
			return i, nil
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("stream %s has no leader after %s", stream, timeout)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// WaitStreamCurrent waits until every running node that holds a replica of
// stream is current with its leader.
func (c *TestCluster) WaitStreamCurrent(stream string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		for i := range c.nodes {
			s := c.Server(i)
			if s != nil && s.JetStreamIsStreamAssigned(Account, stream) && !s.JetStreamIsStreamCurrent(Account, stream) {
				ok = false
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stream %s replicas not current after %s", stream, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StreamInfoLeader asks the cluster (through js) which node leads stream,
// by server name, as clients see it.
func StreamInfoLeader(ctx context.Context, js jetstream.JetStream, stream string) (string, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return "", err
	}
	info := st.CachedInfo()
	if info.Cluster == nil {
		return "", errors.New("stream " + stream + " has no cluster info")
	}
	return info.Cluster.Leader, nil
}
