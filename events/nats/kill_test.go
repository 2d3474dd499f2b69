package nats_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vaktmfa/vakt"
	"github.com/vaktmfa/vakt/events"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/natsserver"
)

const (
	killDirEnv   = "VAKT_TEST_KILL_DIR"
	killRoundEnv = "VAKT_TEST_KILL_ROUND"
)

// TestKillChild is not a test of its own: TestKillDuringWrites runs it in a
// child process, which it then kills. It starts the embedded server with
// fsync on every write on the directory it is given, opens the store, and
// appends from several goroutines, each to its own users, until it is
// killed, writing one line to stdout (unbuffered) for every acknowledged
// event:
//
//	ACK <subject> <seq> <position> <hash> <command> <duplicate>
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killDirEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestKillDuringWrites")
	}
	round := os.Getenv(killRoundEnv)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // in case nobody kills us
	defer cancel()
	n, err := natsserver.Start(ctx, natsserver.Config{DataDir: dir})
	if err != nil {
		fmt.Printf("ERR start: %v\n", err)
		os.Exit(3)
	}
	store, err := natsstore.Open(ctx, n.JetStream, natsstore.Options{})
	if err != nil {
		fmt.Printf("ERR open: %v\n", err)
		os.Exit(3)
	}
	var out sync.Mutex
	emit := func(line string) {
		out.Lock()
		defer out.Unlock()
		// os.Stdout is unbuffered: the line is in the pipe when Write returns.
		if _, err := os.Stdout.WriteString(line); err != nil {
			os.Exit(4)
		}
	}
	emit("READY\n")
	const writers, usersEach = 6, 3
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newFaultWriter(store, i, usersEach)
			for k := 0; ctx.Err() == nil; k++ {
				st := w.streams[k%usersEach]
				w.command(ctx, st, fmt.Sprintf("r%s-w%d-%d", round, i, k))
				w.mu.Lock()
				acks := w.acks
				w.acks = nil
				fails := w.failures
				w.failures = nil
				w.mu.Unlock()
				for _, f := range fails {
					emit(fmt.Sprintf("FAIL %s %s\n", f.Code, strings.ReplaceAll(f.Err, "\n", " ")))
				}
				for _, a := range acks {
					emit(fmt.Sprintf("ACK %s %d %d %s %s %t\n", natsstore.Subject(a.Stream), a.Seq, a.Position, a.Hash, a.Command, a.Duplicate))
				}
			}
		}()
	}
	wg.Wait()
	store.Close()
	n.Close()
}

func parseAck(line string) (ackedEvent, error) {
	f := strings.Fields(line)
	if len(f) != 7 || f[0] != "ACK" {
		return ackedEvent{}, fmt.Errorf("bad line %q", line)
	}
	st, ok := natsstore.ParseSubject(f[1])
	if !ok {
		return ackedEvent{}, fmt.Errorf("bad subject in %q", line)
	}
	seq, err1 := strconv.ParseUint(f[2], 10, 64)
	pos, err2 := strconv.ParseUint(f[3], 10, 64)
	var h events.Hash
	_, err3 := hex.Decode(h[:], []byte(f[4]))
	if err1 != nil || err2 != nil || err3 != nil || len(f[4]) != 2*len(h) {
		return ackedEvent{}, fmt.Errorf("bad numbers in %q", line)
	}
	return ackedEvent{Stream: st, Seq: seq, Position: pos, Hash: h, Command: f[5], Duplicate: f[6] == "true"}, nil
}

// TestKillDuringWrites kills a process that is appending (SIGKILL, no
// shutdown) several times on the same data directory, and checks after
// each kill that a new server starts on the directory (the lock died with
// the process) and that every event the dead process had acknowledged is
// stored, at the position and with the hash it was acknowledged with, with
// every stream's chain intact.
func TestKillDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	const (
		rounds      = 4
		acksPerKill = 300
	)
	dir := t.TempDir()
	var all []ackedEvent
	for round := 1; round <= rounds; round++ {
		acks, fails, elapsed := runAndKill(t, dir, round, acksPerKill)
		all = append(all, acks...)

		begin := time.Now()
		n, err := natsserver.Start(context.Background(), natsserver.Config{DataDir: dir})
		if err != nil {
			t.Fatalf("round %d: start after the kill: %v", round, err)
		}
		store, err := natsstore.Open(context.Background(), n.JetStream, natsstore.Options{})
		if err != nil {
			n.Close()
			t.Fatalf("round %d: open after the kill: %v", round, err)
		}
		recovered := time.Since(begin)
		got := readBackAll(t, store)
		unacked := checkAcked(t, got, all)
		t.Logf("round %d: child acknowledged %d events in %s (%d failed attempts) before SIGKILL; recovered in %s; store holds %d events in %d streams, %d acknowledged, %d stored but never seen acknowledged (in flight at a kill, so far)",
			round, len(acks), elapsed.Round(time.Millisecond), fails, recovered.Round(time.Millisecond), got.records, len(got.byStream), len(all), unacked)
		store.Close()
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			return
		}
	}
}

// runAndKill runs a child that appends on dir, reads its acknowledgements
// until it has want of them, kills it with SIGKILL, and returns every
// acknowledgement it had written (those still in the pipe included).
func runAndKill(t *testing.T, dir string, round, want int) (acks []ackedEvent, fails int, elapsed time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1", "-test.v=false")
	cmd.Env = append(os.Environ(), killDirEnv+"="+dir, killRoundEnv+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = cmd.Process.Kill() // SIGKILL
		}
	}
	defer kill()
	watchdog := time.AfterFunc(60*time.Second, kill)
	defer watchdog.Stop()

	r := bufio.NewReader(out)
	var begin time.Time
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			// The child is dead (killed, or it failed). A torn last line
			// (no newline) is not an acknowledgement anyone saw.
			break
		}
		switch {
		case strings.HasPrefix(line, "READY"):
			begin = time.Now()
			// The child holds the directory: no second server may start on it.
			if n, err := natsserver.Start(context.Background(), natsserver.Config{DataDir: dir}); err == nil {
				n.Close()
				kill()
				t.Fatalf("round %d: a second server started on the directory the child uses", round)
			} else if vakt.CodeOf(err) != vakt.CodeConflict {
				t.Errorf("round %d: second server: %v, want a conflict", round, err)
			}
		case strings.HasPrefix(line, "ACK "):
			a, err := parseAck(line)
			if err != nil {
				kill()
				t.Fatalf("round %d: %v", round, err)
			}
			acks = append(acks, a)
			if len(acks) == want && !killed {
				elapsed = time.Since(begin)
				kill()
			}
		case strings.HasPrefix(line, "FAIL "):
			fails++
			if fails <= 5 {
				t.Logf("round %d: child: %s", round, strings.TrimSpace(line))
			}
		default:
			if strings.HasPrefix(line, "ERR ") || strings.Contains(line, "FAIL") || strings.Contains(line, "panic") {
				t.Errorf("round %d: child: %s", round, strings.TrimSpace(line))
			}
		}
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("round %d: the child ended by itself after %d acknowledgements; stderr:\n%s", round, len(acks), stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "DATA RACE") || strings.Contains(s, "panic") {
		t.Errorf("round %d: child stderr:\n%s", round, s)
	}
	if len(acks) < want {
		t.Fatalf("round %d: the watchdog killed the child after %d acknowledgements; stderr:\n%s", round, len(acks), stderr.String())
	}
	return acks, fails, elapsed
}
