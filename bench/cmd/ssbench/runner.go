package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// run is one measured process.
type run struct {
	N        int    // sequence number (log file names)
	Tool     string // what ran: "ssmirror sync", "aws s3 sync", ...
	Work     string // which workload
	Store    string // the store it wrote to, or ""
	Cmd      string // the command line, for the log
	Wall     time.Duration
	CPU      time.Duration // user+system of the process and its children
	RSS      int64         // peak resident set size in bytes
	Reqs     int           // requests the store logged during the run; -1 without a store
	Ops      map[string]int
	StoreCPU time.Duration // CPU time the store spent during the run
	UpCPU    time.Duration // CPU time the upstream server spent during the run
	Other    time.Duration // CPU time used on the machine by anything else during the run
	Busy     float64       // share of the machine's CPU others used just before the run
	Exit     int
	Err      error
	Objects  int   // objects in the target afterwards; -1 if not counted
	Bytes    int64 // their total size
	LogBase  string
}

func (r *run) ok() bool { return r != nil && r.Err == nil && r.Exit == 0 }

// opsString renders the request counts by operation, largest first.
func (r *run) opsString() string {
	if r.Reqs < 0 {
		return "–"
	}
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range r.Ops {
		l = append(l, kv{k, v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || l[i].v == l[j].v && l[i].k < l[j].k })
	var parts []string
	for _, x := range l {
		parts = append(parts, fmt.Sprintf("%s %d", x.k, x.v))
	}
	if len(parts) == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", r.Reqs, strings.Join(parts, ", "))
}

// runner starts measured processes one at a time.
type runner struct {
	logs    string
	timeBin string // GNU time, to measure peak RSS (see exec)
	store   *store
	upPIDs  func() []int  // the upstream server's processes, or nil
	quiet   time.Duration // how long, in all, to wait for a quiet machine
	profile bool          // set SSMIRROR_BENCH_PROFILE for ssmirror runs
	timeout time.Duration
	seq     int
	runs    []*run
	logf    func(string, ...any)
}

// exec runs bin with args and env (added to a cleaned environment),
// measuring wall time, CPU time, peak RSS and the store's requests.
func (rn *runner) exec(tool, work string, env []string, bin string, args ...string) *run {
	rn.seq++
	r := &run{N: rn.seq, Tool: tool, Work: work, Reqs: -1, Objects: -1}
	if rn.store != nil {
		r.Store = rn.store.Name
	}
	r.Cmd = bin + " " + strings.Join(args, " ")
	slug := strings.NewReplacer(" ", "-", "/", "-", "→", "to").Replace(strings.Join([]string{tool, work, r.Store}, "-"))
	r.LogBase = filepath.Join(rn.logs, fmt.Sprintf("%02d-%s", r.N, slug))
	stdout, err := os.Create(r.LogBase + ".out")
	if err != nil {
		r.Err = err
		return r
	}
	defer stdout.Close()
	stderr, err := os.Create(r.LogBase + ".err")
	if err != nil {
		r.Err = err
		return r
	}
	defer stderr.Close()
	fmt.Fprintf(stderr, "# %s\n", r.Cmd)

	ctx, cancel := context.WithTimeout(context.Background(), rn.timeout)
	defer cancel()
	// Peak RSS comes from GNU time, which forks the tool from a small
	// process. Go starts children with vfork semantics (CLONE_VM), and
	// Linux records the parent's high-water RSS in the child's maxrss at
	// exec, so wait4's figure would include this program's own memory.
	rssFile := r.LogBase + ".rss"
	cmd := exec.CommandContext(ctx, bin, args...)
	if rn.timeBin != "" {
		cmd = exec.CommandContext(ctx, rn.timeBin, append([]string{"-f", "%M", "-o", rssFile, bin}, args...)...)
	}
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	if rn.profile && strings.HasPrefix(tool, "ssmirror") {
		cmd.Env = append(cmd.Env, "SSMIRROR_BENCH_PROFILE="+r.LogBase)
	}

	// Write back dirty pages of earlier runs so they do not slow this one,
	// and wait (within the budget) until other processes leave the
	// machine alone.
	syscall.Sync()
	r.Busy = rn.waitQuiet()
	var off int64
	var storeCPU, upCPU time.Duration
	if rn.store != nil {
		off = rn.store.reqs.mark()
		storeCPU = cpuTime(rn.store.PID())
	}
	if rn.upPIDs != nil {
		upCPU = cpuTimes(rn.upPIDs())
	}
	rn.logf("run %d: %s (%s)", r.N, tool, work)
	busy0 := machineBusy()
	start := time.Now()
	err = cmd.Run()
	r.Wall = time.Since(start)
	machine := machineBusy() - busy0
	if cmd.ProcessState != nil {
		r.Exit = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.RSS = ru.Maxrss * 1024
			r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	if rn.timeBin != "" {
		r.RSS = -1
		if data, err := os.ReadFile(rssFile); err == nil {
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			var kb int64
			if _, err := fmt.Sscanf(lines[len(lines)-1], "%d", &kb); err == nil {
				r.RSS = kb * 1024
			}
		}
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		r.Err = err
	}
	if ctx.Err() != nil {
		r.Err = fmt.Errorf("timed out after %s", rn.timeout)
	}
	if rn.store != nil {
		r.Reqs, r.Ops, err = rn.store.reqs.since(off)
		if err != nil {
			r.Reqs = -1
			rn.logf("counting requests: %v", err)
		}
		r.StoreCPU = cpuTime(rn.store.PID()) - storeCPU
	}
	if rn.upPIDs != nil {
		r.UpCPU = cpuTimes(rn.upPIDs()) - upCPU
	}
	r.Other = max(machine-r.CPU-r.StoreCPU-r.UpCPU, 0)
	status := "ok"
	if !r.ok() {
		status = fmt.Sprintf("FAILED (exit %d, %v; see %s.err)", r.Exit, r.Err, r.LogBase)
	}
	rn.logf("run %d: %s in %.2f s (CPU %.2f s, store %.2f s, others %.2f s), peak RSS %s, %d store requests: %s",
		r.N, tool, r.Wall.Seconds(), r.CPU.Seconds(), r.StoreCPU.Seconds(), r.Other.Seconds(), mib(r.RSS), r.Reqs, status)
	rn.runs = append(rn.runs, r)
	return r
}

// cleanEnv returns the environment without S3 settings, so every tool
// sees only what the bench gives it.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "RCLONE_") || strings.HasPrefix(k, "MINIO_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// countDir counts the regular files under dir and their size.
func countDir(dir string) (n int, size int64) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			n++
			size += info.Size()
		}
		return nil
	})
	return n, size
}

// warm reads every file under dir so all tools start with it in the page
// cache.
func warm(dir string) {
	buf := make([]byte, 1<<20)
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		for {
			if _, err := f.Read(buf); err != nil {
				return nil
			}
		}
	})
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// machineBusy returns the CPU time all processors spent not idle since
// boot (from /proc/stat).
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		switch i {
		case 3, 4: // idle, iowait
		case 8, 9: // guest time is already counted in user
		default:
			busy += n
		}
	}
	const hz = 100
	return time.Duration(busy) * time.Second / hz
}

// waitQuiet waits, within what is left of the quiet budget, until the
// machine is nearly idle (other processes use under 10% of it over half a
// second), and returns the share of the machine in use when it stopped
// waiting.
func (rn *runner) waitQuiet() float64 {
	cores := float64(runtime.NumCPU())
	for {
		b0 := machineBusy()
		time.Sleep(500 * time.Millisecond)
		busy := (machineBusy() - b0).Seconds() / 0.5 / cores
		if busy < 0.10 || rn.quiet <= 0 {
			return busy
		}
		rn.logf("machine busy (%.0f%% of %d cores used by other processes); waiting (%s of the wait budget left)",
			busy*100, int(cores), rn.quiet.Round(time.Second))
		wait := min(2*time.Second, rn.quiet)
		time.Sleep(wait)
		rn.quiet -= wait + 500*time.Millisecond
	}
}

// cpuTimes sums cpuTime over processes.
func cpuTimes(pids []int) time.Duration {
	var t time.Duration
	for _, p := range pids {
		t += cpuTime(p)
	}
	return t
}
