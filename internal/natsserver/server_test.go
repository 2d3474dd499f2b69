package natsserver_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/internal/natsserver"
)

func start(t *testing.T, cfg natsserver.Config) *natsserver.NATS {
	t.Helper()
	n, err := natsserver.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start %+v: %v", cfg, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// wantErr checks err is a *vakt.Error of code and that its message holds
// every string of has.
func wantErr(t *testing.T, err error, code vakt.Code, has ...string) *vakt.Error {
	t.Helper()
	var ve *vakt.Error
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T), want a *vakt.Error", err, err)
	}
	if ve.Code != code {
		t.Fatalf("code %s (%v), want %s", ve.Code, err, code)
	}
	for _, s := range has {
		if !strings.Contains(ve.Error(), s) {
			t.Errorf("error %q does not mention %q", ve.Error(), s)
		}
	}
	return ve
}

func TestStartStopRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	n, err := natsserver.Start(ctx, natsserver.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if n.Server == nil || !n.Server.JetStreamEnabled() {
		t.Fatal("embedded server without JetStream")
	}
	if n.ClientURL() != "" {
		t.Errorf("ClientURL %q without Listen", n.ClientURL())
	}
	if _, err := n.JetStream.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := n.JetStream.Publish(ctx, "t.x", []byte(fmt.Sprintf("event %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	srv := n.Server
	if err := n.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if srv.Running() {
		t.Error("server still running after Close")
	}
	if err := n.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	// The store is under the data directory, not the temp directory
	// (nats-server adds its own "jetstream" to StoreDir).
	if _, err := os.Stat(filepath.Join(dir, "jetstream", "jetstream", "$G", "streams", "T")); err != nil {
		t.Errorf("stream files: %v", err)
	}

	n = start(t, natsserver.Config{DataDir: dir})
	st, err := n.JetStream.Stream(ctx, "T")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	if got := st.CachedInfo().State.Msgs; got != 3 {
		t.Fatalf("%d messages after restart, want 3", got)
	}
	m, err := st.GetMsg(ctx, 3)
	if err != nil || string(m.Data) != "event 2" {
		t.Fatalf("message 3 = %v, %v", m, err)
	}
	if !n.Server.JetStreamConfig().SyncAlways {
		t.Error("SyncAlways is off by default")
	}
}

func TestNoSync(t *testing.T) {
	n := start(t, natsserver.Config{DataDir: t.TempDir(), NoSync: true, Name: "other"})
	if n.Server.JetStreamConfig().SyncAlways {
		t.Error("SyncAlways with NoSync")
	}
	if n.Server.Name() != "other" {
		t.Errorf("server name %q", n.Server.Name())
	}
}

func TestSecondStartOnSameDirConflicts(t *testing.T) {
	dir := t.TempDir()
	first := start(t, natsserver.Config{DataDir: dir, NoSync: true})

	_, err := natsserver.Start(context.Background(), natsserver.Config{DataDir: dir, NoSync: true})
	wantErr(t, err, vakt.CodeConflict, dir, "in use", "pid "+strconv.Itoa(os.Getpid()))

	// Another spelling of the same directory, and a symlink to it.
	_, err = natsserver.Start(context.Background(), natsserver.Config{DataDir: dir + "/./", NoSync: true})
	wantErr(t, err, vakt.CodeConflict, "in use")
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	_, err = natsserver.Start(context.Background(), natsserver.Config{DataDir: link, NoSync: true})
	wantErr(t, err, vakt.CodeConflict, "in use")

	// The refused starts did not disturb the running server.
	if _, err := first.JetStream.AccountInfo(context.Background()); err != nil {
		t.Fatalf("first server after refused starts: %v", err)
	}

	// Close releases the lock: a new server starts on the directory.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	start(t, natsserver.Config{DataDir: dir, NoSync: true})
}

const lockChildEnv = "VAKT_TEST_LOCK_CHILD_DIR"

// TestLockChild is not a test: TestLockAcrossProcesses runs it in a child
// process, where it starts a server on the directory it is given, says
// "ready" and waits until its stdin closes or it is killed.
func TestLockChild(t *testing.T) {
	dir := os.Getenv(lockChildEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestLockAcrossProcesses")
	}
	n, err := natsserver.Start(context.Background(), natsserver.Config{DataDir: dir, NoSync: true})
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(3)
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	n.Close()
	fmt.Println("closed")
}

func lockChild(t *testing.T, dir string) (*exec.Cmd, *bufio.Reader, func() error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("child: %q, %v", line, err)
	}
	return cmd, r, stdin.Close
}

func TestLockAcrossProcesses(t *testing.T) {
	dir := t.TempDir()

	// A child holds the directory: this process cannot start on it, and is
	// told which process has it.
	cmd, r, closeStdin := lockChild(t, dir)
	_, err := natsserver.Start(context.Background(), natsserver.Config{DataDir: dir, NoSync: true})
	wantErr(t, err, vakt.CodeConflict, dir, "in use", "pid "+strconv.Itoa(cmd.Process.Pid))

	// The child closes its server cleanly: the directory is free.
	if err := closeStdin(); err != nil {
		t.Fatal(err)
	}
	if line, _ := r.ReadString('\n'); strings.TrimSpace(line) != "closed" {
		t.Fatalf("child: %q", line)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	n := start(t, natsserver.Config{DataDir: dir, NoSync: true})

	// And the other way round: while this process holds it, a child cannot
	// start.
	child := exec.Command(os.Args[0], "-test.run=^TestLockChild$", "-test.count=1")
	child.Env = append(os.Environ(), lockChildEnv+"="+dir)
	out, _ := child.Output()
	if !strings.Contains(string(out), "conflict") || !strings.Contains(string(out), "in use") {
		t.Fatalf("child started on a held directory: %q", out)
	}
	n.Close()

	// A killed child leaves no lock behind.
	cmd, _, _ = lockChild(t, dir)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	start(t, natsserver.Config{DataDir: dir, NoSync: true})
}

func TestNoDataDirIsRefused(t *testing.T) {
	for _, cfg := range []natsserver.Config{{}, {NoSync: true, Listen: "127.0.0.1:0"}} {
		n, err := natsserver.Start(context.Background(), cfg)
		if n != nil {
			n.Close()
			t.Fatal("started without a data directory")
		}
		wantErr(t, err, vakt.CodeInvalidArgument, "no data directory")
	}
}

func TestListenRandomPort(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "127.0.0.1:-1"} {
		t.Run(addr, func(t *testing.T) {
			n := start(t, natsserver.Config{DataDir: t.TempDir(), NoSync: true, Listen: addr})
			u, err := url.Parse(n.ClientURL())
			if err != nil {
				t.Fatalf("ClientURL %q: %v", n.ClientURL(), err)
			}
			if port, _ := strconv.Atoi(u.Port()); port <= 0 || port == server.DEFAULT_PORT {
				t.Fatalf("ClientURL %q: want a random port", n.ClientURL())
			}
			nc, err := nats.Connect(n.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			if _, err := js.AccountInfo(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBadListen(t *testing.T) {
	for _, addr := range []string{"nonsense", "127.0.0.1:http", "127.0.0.1:70000", "127.0.0.1:-2"} {
		_, err := natsserver.Start(context.Background(), natsserver.Config{DataDir: t.TempDir(), Listen: addr})
		wantErr(t, err, vakt.CodeInvalidArgument, addr)
	}
}

func TestURLMode(t *testing.T) {
	ctx := context.Background()
	emb := start(t, natsserver.Config{DataDir: t.TempDir(), NoSync: true, Listen: "127.0.0.1:0"})
	ext := start(t, natsserver.Config{URL: emb.ClientURL(), ConnectTimeout: 5 * time.Second})
	if ext.Server != nil || ext.ClientURL() != "" {
		t.Fatal("URL mode has a server")
	}
	if _, err := ext.JetStream.CreateStream(ctx, jetstream.StreamConfig{Name: "X", Subjects: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ext.JetStream.Publish(ctx, "x", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	st, err := emb.JetStream.Stream(ctx, "X")
	if err != nil || st.CachedInfo().State.Msgs != 1 {
		t.Fatalf("stream seen by the embedded connection: %v", err)
	}
	// Closing the external connection leaves the server alone.
	if err := ext.Close(); err != nil {
		t.Fatal(err)
	}
	if !emb.Server.Running() {
		t.Fatal("closing a URL connection stopped the server")
	}
	if _, err := emb.JetStream.AccountInfo(ctx); err != nil {
		t.Fatal(err)
	}
}

// deadURL is a loopback URL nobody listens on.
func deadURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "nats://" + addr
}

func TestURLNobodyListens(t *testing.T) {
	dead := deadURL(t)
	host := strings.TrimPrefix(dead, "nats://")
	_, err := natsserver.Start(context.Background(), natsserver.Config{URL: dead, ConnectTimeout: 2 * time.Second})
	wantErr(t, err, vakt.CodeInternal, dead, "cannot connect")

	for _, u := range []string{
		"nats://user:secret@" + host,
		"nats://secret@" + host, // a token
		"nats://" + host + ",nats://user:secret@" + host,
		"nats://user:se/cret@" + host,   // url.Parse refuses it
		"nats://user:secret%zz@" + host, // a bad escape
		"nats://us@er:secret@" + host,
		"nats://user:secret\"x@" + host,
	} {
		_, err := natsserver.Start(context.Background(), natsserver.Config{URL: u, ConnectTimeout: 2 * time.Second})
		ve := wantErr(t, err, vakt.CodeInternal, host)
		for e := error(ve); e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), "secret") || strings.Contains(e.Error(), "cret") || strings.Contains(e.Error(), ":se") || strings.Contains(e.Error(), "se/") {
				t.Errorf("%s: error shows the password: %q", u, e.Error())
			}
		}
		if b, _ := jsonMarshal(ve); strings.Contains(b, "cret") {
			t.Errorf("%s: wire form shows the password: %s", u, b)
		}
	}
}

func TestMissingCredentialsFile(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "nope.creds")
	_, err := natsserver.Start(context.Background(), natsserver.Config{URL: deadURL(t), Credentials: creds})
	wantErr(t, err, vakt.CodeInvalidArgument, "credentials", creds)
}

func TestServerWithoutJetStream(t *testing.T) {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("plain server did not start")
	}
	begin := time.Now()
	_, err = natsserver.Start(context.Background(), natsserver.Config{URL: s.ClientURL(), ConnectTimeout: 5 * time.Second})
	wantErr(t, err, vakt.CodeInternal, "JetStream is not enabled", s.ClientURL())
	if d := time.Since(begin); d > 4*time.Second {
		t.Errorf("took %s to notice", d)
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	if _, err := natsserver.Start(ctx, natsserver.Config{DataDir: dir}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	start(t, natsserver.Config{DataDir: dir, NoSync: true})
}
