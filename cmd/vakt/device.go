package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vaktmfa/vakt/engine"
	natsstore "github.com/vaktmfa/vakt/events/nats"
	"github.com/vaktmfa/vakt/internal/push"
)

// The device talks to `vakt serve` over its HTTP API:
//
//	POST {s}/v1/tenants/{t}/users/{u}/authenticators/{a}/confirm
//	     {"public_key", "signature", "user_verification"}   (no Authorization:
//	     the signature over the activation code is the credential)
//	GET  {s}/v1/tenants/{t}/users/{u}/authenticators/{a}/pushes?wait=30s
//	     Authorization: Vakt-Device <signature over engine.DeviceMessage>
//	     X-Vakt-Time: <the Unix time signed>
//	     -> {"pushes": [push.Notice...]}
//	POST {s}/v1/tenants/{t}/challenges/{respond_id or challenge_id}/respond
//	     {"authenticator_id", "decision", "number", "user_verification",
//	      "signature" (over engine.PushMessage)}
//	     -> {"status": "succeeded" | "denied" | "fraud_reported", ...}
//
// Bytes (keys, signatures) are standard base64. Errors are
// {"error": {"code", "message"}}.

// Things tests change.
var (
	// deviceStdin is where `vakt device listen` reads the person's answers.
	deviceStdin io.Reader = os.Stdin
	// deviceHTTP makes the requests.
	deviceHTTP = &http.Client{}
	// deviceWait is how long one poll for pushes asks the server to wait.
	deviceWait = 30 * time.Second
	// deviceRetry is the first wait before trying an unreachable server
	// again; it doubles up to deviceRetryMax.
	deviceRetry    = time.Second
	deviceRetryMax = 30 * time.Second
	// devicePollFloor is the least time between two polls, so that a server
	// that answers at once without waiting is not asked in a tight loop.
	devicePollFloor = time.Second
)

// deviceCallTimeout bounds a request that is not a long poll.
const deviceCallTimeout = 20 * time.Second

// maxDeviceReply bounds what the device reads from the server.
const maxDeviceReply = 1 << 20

func deviceFlags(fs *flag.FlagSet) func(context.Context, *cmdEnv) error {
	o := &deviceOpts{}
	fs.StringVar(&o.key, "key", "", "the device key `file` (default: "+filepath.Join("~", ".config", "vakt", "device-<authenticator id>.json")+"; listen uses the only one there)")
	fs.BoolVar(&o.uv, "uv", false, "enrol: assert user verification (say so only if this terminal verifies who uses it, e.g. it locks and asks for a password); it makes push sign-ins count as acr high")
	fs.BoolVar(&o.force, "force", false, "enrol: replace an existing key file")
	fs.Func("auto", "listen: answer every push without asking, with `decision` approve, deny or fraud (approve is for tests and scripts: a person must compare the numbers)", func(s string) error {
		switch s {
		case engine.DecisionApprove, engine.DecisionDeny, engine.DecisionFraud:
			o.auto = s
			return nil
		}
		return fmt.Errorf("use approve, deny or fraud")
	})
	fs.IntVar(&o.number, "number", 0, "listen: with --auto approve, the `number` to choose (default: the first one shown, for tests only)")
	fs.BoolVar(&o.once, "once", false, "listen: exit after answering one push")
	return func(ctx context.Context, env *cmdEnv) error {
		if len(env.args) == 0 {
			return usagef("say enrol or listen")
		}
		action := env.args[0]
		// Flags may also follow the action and its argument.
		var pos []string
		rest := env.args[1:]
		for len(rest) > 0 {
			if err := fs.Parse(rest); err != nil {
				return usagef("%v", err)
			}
			rest = fs.Args()
			if len(rest) > 0 {
				pos, rest = append(pos, rest[0]), rest[1:]
			}
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		only := func(names ...string) error {
			for _, n := range names {
				if set[n] {
					return usagef("--%s is for 'vakt device %s'", n, map[string]string{"uv": "enrol", "force": "enrol", "auto": "listen", "number": "listen", "once": "listen"}[n])
				}
			}
			return nil
		}
		switch action {
		case "enrol", "enroll":
			if err := only("auto", "number", "once"); err != nil {
				return err
			}
			if len(pos) != 1 {
				return usagef("enrol takes one activation link (vakt://activate?...), or - to read it from standard input")
			}
			link := pos[0]
			if link == "-" {
				// Kept off the command line, where others may see it.
				line, err := bufio.NewReader(io.LimitReader(deviceStdin, 8<<10)).ReadString('\n')
				if err != nil && (err != io.EOF || line == "") {
					return errors.New("no activation link on standard input")
				}
				link = line
			}
			return deviceEnrol(ctx, env, o, link)
		case "listen":
			if err := only("uv", "force"); err != nil {
				return err
			}
			if len(pos) > 0 {
				return usagef("unexpected argument %q", pos[0])
			}
			if set["number"] && o.auto != engine.DecisionApprove {
				return usagef("--number goes with --auto approve")
			}
			if set["number"] && (o.number < 10 || o.number > 99) {
				return usagef("--number must be a two-digit number")
			}
			return deviceListen(ctx, env, o)
		}
		return usagef("unknown action %q; say enrol or listen", action)
	}
}

type deviceOpts struct {
	key    string
	uv     bool
	force  bool
	auto   string
	number int
	once   bool
}

// ---- activation links and key files ------------------------------------------------

// activation is what an activation link carries.
type activation struct {
	server, tenant, user, authID, code string
}

// parseActivation reads vakt://activate?s=<server>&t=<tenant>&u=<user>&a=<id>&c=<code>.
func parseActivation(link string) (activation, error) {
	bad := func(format string, args ...any) (activation, error) {
		return activation{}, fmt.Errorf("the activation link is not valid: "+format, args...)
	}
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil {
		return bad("%v", err)
	}
	if u.Scheme != "vakt" || u.Host != "activate" || (u.Path != "" && u.Path != "/") {
		return bad("it must start with vakt://activate?")
	}
	q := u.Query()
	a := activation{server: q.Get("s"), tenant: q.Get("t"), user: q.Get("u"), authID: q.Get("a"), code: q.Get("c")}
	for _, f := range []struct{ name, v string }{{"s (server)", a.server}, {"t (tenant)", a.tenant}, {"u (user)", a.user}, {"a (authenticator)", a.authID}, {"c (activation code)", a.code}} {
		if f.v == "" {
			return bad("%s is missing", f.name)
		}
	}
	if a.server, err = checkServer(a.server); err != nil {
		return bad("%v", err)
	}
	return a, nil
}

// checkServer accepts an http or https base URL and returns it without a
// trailing slash.
func checkServer(s string) (string, error) {
	su, err := url.Parse(s)
	if err != nil || (su.Scheme != "https" && su.Scheme != "http") || su.Host == "" || su.RawQuery != "" || su.Fragment != "" || su.User != nil {
		return "", fmt.Errorf("the server %q is not an http or https address", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// plainHTTP says whether the server is reached without TLS anywhere but on
// this machine.
func plainHTTP(server string) bool {
	su, err := url.Parse(server)
	if err != nil || su.Scheme != "http" {
		return false
	}
	h := su.Hostname()
	if h == "localhost" {
		return false
	}
	ip := net.ParseIP(h)
	return ip == nil || !ip.IsLoopback()
}

// deviceKey is the key file: where the authenticator is enrolled and its
// private key.
type deviceKey struct {
	Server           string `json:"server"`
	Tenant           string `json:"tenant"`
	User             string `json:"user"`
	AuthenticatorID  string `json:"authenticator_id"`
	PublicKey        string `json:"public_key"`
	PrivateKey       string `json:"private_key"`
	UserVerification bool   `json:"user_verification"`

	priv ed25519.PrivateKey
}

// deviceKeyDir is where key files go by default: $XDG_CONFIG_HOME/vakt or
// ~/.config/vakt.
func deviceKeyDir() (string, error) {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "vakt"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory for the key file (%v); give one with --key", err)
	}
	return filepath.Join(home, ".config", "vakt"), nil
}

// deviceKeyName is the default file name of an authenticator's key; the id
// is encoded so that it cannot leave the directory.
func deviceKeyName(authID string) string { return "device-" + natsstore.Token(authID) + ".json" }

// findDeviceKey picks the key file for listen when --key is not given: the
// only one in the default directory.
func findDeviceKey() (string, error) {
	dir, err := deviceKeyDir()
	if err != nil {
		return "", err
	}
	files, err := filepath.Glob(filepath.Join(dir, "device-*.json"))
	if err != nil {
		return "", err
	}
	switch len(files) {
	case 0:
		return "", fmt.Errorf("no device key in %s; enrol first with 'vakt device enrol <activation link>' or give the key file with --key", dir)
	case 1:
		return files[0], nil
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = filepath.Base(f)
	}
	return "", fmt.Errorf("%d device keys in %s (%s); choose one with --key", len(files), dir, strings.Join(names, ", "))
}

func loadDeviceKey(path string) (*deviceKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read the device key: %v", err)
	}
	defer f.Close()
	if runtime.GOOS != "windows" {
		if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("the device key %s can be read by others (mode %04o); run chmod 600 %s", path, fi.Mode().Perm(), path)
		}
	}
	var k deviceKey
	dec := json.NewDecoder(io.LimitReader(f, 64<<10))
	if err := dec.Decode(&k); err != nil {
		return nil, fmt.Errorf("the device key %s is not a key file: %v", path, err)
	}
	bad := func(what string) (*deviceKey, error) {
		return nil, fmt.Errorf("the device key %s is damaged: %s", path, what)
	}
	if k.Tenant == "" || k.User == "" || k.AuthenticatorID == "" {
		return bad("it names no tenant, user or authenticator")
	}
	if k.Server, err = checkServer(k.Server); err != nil {
		return bad(err.Error())
	}
	raw, err := base64.StdEncoding.DecodeString(k.PrivateKey)
	switch {
	case err != nil:
		return bad("private_key is not base64")
	case len(raw) == ed25519.SeedSize:
		k.priv = ed25519.NewKeyFromSeed(raw)
	case len(raw) == ed25519.PrivateKeySize:
		k.priv = ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
		if !bytes.Equal(k.priv, raw) {
			return bad("the private key's public half does not match its seed")
		}
	default:
		return bad("private_key is not an Ed25519 key")
	}
	if k.PublicKey != "" && k.PublicKey != base64.StdEncoding.EncodeToString(k.priv.Public().(ed25519.PublicKey)) {
		return bad("public_key does not belong to private_key")
	}
	return &k, nil
}

// writeKeyFile writes data to a new file next to path with mode 0600 and
// returns its name; the caller renames it into place.
func writeKeyFile(path string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".device-*.tmp")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// ---- HTTP --------------------------------------------------------------------

// apiError is an error answer from the server.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

// retryable says whether asking again later may help.
func (e *apiError) retryable() bool {
	return e.status == http.StatusTooManyRequests || e.status >= 500
}

// unreachable is a request that got no answer from the server.
type unreachable struct{ err error }

func (e *unreachable) Error() string { return e.err.Error() }

// call sends a JSON request and decodes a 2xx JSON answer into out. skew,
// if not nil, is set to how far the server's clock is ahead of ours.
func call(ctx context.Context, method, u string, hdr http.Header, body, out any, skew *time.Duration) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "vakt-device/1")
	resp, err := deviceHTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return &unreachable{err: err}
	}
	defer resp.Body.Close()
	if skew != nil {
		// Date is written as the answer goes out, in whole seconds (cut,
		// so half a second is added back); ignore what that and latency
		// explain.
		if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			if s := time.Until(d.Add(time.Second / 2)); s > 2*time.Second || s < -2*time.Second {
				*skew = s
			} else {
				*skew = 0
			}
		}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDeviceReply))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &unreachable{err: err}
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return &apiError{status: resp.StatusCode, code: e.Error.Code, message: e.Error.Message}
		}
		text := strings.TrimSpace(string(data))
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		if text == "" {
			text = http.StatusText(resp.StatusCode)
		}
		return &apiError{status: resp.StatusCode, message: fmt.Sprintf("the server answered %d: %s", resp.StatusCode, text)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &apiError{status: resp.StatusCode, message: fmt.Sprintf("the server's answer is not what a Vakt server sends: %v", err)}
		}
	}
	return nil
}

// path joins escaped path segments onto the server's base URL.
func apiURL(server string, segs ...string) string {
	var b strings.Builder
	b.WriteString(server)
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// ---- enrol -------------------------------------------------------------------

func deviceEnrol(ctx context.Context, env *cmdEnv, o *deviceOpts, link string) error {
	act, err := parseActivation(link)
	if err != nil {
		return err
	}
	path := o.key
	if path == "" {
		dir, err := deviceKeyDir()
		if err != nil {
			return err
		}
		path = filepath.Join(dir, deviceKeyName(act.authID))
	}
	// Everything that can fail locally fails before the activation code is
	// spent.
	if !o.force {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s exists; give another --key, or --force to replace it (the authenticator it holds stops working)", path)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create the key directory: %v", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("make a device key: %v", err)
	}
	key := deviceKey{
		Server: act.server, Tenant: act.tenant, User: act.user, AuthenticatorID: act.authID,
		PublicKey: b64(pub), PrivateKey: b64(priv), UserVerification: o.uv,
	}
	data, err := json.MarshalIndent(key, "", "  ")
	if err != nil {
		return err
	}
	// The key is on disk before the server learns it, so that an
	// authenticator is never active with a key nobody has.
	tmp, err := writeKeyFile(path, append(data, '\n'))
	if err != nil {
		return fmt.Errorf("write the key file: %v", err)
	}
	defer os.Remove(tmp) // a no-op once renamed

	if plainHTTP(act.server) {
		fmt.Fprintf(env.stderr, "vakt: device: warning: %s is reached without TLS\n", act.server)
	}
	msg := engine.EnrolmentMessage(act.tenant, act.user, act.authID, act.code, pub, o.uv)
	body := map[string]any{"public_key": b64(pub), "signature": b64(ed25519.Sign(priv, msg)), "user_verification": o.uv}
	var reply struct {
		Status string `json:"status"`
	}
	cctx, cancel := context.WithTimeout(ctx, deviceCallTimeout)
	defer cancel()
	u := apiURL(act.server, "v1", "tenants", act.tenant, "users", act.user, "authenticators", act.authID, "confirm")
	if err := call(cctx, http.MethodPost, u, nil, body, &reply, nil); err != nil {
		var ue *unreachable
		if errors.As(err, &ue) {
			return fmt.Errorf("cannot reach %s: %v", act.server, ue.err)
		}
		if errors.Is(err, context.Canceled) {
			return errors.New("interrupted before the server answered; no key was saved (if the authenticator shows as active, remove it and enrol again)")
		}
		return err
	}
	if reply.Status != "active" {
		return fmt.Errorf("the server answered status %q, not active", reply.Status)
	}
	if !o.force {
		if _, err := os.Lstat(path); err == nil {
			keep := path + ".new"
			if os.Rename(tmp, keep) == nil {
				return fmt.Errorf("the authenticator is active, but %s appeared meanwhile; its key is in %s", path, keep)
			}
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("the authenticator is active, but its key could not be saved as %s (%v); it is in %s", path, err, tmp)
	}
	fmt.Fprintf(env.stdout, "Enrolled: this terminal is push authenticator %s for %s (tenant %s) at %s.\n", act.authID, act.user, act.tenant, act.server)
	if o.uv {
		fmt.Fprintln(env.stdout, "It asserts user verification.")
	}
	fmt.Fprintf(env.stdout, "The device key is in %s (readable only by you).\n", path)
	fmt.Fprintf(env.stdout, "Answer sign-ins with: vakt device listen --key %s\n", path)
	return nil
}

// ---- listen ------------------------------------------------------------------

// listener answers pushes for one device key.
type listener struct {
	env  *cmdEnv
	o    *deviceOpts
	key  *deviceKey
	skew time.Duration // the server's clock minus ours

	lines   chan string          // the person's answers, once reading started
	echo    bool                 // write the answers out (stdin is no terminal)
	handled map[string]time.Time // challenges shown, with their expiry
}

func deviceListen(ctx context.Context, env *cmdEnv, o *deviceOpts) error {
	path := o.key
	if path == "" {
		var err error
		if path, err = findDeviceKey(); err != nil {
			return err
		}
	}
	key, err := loadDeviceKey(path)
	if err != nil {
		return err
	}
	l := &listener{env: env, o: o, key: key, handled: map[string]time.Time{}}
	if plainHTTP(key.Server) {
		fmt.Fprintf(env.stderr, "vakt: device: warning: %s is reached without TLS\n", key.Server)
	}
	if o.auto == engine.DecisionApprove && o.number == 0 {
		fmt.Fprintln(env.stderr, "vakt: device: warning: --auto approve without --number chooses the first number shown; that is for tests only, a person must compare the numbers")
	}
	fmt.Fprintf(env.stdout, "Listening for sign-in requests for %s (tenant %s) at %s. Press Ctrl-C to stop.\n", key.User, key.Tenant, key.Server)
	err = l.run(ctx)
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		fmt.Fprintln(env.stdout, "Stopped.")
		return nil
	}
	return err
}

// now is the server's time as far as we know it, for the time a push has
// left.
func (l *listener) now() time.Time { return time.Now().Add(l.skew) }

// signedHeaders authenticate a poll: a signature over the user, the
// authenticator and the time. The time is this computer's own: the Date of
// an answer is not signed, so it must not move what the device signs.
func (l *listener) signedHeaders() http.Header {
	unix := time.Now().Unix()
	msg := engine.DeviceMessage(l.key.Tenant, l.key.User, l.key.AuthenticatorID, unix)
	return http.Header{
		"Authorization": {"Vakt-Device " + b64(ed25519.Sign(l.key.priv, msg))},
		"X-Vakt-Time":   {strconv.FormatInt(unix, 10)},
	}
}

func (l *listener) run(ctx context.Context) error {
	retry := time.Duration(0)
	failing := false
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		started := time.Now()
		pushes, err := l.poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ue *unreachable
			var ae *apiError
			switch {
			case errors.As(err, &ue):
				err = fmt.Errorf("cannot reach %s: %v", l.key.Server, ue.err)
			case errors.As(err, &ae) && ae.retryable():
			default:
				if off := l.skew.Round(time.Second); (off > time.Minute || off < -time.Minute) && errors.As(err, &ae) && ae.status == http.StatusUnauthorized {
					return fmt.Errorf("%v (this computer's clock is %s the server's)", err, clockOff(off))
				}
				return err
			}
			retry = min(max(2*retry, deviceRetry), deviceRetryMax)
			wait := jitter(retry)
			fmt.Fprintf(l.env.stderr, "vakt: device: %v; trying again in %s\n", err, wait.Round(100*time.Millisecond))
			failing = true
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		if failing {
			fmt.Fprintf(l.env.stderr, "vakt: device: reached %s again\n", l.key.Server)
			failing = false
		}
		retry = 0
		answered := false
		for _, p := range pushes {
			ok, err := l.handle(ctx, p)
			if err != nil {
				return err
			}
			if ok {
				answered = true
				if l.o.once {
					return nil
				}
			}
		}
		if !answered {
			if err := sleep(ctx, devicePollFloor-time.Since(started)); err != nil {
				return err
			}
		}
	}
}

// poll asks the server for the pushes waiting for this device, waiting up to
// deviceWait for one.
func (l *listener) poll(ctx context.Context) ([]push.Notice, error) {
	ctx, cancel := context.WithTimeout(ctx, deviceWait+deviceCallTimeout)
	defer cancel()
	u := apiURL(l.key.Server, "v1", "tenants", l.key.Tenant, "users", l.key.User, "authenticators", l.key.AuthenticatorID, "pushes") +
		"?wait=" + url.QueryEscape(deviceWait.String())
	var reply struct {
		Pushes []push.Notice `json:"pushes"`
	}
	if err := call(ctx, http.MethodGet, u, l.signedHeaders(), nil, &reply, &l.skew); err != nil {
		return nil, err
	}
	return reply.Pushes, nil
}

// handle shows one push, gets the answer and sends it. It reports whether it
// answered (an expired or repeated push is not answered); an error ends the
// listener.
func (l *listener) handle(ctx context.Context, p push.Notice) (bool, error) {
	if _, seen := l.handled[p.ChallengeID]; seen || p.ChallengeID == "" {
		return false, nil
	}
	for id, exp := range l.handled {
		if l.now().Sub(exp) > time.Hour {
			delete(l.handled, id)
		}
	}
	l.handled[p.ChallengeID] = p.ExpiresAt
	out := l.env.stdout
	left := p.ExpiresAt.Sub(l.now())
	fmt.Fprintln(out)
	if left <= 0 {
		fmt.Fprintf(out, "A sign-in request to %s expired at %s; it is not answered.\n", appName(p), p.ExpiresAt.Local().Format("15:04:05"))
		return false, nil
	}
	l.show(p, left)

	decision, number, err := l.decide(ctx, p)
	if err != nil {
		return false, err
	}
	if decision == "" {
		fmt.Fprintln(out, "The request expired before you answered; it is not answered.")
		return false, nil
	}
	if !l.now().Before(p.ExpiresAt) {
		fmt.Fprintln(out, "Too late: the request expired while you decided; nothing was sent.")
		return false, nil
	}
	status, err := l.respond(ctx, p, decision, number)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if l.o.once {
			return false, err
		}
		fmt.Fprintf(l.env.stderr, "vakt: device: %v\n", err)
		return false, nil
	}
	switch {
	case status == engine.OutcomeSucceeded:
		fmt.Fprintln(out, "Approved: the sign-in goes ahead.")
	case status == engine.OutcomeDenied && decision == engine.DecisionApprove:
		fmt.Fprintf(out, "Refused: %d is not the number on the login screen, so the sign-in was denied.\n", number)
	case status == engine.OutcomeDenied:
		fmt.Fprintln(out, "Denied: the sign-in was refused.")
	case status == engine.OutcomeFraud:
		fmt.Fprintln(out, "Reported as fraud: the sign-in was refused and the report is on record. Change your password if someone else knows it.")
	case status == "duplicate":
		fmt.Fprintln(out, "This answer had already been recorded.")
	default:
		fmt.Fprintf(out, "The server answered %q.\n", status)
	}
	return true, nil
}

// clockOff says how far this computer's clock is from the server's, given
// the server's time minus ours.
func clockOff(d time.Duration) string {
	how := "behind"
	if d < 0 {
		d, how = -d, "ahead of"
	}
	if m := d.Round(time.Minute) / time.Minute; m != 1 {
		return fmt.Sprintf("about %d minutes %s", m, how)
	}
	return "about a minute " + how
}

// formatLeft writes the time left as 1m05s or 42s.
func formatLeft(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s < 60 {
		return fmt.Sprintf("%ds", s)
	}
	return fmt.Sprintf("%dm%02ds", s/60, s%60)
}

func appName(p push.Notice) string {
	if p.Context.Application != "" {
		return fmt.Sprintf("%s (%s)", p.Context.Application, p.App)
	}
	return p.App
}

// show prints the push: who is asking, from where, how long is left, and the
// numbers.
func (l *listener) show(p push.Notice, left time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "Sign-in request for %s (tenant %s): did you just try to sign in?\n", l.key.User, l.key.Tenant)
	row := func(label, v string) {
		if v != "" {
			fmt.Fprintf(&b, "  %-12s %s\n", label+":", v)
		}
	}
	row("Application", appName(p))
	row("IP address", p.Context.IP)
	row("Location", p.Context.Location)
	row("Browser", p.Context.UserAgent)
	row("Expires in", formatLeft(left))
	nums := make([]string, len(p.Choices))
	for i, n := range p.Choices {
		nums[i] = strconv.Itoa(n)
	}
	fmt.Fprintf(&b, "  %-12s %s\n", "Numbers:", strings.Join(nums, "   "))
	io.WriteString(l.env.stdout, b.String())
}

const devicePrompt = "Choose the number shown on your login screen, or d to deny, f to report fraud: "

// decide returns the answer: --auto's, or the person's. An empty decision
// means the push expired while waiting for the person.
func (l *listener) decide(ctx context.Context, p push.Notice) (string, int, error) {
	switch l.o.auto {
	case engine.DecisionDeny, engine.DecisionFraud:
		fmt.Fprintf(l.env.stdout, "Answering automatically: %s.\n", l.o.auto)
		return l.o.auto, 0, nil
	case engine.DecisionApprove:
		n := l.o.number
		if n == 0 && len(p.Choices) > 0 {
			n = p.Choices[0]
		}
		fmt.Fprintf(l.env.stdout, "Answering automatically: approve with %d.\n", n)
		return engine.DecisionApprove, n, nil
	}
	if l.lines == nil {
		l.lines = make(chan string)
		go readLines(deviceStdin, l.lines)
		// A terminal echoes the answer and its newline; a pipe does not.
		l.echo = true
		if f, ok := deviceStdin.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				l.echo = false
			}
		}
	}
	expired := time.NewTimer(p.ExpiresAt.Sub(l.now()))
	defer expired.Stop()
	for {
		io.WriteString(l.env.stdout, devicePrompt)
		var line string
		select {
		case <-ctx.Done():
			fmt.Fprintln(l.env.stdout)
			return "", 0, ctx.Err()
		case <-expired.C:
			fmt.Fprintln(l.env.stdout)
			return "", 0, nil
		case s, ok := <-l.lines:
			if !ok {
				fmt.Fprintln(l.env.stdout)
				return "", 0, errors.New("standard input closed before an answer; use --auto to answer without a person")
			}
			line = strings.ToLower(strings.TrimSpace(s))
			if l.echo {
				fmt.Fprintln(l.env.stdout, s)
			}
		}
		switch line {
		case "d", "deny", "n", "no":
			return engine.DecisionDeny, 0, nil
		case "f", "fraud":
			return engine.DecisionFraud, 0, nil
		case "":
			continue
		}
		n, err := strconv.Atoi(line)
		if err == nil && slices.Contains(p.Choices, n) {
			return engine.DecisionApprove, n, nil
		}
		fmt.Fprintf(l.env.stdout, "%q is not one of the numbers shown.\n", line)
	}
}

// readLines sends each line of r to lines and closes it at the end.
func readLines(r io.Reader, lines chan<- string) {
	defer close(lines)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		lines <- sc.Text()
	}
}

// respond sends the signed answer, trying again while the server cannot be
// reached and the push has time left.
func (l *listener) respond(ctx context.Context, p push.Notice, decision string, number int) (string, error) {
	uv := l.key.UserVerification
	msg := engine.PushMessage(l.key.Tenant, l.key.User, p.ChallengeID, l.key.AuthenticatorID, decision, number, uv)
	body := map[string]any{
		"authenticator_id":  l.key.AuthenticatorID,
		"decision":          decision,
		"number":            number,
		"user_verification": uv,
		"signature":         b64(ed25519.Sign(l.key.priv, msg)),
	}
	// The signature is over the engine's challenge id; the URL names the
	// challenge as the server asked (RespondID), or by that id if it did not.
	respondID := p.RespondID
	if respondID == "" {
		respondID = p.ChallengeID
	}
	u := apiURL(l.key.Server, "v1", "tenants", l.key.Tenant, "challenges", respondID, "respond")
	retry := time.Duration(0)
	for {
		var reply struct {
			Status string `json:"status"`
		}
		cctx, cancel := context.WithTimeout(ctx, deviceCallTimeout)
		err := call(cctx, http.MethodPost, u, nil, body, &reply, &l.skew)
		cancel()
		if err == nil {
			return reply.Status, nil
		}
		var ue *unreachable
		var ae *apiError
		switch {
		case ctx.Err() != nil:
			return "", ctx.Err()
		case errors.As(err, &ue):
			err = fmt.Errorf("cannot reach %s to send the answer: %v", l.key.Server, ue.err)
		case errors.As(err, &ae) && ae.retryable():
		default:
			return "", err
		}
		retry = min(max(2*retry, deviceRetry), deviceRetryMax)
		wait := jitter(retry)
		if !l.now().Add(wait).Before(p.ExpiresAt) {
			return "", fmt.Errorf("%v; the request expires before another try", err)
		}
		fmt.Fprintf(l.env.stderr, "vakt: device: %v; trying again in %s\n", err, wait.Round(100*time.Millisecond))
		if err := sleep(ctx, wait); err != nil {
			return "", err
		}
	}
}

// jitter spreads d over [d/2, d) so that devices that lost the server
// together do not come back together.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(d/2)))
	if err != nil {
		return d
	}
	return d/2 + time.Duration(n.Int64())
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
