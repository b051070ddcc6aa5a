package main

// The slowlink part: ssmirror over an emulated slow, unreliable link. A
// TCP proxy in this program stands between ssmirror and the upstream
// server: it paces what the upstream sends to a rate shared by every
// connection, adds latency to each connection's setup and to each request,
// and resets the connection that carries the byte crossing each multiple
// of a reset interval.

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ssmirror/ssmirror/internal/ui"
)

var (
	slowRate     = flag.Float64("slowlink-mbit", 20, "slowlink: the link's rate in Mbit/s (shared by every connection)")
	slowLatency  = flag.Duration("slowlink-latency", 40*time.Millisecond, "slowlink: latency added to each connection's setup and to each request")
	slowReset    = flag.Int64("slowlink-reset", 64<<20, "slowlink: reset the connection carrying each multiple of this many bytes from the upstream (0: never)")
	slowBigSize  = flag.Int64("slowlink-big-size", 1<<30, "slowlink: size of the item killed part way (b)")
	slowKillMbit = flag.Float64("slowlink-kill-mbit", 400, "slowlink: the link's rate in Mbit/s while the item of (b) is killed and resumed (b measures bytes, not time)")
	slowBWFor    = flag.Duration("slowlink-bwlimit-for", 30*time.Second, "slowlink: how long the --bwlimit 5M run (c) is measured")
)

// link is the emulated link: a TCP proxy to one upstream address.
type link struct {
	ln       net.Listener
	upstream string
	latency  time.Duration
	rate     atomic.Int64 // bytes a second from the upstream; 0: unlimited
	reset    atomic.Int64 // see slowReset

	mu   sync.Mutex
	next time.Time // when the link is free to send again (pacing)

	down   atomic.Int64 // bytes sent from the upstream to the client
	resets atomic.Int64
	conns  atomic.Int64
}

func startLink(upstream string, latency time.Duration, reset int64) (*link, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l := &link{ln: ln, upstream: upstream, latency: latency}
	l.reset.Store(reset)
	go l.serve()
	return l, nil
}

func (l *link) URL() string { return "http://" + l.ln.Addr().String() + "/" }

func (l *link) setMbit(mbit float64) { l.rate.Store(int64(mbit * 1e6 / 8)) }

func (l *link) close() { l.ln.Close() }

func (l *link) serve() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.conns.Add(1)
		go l.relay(c.(*net.TCPConn))
	}
}

func (l *link) relay(c *net.TCPConn) {
	defer c.Close()
	time.Sleep(l.latency) // the connection's setup
	u, err := net.Dial("tcp", l.upstream)
	if err != nil {
		return
	}
	defer u.Close()
	// Requests: each read from the client (a request, or part of one)
	// is delayed by the latency.
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				time.Sleep(l.latency)
				if _, werr := u.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		u.(*net.TCPConn).CloseWrite()
	}()
	buf := make([]byte, 16<<10)
	for {
		n, err := u.Read(buf)
		if n > 0 {
			l.pace(n)
			before := l.down.Add(int64(n)) - int64(n)
			if every := l.reset.Load(); every > 0 && before/every != (before+int64(n))/every {
				// This chunk crosses a multiple of the interval: the
				// connection drops before it arrives.
				l.resets.Add(1)
				c.SetLinger(0)
				return
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pace waits until the link has sent n more bytes at its rate, shared by
// every connection: a link idle for a while has no credit saved up.
func (l *link) pace(n int) {
	rate := l.rate.Load()
	if rate <= 0 {
		return
	}
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(time.Duration(float64(n) / float64(rate) * float64(time.Second)))
	wait := l.next.Sub(now)
	l.mu.Unlock()
	time.Sleep(wait)
}

// slowResult is one row of the slowlink table.
type slowResult struct {
	what, value, target string
	met                 *bool
}

// summaryOf reads the summary event of an ssmirror --json run's output.
func summaryOf(r *run) (ui.SummaryEvent, error) {
	data, err := os.ReadFile(r.LogBase + ".out")
	if err != nil {
		return ui.SummaryEvent{}, err
	}
	for l := range strings.Lines(string(data)) {
		var ev ui.SummaryEvent
		if json.Unmarshal([]byte(l), &ev) == nil && ev.Type == "summary" {
			return ev, nil
		}
	}
	return ui.SummaryEvent{}, fmt.Errorf("%s.out: no summary event", r.LogBase)
}

// slowlinkPart runs the slowlink measurements and returns their report
// (markdown). maas is the MAAS fixture; root the upstream server's root
// (the fixtures directory), under which the killed item's fixture goes.
func slowlinkPart(c config, rn *runner, st *store, up *upstreamServer, maas *fixture, root string, creds []string) (string, error) {
	var err error
	if maas == nil {
		if maas, err = maasFixture(root, c.repo, c.maasScale); err != nil {
			return "", fmt.Errorf("MAAS fixture: %w", err)
		}
	}
	big, err := bigFixture(filepath.Join(root, "slowlink"), c.cache, *slowBigSize)
	if err != nil {
		return "", fmt.Errorf("slowlink item fixture: %w", err)
	}
	upAddr := strings.TrimSuffix(strings.TrimPrefix(up.URL, "http://"), "/")
	ln, err := startLink(upAddr, *slowLatency, *slowReset)
	if err != nil {
		return "", err
	}
	defer ln.close()
	for _, b := range []string{"slow-maas", "slow-big", "slow-bw"} {
		if err := st.makeBucket(b); err != nil {
			return "", fmt.Errorf("creating bucket %s: %w", b, err)
		}
	}
	// sync's arguments: flags, then SOURCE and TARGET, then filters.
	sync := func(fx *fixture, srcPath, bucket string, flags []string, filters ...string) []string {
		args := []string{"sync", "--json", "--keyring", fx.Keyring, "--endpoint", st.Endpoint, "--path-style"}
		args = append(append(args, flags...), ln.URL()+srcPath+"/", "s3://"+bucket)
		return append(args, filters...)
	}
	linkDesc := fmt.Sprintf("%g Mbit/s, +%s, a reset every %s", *slowRate, *slowLatency, mib(*slowReset))
	var rows []slowResult
	fail := func(what string, r *run) {
		rows = append(rows, slowResult{what: what, value: fmt.Sprintf("failed (exit %d, %v; see %s.err)", r.Exit, r.Err, r.LogBase)})
	}

	// (d) The MAAS selection through the slow, resetting link.
	ln.setMbit(*slowRate)
	down0, resets0 := ln.down.Load(), ln.resets.Load()
	full := rn.exec("ssmirror sync (slow link)", "maas", creds, c.ssmirror, sync(maas, "maas", "slow-maas", []string{"--max", "1"}, "arch=amd64")...)
	if full.ok() {
		full.Objects, full.Bytes, _ = st.count("slow-maas")
		ideal := time.Duration(float64(full.Bytes) / float64(ln.rate.Load()) * float64(time.Second))
		ratio := full.Wall.Seconds() / ideal.Seconds()
		rows = append(rows, slowResult{
			what: fmt.Sprintf("(d) MAAS selection (%s in %d objects) over the link (%s): wall time against bytes ÷ rate", mib(full.Bytes), full.Objects, linkDesc),
			value: fmt.Sprintf("%s against %s: %.2f× (%s through the link, %d resets)", secs(full.Wall), secs(ideal), ratio,
				mib(ln.down.Load()-down0), ln.resets.Load()-resets0),
			target: "≤ 1.15×", met: boolp(ratio <= 1.15)})
	} else {
		fail("(d) MAAS selection over the link", full)
	}

	// (a) Its no-op re-run.
	down0 = ln.down.Load()
	noop := rn.exec("ssmirror sync (slow link)", "no-op", creds, c.ssmirror, sync(maas, "maas", "slow-maas", []string{"--max", "1"}, "arch=amd64")...)
	if sum, err := summaryOf(noop); noop.ok() && err == nil {
		wire := ln.down.Load() - down0
		per := float64(wire) / float64(max(sum.UpstreamRequests, 1))
		rows = append(rows, slowResult{
			what:   "(a) no-op re-run of the MAAS selection over the link: upstream requests, bytes (on the wire, headers included), wall time",
			value:  fmt.Sprintf("%d requests, %d B (%d B of bodies), %s: %.0f B per metadata file", sum.UpstreamRequests, wire, sum.UpstreamBytes, secs(noop.Wall), per),
			target: "≤ 2 KB per metadata file", met: boolp(sum.Transferred == 0 && per <= 2000)})
	} else {
		fail("(a) no-op re-run over the link", noop)
	}

	// (b) The big item, killed at about 90 %, then resumed.
	ln.setMbit(*slowKillMbit)
	killDesc := fmt.Sprintf("%g Mbit/s, +%s, a reset every %s", *slowKillMbit, *slowLatency, mib(*slowReset))
	killedAt, err := killAt(rn, c.ssmirror, creds, sync(big, "slowlink/big", "slow-big", nil), ln, *slowBigSize*9/10)
	if err != nil {
		rows = append(rows, slowResult{what: "(b) item killed at 90 %", value: "failed: " + err.Error()})
	} else {
		down0 = ln.down.Load()
		next := rn.exec("ssmirror sync (resume)", "slowlink item", creds, c.ssmirror, sync(big, "slowlink/big", "slow-big", nil)...)
		if sum, err := summaryOf(next); next.ok() && err == nil {
			share := float64(sum.UpstreamBytes) / float64(*slowBigSize)
			rows = append(rows, slowResult{
				what: fmt.Sprintf("(b) a %s item, the sync SIGKILLed after %s (%.0f %%) came through the link (%s, faster: (b) counts bytes): the next run's upstream bytes",
					mib(*slowBigSize), mib(killedAt), 100*float64(killedAt)/float64(*slowBigSize), killDesc),
				value:  fmt.Sprintf("%s (%.1f %% of the item; %s on the wire)", mib(sum.UpstreamBytes), 100*share, mib(ln.down.Load()-down0)),
				target: "≤ 15 % of the item", met: boolp(share <= 0.15)})
		} else {
			fail("(b) the run after the kill", next)
		}
	}

	// (c) --bwlimit 5M: the rate over the window, on a link that does
	// not limit (nor reset: resets would pause the transfer).
	ln.setMbit(0)
	ln.reset.Store(0)
	rate, err := bwlimitRate(rn, c.ssmirror, creds, sync(big, "slowlink/big", "slow-bw", []string{"--bwlimit", "5M"}), ln, *slowBWFor)
	if err != nil {
		rows = append(rows, slowResult{what: "(c) --bwlimit 5M", value: "failed: " + err.Error()})
	} else {
		want := float64(5 << 20)
		rows = append(rows, slowResult{
			what:   fmt.Sprintf("(c) --bwlimit 5M (5 MiB/s) over %s: the rate through the link (no limit of its own, no resets)", *slowBWFor),
			value:  fmt.Sprintf("%.3f MiB/s (%+.1f %%)", rate/(1<<20), 100*(rate-want)/want),
			target: "5 MiB/s ± 5 %", met: boolp(rate >= 0.95*want && rate <= 1.05*want)})
	}
	return renderSlowlink(rows), nil
}

// killAt starts ssmirror with args and SIGKILLs it once the link has sent
// at least n bytes since the start; it returns the bytes sent by then.
func killAt(rn *runner, bin string, env, args []string, ln *link, n int64) (int64, error) {
	down0 := ln.down.Load()
	cmd, done, logBase, err := startLogged(rn, "ssmirror sync (killed)", bin, env, args)
	if err != nil {
		return 0, err
	}
	for tick := time.NewTicker(20 * time.Millisecond); ; <-tick.C {
		select {
		case err := <-done:
			tick.Stop()
			return 0, fmt.Errorf("ssmirror ended (%v) before %s came through; see %s.err", err, mib(n), logBase)
		default:
		}
		if got := ln.down.Load() - down0; got >= n {
			tick.Stop()
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			return got, nil
		}
	}
}

// bwlimitRate starts ssmirror with args, measures the rate through the
// link from 2 s after the first byte over d, and then stops it.
func bwlimitRate(rn *runner, bin string, env, args []string, ln *link, d time.Duration) (float64, error) {
	cmd, done, logBase, err := startLogged(rn, "ssmirror sync (bwlimit)", bin, env, args)
	if err != nil {
		return 0, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}()
	wait := func(d time.Duration) error {
		select {
		case err := <-done:
			done <- err
			return fmt.Errorf("ssmirror ended (%v) before the measurement did; see %s.err", err, logBase)
		case <-time.After(d):
			return nil
		}
	}
	// The first item bytes (the metadata comes first, a burst of small
	// reads), then a settling time.
	down0 := ln.down.Load()
	for ln.down.Load()-down0 < 1<<20 {
		if err := wait(20 * time.Millisecond); err != nil {
			return 0, err
		}
	}
	if err := wait(2 * time.Second); err != nil {
		return 0, err
	}
	b0, t0 := ln.down.Load(), time.Now()
	if err := wait(d); err != nil {
		return 0, err
	}
	return float64(ln.down.Load()-b0) / time.Since(t0).Seconds(), nil
}

// startLogged starts bin with its output in a numbered log of rn, as
// rn.exec does, without waiting for it (and without GNU time, so that a
// signal reaches ssmirror itself); done delivers the end of the process.
func startLogged(rn *runner, tool, bin string, env, args []string) (cmd *exec.Cmd, done chan error, logBase string, err error) {
	rn.seq++
	logBase = filepath.Join(rn.logs, fmt.Sprintf("%02d-%s", rn.seq, strings.NewReplacer(" ", "-", "(", "", ")", "").Replace(tool)))
	out, err := os.Create(logBase + ".out")
	if err != nil {
		return nil, nil, "", err
	}
	errf, err := os.Create(logBase + ".err")
	if err != nil {
		out.Close()
		return nil, nil, "", err
	}
	fmt.Fprintf(errf, "# %s %s\n", bin, strings.Join(args, " "))
	cmd = exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout, cmd.Stderr = out, errf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	rn.logf("run %d: %s", rn.seq, tool)
	if err := cmd.Start(); err != nil {
		out.Close()
		errf.Close()
		return nil, nil, "", err
	}
	done = make(chan error, 1)
	go func() {
		err := cmd.Wait()
		out.Close()
		errf.Close()
		done <- err
	}()
	return cmd, done, logBase, nil
}

func renderSlowlink(rows []slowResult) string {
	var b strings.Builder
	b.WriteString("\n## Slow link\n\n| measure | ssmirror | target | met |\n|---|---|---|---|\n")
	for _, r := range rows {
		met := ""
		if r.met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*r.met]
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.what, r.value, r.target, met)
	}
	return b.String()
}
