package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"time"
)

// results holds every run of the benchmark, for the report.
type results struct {
	rev       string
	cfg       config
	up        *upstreamServer
	sst       *sstreamPeer
	sstAbsent string // why sstream-mirror did not run

	// Into a directory: ssmirror and sstream-mirror.
	maasDisk, maasSstream, smallDisk, smallSstream, noopDisk, noopSstream *run
	maasSame, smallSame                                                   *sameResult

	stores []*storeRuns
	plans  []planRun

	runs              []*run
	fixtures, elapsed time.Duration
}

// storeRuns are the runs against one store.
type storeRuns struct {
	name, version, medium, dir, flags, counting string
	err                                         error // the store did not start

	maasSS, maasAWS, maasRclone    *run
	smallSS, smallRclone, smallAWS *run
	noopSS, noopRclone, noopAWS    *run
	bigSS                          *run
	maasCeil, smallCeil            []*run
}

// planRun is one planning run and its catalog.
type planRun struct {
	fx  *fixture
	run *run
}

// planLimits are the planning targets, by position in -plan-items.
var planLimits = []struct {
	wall time.Duration
	rss  int64
}{{2 * time.Second, 500 << 20}, {10 * time.Second, 2 << 30}}

// check is one row of the targets table.
type check struct {
	target, where, what, ss, peer, value, limit string
	met                                         *bool // nil: for information
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func boolp(b bool) *bool { return &b }

// checks collects the rows of the targets table.
type checks []check

// ratio adds a row comparing ss's wall time with the sum of the peers'
// (one run, or a tool chain such as sstream-mirror then aws s3 sync):
// met when ss ≤ limit × the peers' time (limit 0: for information).
// absent says why a peer that is nil did not run.
func (cs *checks) ratio(target, where, what string, ss *run, peerName string, peers []*run, absent string, limit float64, limitText string) {
	if ss == nil {
		return // part not run (-only)
	}
	c := check{target: target, where: where, what: what, limit: limitText}
	if !ss.ok() {
		c.ss, c.value, c.met = "failed", "–", boolp(false)
		*cs = append(*cs, c)
		return
	}
	c.ss = secs(ss.Wall)
	var pt time.Duration
	var parts []string
	for _, p := range peers {
		switch {
		case p == nil:
			c.peer, c.value = peerName+": "+absent, "–"
		case !p.ok():
			c.peer, c.value = peerName+": "+p.Tool+" failed", "–"
		default:
			pt += p.Wall
			parts = append(parts, secs(p.Wall))
		}
		if c.value != "" {
			*cs = append(*cs, c)
			return
		}
	}
	c.peer = peerName + " " + secs(pt)
	if len(parts) > 1 {
		c.peer += " (" + strings.Join(parts, " + ") + ")"
	}
	v := ss.Wall.Seconds() / pt.Seconds()
	c.value = fmt.Sprintf("%.3f×", v)
	if limit > 0 {
		c.met = boolp(v <= limit)
	}
	*cs = append(*cs, c)
}

// ceiling adds a row comparing ss's throughput with the store ceiling's
// (the best of the attempts): met when ss reaches at least min of it.
func (cs *checks) ceiling(target, where, what string, ss *run, attempts []*run, min float64) {
	if ss == nil {
		return
	}
	c := check{target: target, where: where, what: what, limit: fmt.Sprintf("≥ %.2f× the ceiling's throughput", min)}
	if !ss.ok() {
		c.ss, c.value, c.met = "failed", "–", boolp(false)
		*cs = append(*cs, c)
		return
	}
	c.ss = fmt.Sprintf("%s (%s)", secs(ss.Wall), rate(ss.Objects, ss.Bytes, ss.Wall))
	var best time.Duration
	var bestRun *run
	var tried []string
	for _, a := range attempts {
		t, err := ceilingTime(a)
		if !a.ok() || err != nil {
			tried = append(tried, a.Tool+" failed")
			continue
		}
		tried = append(tried, fmt.Sprintf("%s %s", strings.TrimPrefix(a.Tool, "store ceiling "), secs(t)))
		if bestRun == nil || t < best {
			best, bestRun = t, a
		}
	}
	if bestRun == nil {
		c.peer, c.value = "ceiling: no successful attempt ("+strings.Join(tried, "; ")+")", "–"
		*cs = append(*cs, c)
		return
	}
	c.peer = fmt.Sprintf("ceiling %s (%s), best of %s", secs(best), rate(bestRun.Objects, bestRun.Bytes, best), strings.Join(tried, ", "))
	v := best.Seconds() / ss.Wall.Seconds()
	c.value = fmt.Sprintf("%.3f×", v)
	c.met = boolp(v >= min)
	*cs = append(*cs, c)
}

// rate renders a throughput: objects and MiB per second.
func rate(objects int, bytes int64, d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f objects/s, %.0f MiB/s", float64(objects)/d.Seconds(), float64(bytes)/(1<<20)/d.Seconds())
}

// rss adds a peak-RSS row.
func (cs *checks) rss(where, what string, ss *run, limit int64) {
	if ss == nil {
		return // part not run (-only)
	}
	c := check{target: "4 memory", where: where, what: what, limit: "< " + mib(limit), peer: "–"}
	if !ss.ok() {
		c.ss, c.value, c.met = "failed", "–", boolp(false)
	} else {
		c.ss, c.value, c.met = mib(ss.RSS), mib(ss.RSS), boolp(ss.RSS < limit)
	}
	*cs = append(*cs, c)
}

// same adds the row that checks sstream-mirror mirrored the same items as
// ssmirror, which makes the comparison fair.
func (cs *checks) same(target, what string, s *sameResult, absent string) {
	c := check{target: target, where: "directory", what: what + ": sstream-mirror's mirror holds ssmirror's items", limit: "same count and bytes"}
	switch {
	case s == nil:
		c.ss, c.peer, c.value = "–", "sstream-mirror: "+absent, "–"
	default:
		c.ss = fmt.Sprintf("%d items (%s)", s.ssItems, mib(s.ssBytes))
		c.peer = fmt.Sprintf("%d items (%s)", s.peerItems, mib(s.peerBytes))
		c.value = "same"
		if s.diff != "" {
			c.value = s.diff
		}
		c.met = boolp(s.diff == "")
	}
	*cs = append(*cs, c)
}

func (r *results) render() string {
	var cs checks
	absent := r.sstAbsent
	maasWhat := "MAAS arch=amd64 --max 1"
	if r.maasDisk != nil && r.maasDisk.Objects >= 0 {
		maasWhat = fmt.Sprintf("MAAS arch=amd64 --max 1: %d files, %s", r.maasDisk.Objects, mib(r.maasDisk.Bytes))
	}
	smallWhat := fmt.Sprintf("%d items of %d B", r.cfg.smallItems, r.cfg.smallSize)
	noopWhat := fmt.Sprintf("re-sync of the %d items, nothing to do", r.cfg.smallItems)

	// Into a directory, against sstream-mirror.
	cs.ratio("1 big items", "directory", maasWhat+", upstream → directory", r.maasDisk, "sstream-mirror → disk", []*run{r.maasSstream}, absent, 1.0, "≤ 1.0×")
	if r.maasDisk != nil {
		cs.same("1 big items", maasWhat, r.maasSame, absent)
	}
	cs.ratio("2 small items", "directory", smallWhat+", upstream → directory", r.smallDisk, "sstream-mirror → disk", []*run{r.smallSstream}, absent, 1.0/15, "≤ 0.067× (1/15)")
	if r.smallDisk != nil {
		cs.same("2 small items", smallWhat, r.smallSame, absent)
	}
	cs.ratio("3 no-op", "directory", noopWhat, r.noopDisk, "sstream-mirror → disk", []*run{r.noopSstream}, absent, 0, "info")

	for _, s := range r.stores {
		where := s.name
		if s.err != nil {
			cs = append(cs, check{target: "–", where: where, what: "the store did not start", ss: "–", peer: "–", value: s.err.Error(), limit: "starts", met: boolp(false)})
			continue
		}
		maasS3 := maasWhat + ", upstream → S3"
		cs.ratio("1 big items", where, maasS3, s.maasSS, "aws s3 sync (disk → S3)", []*run{s.maasAWS}, "not installed", 1.0, "≤ 1.0×")
		cs.ratio("1 big items", where, maasS3, s.maasSS, "rclone copy (disk → S3)", []*run{s.maasRclone}, "not installed", 1.0, "≤ 1.0×")
		cs.ratio("1 big items", where, maasS3, s.maasSS, "sstream-mirror → disk + aws s3 sync", []*run{r.maasSstream, s.maasAWS}, absent, 0.5, "≤ 0.5×")
		cs.ratio("1 big items", where, maasS3, s.maasSS, "sstream-mirror → disk + rclone copy", []*run{r.maasSstream, s.maasRclone}, absent, 0.5, "≤ 0.5×")
		cs.ceiling("6 store ceiling", where, maasS3, s.maasSS, s.maasCeil, 0.85)

		smallS3 := smallWhat + ", upstream → S3"
		cs.ratio("2 small items", where, smallS3, s.smallSS, "rclone copy (disk → S3)", []*run{s.smallRclone}, "not installed", 1.0, "≤ 1.0×")
		cs.ratio("2 small items", where, smallS3, s.smallSS, "sstream-mirror → disk + rclone copy", []*run{r.smallSstream, s.smallRclone}, absent, 0.5, "≤ 0.5×")
		if r.cfg.awsSmall {
			cs.ratio("2 small items", where, smallS3, s.smallSS, "sstream-mirror → disk + aws s3 sync", []*run{r.smallSstream, s.smallAWS}, absent, 0.5, "≤ 0.5×")
			cs.ratio("2 small items", where, smallS3, s.smallSS, "aws s3 sync (disk → S3)", []*run{s.smallAWS}, "not installed", 0, "info")
		}
		cs.ceiling("6 store ceiling", where, smallS3, s.smallSS, s.smallCeil, 0.7)
		if x := s.smallSS; x.ok() && r.cfg.smallItems > 0 {
			per := x.CPU / time.Duration(r.cfg.smallItems)
			cs = append(cs, check{target: "7 CPU per item", where: where, what: smallS3 + ": ssmirror's user+sys CPU ÷ items",
				ss: secs(x.CPU), peer: "–", value: fmt.Sprintf("%.0f µs", float64(per)/float64(time.Microsecond)),
				limit: "≤ 150 µs", met: boolp(per <= 150*time.Microsecond)})
		}

		cs.ratio("3 no-op", where, noopWhat, s.noopSS, "rclone sync (disk → S3)", []*run{s.noopRclone}, "not installed", 0.3, "≤ 0.3×")
		if x := s.noopSS; x.ok() {
			cs = append(cs, check{target: "3 no-op", where: where, what: noopWhat, ss: secs(x.Wall), peer: "–",
				value: secs(x.Wall), limit: "about 1 s (≤ 1.5 s)", met: boolp(x.Wall <= 1500*time.Millisecond)})
			maxReq := int(math.Ceil(float64(r.cfg.smallItems)/1000)) + 10
			peerReq := "–"
			if s.noopRclone != nil {
				peerReq = fmt.Sprintf("rclone sync %d", s.noopRclone.Reqs)
			}
			cs = append(cs, check{target: "3 no-op", where: where, what: "requests to the store", ss: fmt.Sprint(x.Reqs), peer: peerReq,
				value: fmt.Sprint(x.Reqs), limit: fmt.Sprintf("≤ %d (ceil(N/1000)+10)", maxReq), met: boolp(x.Reqs >= 0 && x.Reqs <= maxReq)})
		}
		if r.cfg.awsSmall {
			cs.ratio("3 no-op", where, noopWhat, s.noopSS, "aws s3 sync (disk → S3)", []*run{s.noopAWS}, "not installed", 0, "info")
		}
		cs.ratio("3 no-op", where, noopWhat+" (S3 against directory)", s.noopSS, "sstream-mirror → disk", []*run{r.noopSstream}, absent, 0, "info")

		cs.rss(where, fmt.Sprintf("peak RSS, 1 item of %s", mib(r.cfg.bigSize)), s.bigSS, 150<<20)
		cs.rss(where, fmt.Sprintf("peak RSS, %d items of %d B", r.cfg.smallItems, r.cfg.smallSize), s.smallSS, 150<<20)
		cs.rss(where, "peak RSS, MAAS (items of 3–160 MiB, 8 transfers)", s.maasSS, 150<<20)
		cs.rss(where, "peak RSS, no-op re-sync", s.noopSS, 150<<20)
	}

	for i, p := range r.plans {
		if i >= len(planLimits) {
			break
		}
		lim := planLimits[i]
		what := fmt.Sprintf("ssmirror plan, %d items (%d products × %d versions × 5 items, products file %s; dir source, empty target, 2 filter groups)",
			p.fx.Items, p.fx.Products, p.fx.Versions, mib(p.fx.Bytes))
		limits := fmt.Sprintf("< %s, < %s", secs(lim.wall), mib(lim.rss))
		if !p.run.ok() {
			cs = append(cs, check{target: "5 planning", where: "–", what: what, ss: "failed", peer: "–", value: "–", limit: limits, met: boolp(false)})
			continue
		}
		cs = append(cs,
			check{target: "5 planning", where: "–", what: what + ": time", ss: secs(p.run.Wall), peer: "–", value: secs(p.run.Wall), limit: "< " + secs(lim.wall), met: boolp(p.run.Wall < lim.wall)},
			check{target: "5 planning", where: "–", what: what + ": peak RSS", ss: mib(p.run.RSS), peer: "–", value: mib(p.run.RSS), limit: "< " + mib(lim.rss), met: boolp(p.run.RSS < lim.rss)})
	}

	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("## ssmirror benchmark, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	w("%s\n\n", machine(r))
	w("| target | into | work | ssmirror | peer | ratio / value | limit | met |\n|---|---|---|---|---|---|---|---|\n")
	met, total := 0, 0
	for _, c := range cs {
		m := "info"
		if c.met != nil {
			total++
			if *c.met {
				met++
				m = "yes"
			} else {
				m = "**NO**"
			}
		}
		w("| %s | %s | %s | %s | %s | %s | %s | %s |\n", c.target, c.where, c.what, c.ss, c.peer, c.value, c.limit, m)
	}
	w("\n**%d of %d checks met.**\n\n", met, total)
	w("Every measured run, one at a time. CPU: user+system time of the tool; peak RSS: GNU time's maximum resident set size; store requests: counted by the store (versitygw: its access log; MinIO: its audit webhook), by S3 operation; store and upstream CPU: what the store and nginx spent during the run; others' CPU: what every other process on the machine spent meanwhile (noise: other work on a shared machine); objects: what the target holds afterwards. A store ceiling run's wall time includes loading its objects into memory; its row above counts only its PUT phase.\n\n")
	w("| # | tool | work | into | wall | CPU | peak RSS | store requests | store CPU | upstream CPU | others' CPU | objects in target | exit |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.runs {
		objs := "–"
		if x.Objects >= 0 {
			objs = fmt.Sprintf("%d (%s)", x.Objects, mib(x.Bytes))
		}
		exit := fmt.Sprint(x.Exit)
		if x.Err != nil {
			exit += " " + x.Err.Error()
		}
		storeCPU, into := "–", "directory"
		if x.Reqs >= 0 {
			storeCPU, into = secs(x.StoreCPU), x.Store
		}
		upCPU := "–"
		if r.up.cmd != nil {
			upCPU = secs(x.UpCPU)
		}
		w("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", x.N, x.Tool, x.Work, into, secs(x.Wall), secs(x.CPU), mib(x.RSS),
			x.opsString(), storeCPU, upCPU, secs(x.Other), objs, exit)
	}
	w("\nFixtures ready in %s; whole benchmark (fixtures, servers, runs) %s.\n", r.fixtures.Round(100*time.Millisecond), r.elapsed.Round(100*time.Millisecond))
	return b.String()
}

// machine describes the machine and the tools.
func machine(r *results) string {
	var lines []string
	mem := "?"
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(data), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	cpu := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, cpu, _ = strings.Cut(l, ":")
				cpu = strings.TrimSpace(cpu)
				break
			}
		}
	}
	lines = append(lines, fmt.Sprintf("- machine: %d cores (%s), %s memory, Linux %s, %s",
		runtime.NumCPU(), cpu, mem, strings.TrimSpace(string(kernel)), runtime.Version()))
	lines = append(lines, fmt.Sprintf("- ssmirror: %s (source: commit %s), default flags (--transfers 8)", r.cfg.ssmirror, r.rev))
	for _, s := range r.stores {
		if s.err != nil {
			lines = append(lines, fmt.Sprintf("- store %s: did not start (%v)", s.name, s.err))
			continue
		}
		lines = append(lines, fmt.Sprintf("- store: %s %s on %s (%s), %s; requests counted from %s; every tool through the same endpoint",
			s.name, s.version, s.medium, s.dir, s.flags, s.counting))
	}
	lines = append(lines, fmt.Sprintf("- upstream: %s on loopback", r.up.Kind))
	peer := func(name, bin string, args ...string) string {
		if bin == "" {
			return name + ": not installed"
		}
		return strings.TrimSpace(strings.SplitN(output(bin, args...), "\n", 2)[0])
	}
	lines = append(lines, "- peers: "+peer("aws", r.cfg.aws, "--version")+"; "+peer("rclone", r.cfg.rclone, "version"))
	if r.sst != nil {
		lines = append(lines, "- sstream-mirror: "+r.sst.describe())
	} else {
		lines = append(lines, "- sstream-mirror: **absent** ("+r.sstAbsent+"): its rows are not measured")
	}
	return strings.Join(lines, "\n")
}
