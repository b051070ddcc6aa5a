// Command ssbench is ssmirror's benchmark: it builds the fixtures (the
// MAAS catalog shapes with real-scale payloads, 10,000 small items, one
// 2 GiB item, a 100,000-item catalog), starts Versity S3 Gateway and an
// upstream HTTP server (nginx, else Go's file server) on loopback, runs
// ssmirror and the peer tools (aws s3 sync, rclone, sstream-mirror when
// installed) one at a time, and prints one table: each performance target
// with ssmirror's time against the peers' as ratios, peak RSS and the
// requests each run sent to the store (counted from versitygw's access
// log).
//
// bench/run.sh installs the peers, builds ssmirror and this program, and
// runs it; see bench/README.md.
package main

import (
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

const region = "us-east-1"

// Published sstream-mirror times (the reference measurements on the same
// kind of machine), used when sstream-mirror is not installed.
var publishedSstream = map[string]time.Duration{
	"maas":  2100 * time.Millisecond,
	"small": 156 * time.Second,
	"noop":  1300 * time.Millisecond,
}

type config struct {
	work, cache, repo, out, only   string
	storeRoot                      string
	ssmirror, aws, rclone, sstream string
	maasScale                      int64
	smallItems, smallSize          int64
	bigSize                        int64
	planItems                      int
	nginx, keepAlive, awsSmall     bool
	profile, fixturesOnly          bool
	timeout, quiet                 time.Duration
}

func main() {
	var c config
	home, _ := os.UserCacheDir()
	flag.StringVar(&c.work, "work", filepath.Join(os.TempDir(), "ssmirror-bench"), "work directory (fixtures are cached in it)")
	flag.StringVar(&c.cache, "cache", filepath.Join(home, "ssmirror", "bench"), "cache directory for the large payload")
	flag.StringVar(&c.repo, "repo", ".", "the ssmirror repository (for testdata/maas)")
	flag.StringVar(&c.out, "out", "", "also write the report (markdown) to this file (default WORK/results.md)")
	flag.StringVar(&c.ssmirror, "ssmirror", "", "ssmirror binary (required)")
	flag.StringVar(&c.aws, "aws", "/usr/bin/aws", "aws CLI (Debian's awscli)")
	flag.StringVar(&c.rclone, "rclone", "rclone", "rclone binary")
	flag.StringVar(&c.sstream, "sstream-mirror", "sstream-mirror", "sstream-mirror binary (published numbers are used when it is missing)")
	flag.Int64Var(&c.maasScale, "maas-scale", 4, "divide the real MAAS item sizes by this (4: arch=amd64 --max 1 selects 15 items + 8 metadata files = 23 objects, 512 MiB)")
	flag.Int64Var(&c.smallItems, "small-items", 10000, "number of small items (a multiple of 10)")
	flag.Int64Var(&c.smallSize, "small-size", 2048, "size of each small item")
	flag.Int64Var(&c.bigSize, "big-size", 2<<30, "size of the single big item")
	flag.IntVar(&c.planItems, "plan-items", 100000, "items in the planning catalog (a multiple of 20)")
	flag.BoolVar(&c.nginx, "nginx", true, "serve the upstream with nginx when installed")
	flag.BoolVar(&c.keepAlive, "store-keep-alive", true, "start versitygw with --keep-alive, as S3 servers (AWS, MinIO, Ceph) keep connections open; versitygw's own default is off")
	flag.StringVar(&c.storeRoot, "store-root", "auto", "directory for the store's objects: auto (tmpfs /dev/shm when it has room, else WORK/gw), disk (WORK/gw), or a path")
	flag.BoolVar(&c.awsSmall, "aws-small", true, "also run aws s3 sync on the 10,000 small items (about 45 s; informational)")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Minute, "limit for one measured run")
	flag.DurationVar(&c.quiet, "quiet-wait", 90*time.Second, "in all, how long to wait for other processes to leave the machine idle before runs")
	flag.StringVar(&c.only, "only", "", "run only these parts, comma-separated: maas, small (with the no-op re-sync), big, plan, slowlink (default: all)")
	flag.BoolVar(&c.fixturesOnly, "fixtures-only", false, "build the fixtures and stop")
	flag.BoolVar(&c.profile, "profile", false, "build ssmirror with a profiling hook (go build -overlay) and write CPU and heap profiles of every ssmirror run next to its log")
	flag.Parse()
	if c.ssmirror == "" {
		log.Fatal("-ssmirror is required")
	}
	if c.out == "" {
		c.out = filepath.Join(c.work, "results.md")
	}
	log.SetFlags(log.Ltime)
	log.SetPrefix("ssbench: ")
	if err := bench(c); err != nil {
		log.Fatal(err)
	}
}

func bench(c config) error {
	began := time.Now()
	// The source the binary was built from (run.sh builds it just before).
	rev := strings.TrimSpace(output("git", "-C", c.repo, "rev-parse", "--short", "HEAD"))
	if strings.TrimSpace(output("git", "-C", c.repo, "status", "--porcelain", "--untracked-files=no")) != "" {
		rev += " with uncommitted changes"
	}
	for _, d := range []string{c.work, filepath.Join(c.work, "logs"), filepath.Join(c.work, "fixtures")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	os.RemoveAll(filepath.Join(c.work, "logs"))
	os.MkdirAll(filepath.Join(c.work, "logs"), 0o755)
	for _, p := range []*string{&c.ssmirror, &c.aws, &c.rclone, &c.sstream} {
		if abs, err := exec.LookPath(*p); err == nil {
			*p, _ = filepath.Abs(abs)
		} else if p == &c.ssmirror {
			return fmt.Errorf("ssmirror binary: %w", err)
		} else {
			log.Printf("%s is not installed", *p)
			*p = ""
		}
	}

	parts := map[string]bool{}
	for _, p := range strings.Split(c.only, ",") {
		switch p = strings.TrimSpace(p); p {
		case "maas", "small", "big", "plan", "slowlink":
			parts[p] = true
		case "":
		default:
			return fmt.Errorf("-only: unknown part %q (want maas, small, big, plan, slowlink)", p)
		}
	}
	want := func(part string) bool { return len(parts) == 0 || parts[part] }
	var err error
	if c.profile && !c.fixturesOnly {
		prof := filepath.Join(c.work, "bin", "ssmirror-profiled")
		if err := buildProfiled(c.repo, filepath.Join(c.work, "overlay"), prof); err != nil {
			return fmt.Errorf("building the profiled ssmirror: %w", err)
		}
		log.Printf("profiling: using %s (profiles are written next to each run's log)", prof)
		c.ssmirror = prof
	}

	// Fixtures.
	root := filepath.Join(c.work, "fixtures")
	var maas, small, big, planFx *fixture
	if want("maas") {
		t := time.Now()
		if maas, err = maasFixture(root, c.repo, c.maasScale); err != nil {
			return fmt.Errorf("MAAS fixture: %w", err)
		}
		debug.FreeOSMemory() // the generated tree is garbage now
		log.Printf("fixture maas (scale 1/%d) ready in %s", c.maasScale, time.Since(t).Round(time.Millisecond))
	}
	if want("small") {
		t := time.Now()
		if small, err = smallFixture(root, int(c.smallItems/10), 2, 5, c.smallSize); err != nil {
			return fmt.Errorf("small fixture: %w", err)
		}
		log.Printf("fixture small (%d × %d B) ready in %s", c.smallItems, c.smallSize, time.Since(t).Round(time.Millisecond))
	}
	if want("big") {
		t := time.Now()
		if big, err = bigFixture(root, c.cache, c.bigSize); err != nil {
			return fmt.Errorf("big fixture: %w", err)
		}
		log.Printf("fixture big (1 × %s) ready in %s", mib(c.bigSize), time.Since(t).Round(time.Millisecond))
	}
	if want("plan") {
		t := time.Now()
		if planFx, err = planFixture(root, c.planItems/20, 4, 5); err != nil {
			return fmt.Errorf("plan fixture: %w", err)
		}
		log.Printf("fixture plan (%d items) ready in %s", c.planItems, time.Since(t).Round(time.Millisecond))
	}
	fixturesTime := time.Since(began)
	if c.fixturesOnly {
		log.Printf("fixtures ready under %s", root)
		return nil
	}

	// Servers.
	rootDir := c.storeRoot
	switch rootDir {
	case "auto":
		// The largest object, staged as parts and then assembled, plus
		// headroom.
		rootDir = memoryRoot(2*max(c.bigSize, 512<<20) + 1<<30)
	case "disk":
		rootDir = ""
	}
	st, err := startStore(c.work, rootDir, c.keepAlive, log.Printf)
	if err != nil {
		return err
	}
	defer st.stop()
	// Interrupted: free the store's root too (on tmpfs it holds memory).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		st.stop()
		log.Fatalf("stopped by %s", s)
	}()
	up, err := startUpstream(c.work, root, c.nginx, log.Printf)
	if err != nil {
		return err
	}
	defer up.stop()
	log.Printf("store: versitygw %s at %s; upstream: %s at %s", st.Version, st.Endpoint, up.Kind, up.URL)

	awsConfig := filepath.Join(c.work, "aws-config")
	os.WriteFile(awsConfig, []byte("[default]\nregion = "+region+"\ns3 =\n    addressing_style = path\n"), 0o600)
	rcloneConfig := filepath.Join(c.work, "rclone.conf")
	os.WriteFile(rcloneConfig, []byte(fmt.Sprintf("[bench]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\nendpoint = %s\nregion = %s\nforce_path_style = true\n",
		st.AccessKey, st.SecretKey, st.Endpoint, region)), 0o600)
	creds := []string{"AWS_ACCESS_KEY_ID=" + st.AccessKey, "AWS_SECRET_ACCESS_KEY=" + st.SecretKey, "AWS_REGION=" + region}
	awsEnv := append(creds, "AWS_DEFAULT_REGION="+region, "AWS_CONFIG_FILE="+awsConfig,
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(c.work, "no-aws-credentials"), "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true")

	rn := &runner{logs: filepath.Join(c.work, "logs"), store: st, timeout: c.timeout, logf: log.Printf,
		quiet: c.quiet, upPIDs: up.pids, profile: c.profile}
	if tb, err := exec.LookPath("/usr/bin/time"); err == nil {
		rn.timeBin = tb
	} else {
		log.Printf("GNU time (/usr/bin/time) is missing: peak RSS from wait4 includes this program's own memory")
	}
	bucketOK := func(r *run, bucket string) {
		r.Objects, r.Bytes, _ = st.count(bucket)
	}
	ssSync := func(work string, fx *fixture, dst string, filters ...string) *run {
		args := []string{"sync", "--keyring", fx.Keyring, up.URL + fx.Name + "/", dst}
		if strings.HasPrefix(dst, "s3://") {
			args = append(args, "--endpoint", st.Endpoint, "--path-style")
		}
		args = append(args, filters...)
		tool := "ssmirror sync"
		if !strings.HasPrefix(dst, "s3://") {
			tool = "ssmirror sync → disk"
		}
		r := rn.exec(tool, work, creds, c.ssmirror, args...)
		if b, ok := strings.CutPrefix(dst, "s3://"); ok {
			bucketOK(r, b)
		} else {
			r.Objects, r.Bytes = countDir(dst)
		}
		return r
	}
	awsSync := func(work, dir, bucket string) *run {
		if c.aws == "" {
			return nil
		}
		r := rn.exec("aws s3 sync", work, awsEnv, c.aws, "--endpoint-url", st.Endpoint, "s3", "sync", dir, "s3://"+bucket, "--only-show-errors")
		bucketOK(r, bucket)
		return r
	}
	rclone := func(verb, work, dir, bucket string) *run {
		if c.rclone == "" {
			return nil
		}
		r := rn.exec("rclone "+verb, work, nil, c.rclone, "--config", rcloneConfig, verb, dir, "bench:"+bucket)
		bucketOK(r, bucket)
		return r
	}
	sstream := func(work string, fx *fixture, dir string, filters ...string) *run {
		if c.sstream == "" {
			return nil
		}
		args := []string{"--keyring=" + fx.Keyring, up.URL + fx.Name + "/streams/v1/index.sjson", dir}
		args = append(args, filters...)
		r := rn.exec("sstream-mirror", work, nil, c.sstream, args...)
		r.Objects, r.Bytes = countDir(dir)
		return r
	}
	buckets := []string{"maas-ssmirror", "maas-aws", "maas-rclone", "small-ssmirror", "small-aws", "small-rclone", "big-ssmirror"}
	for _, b := range buckets {
		if err := st.makeBucket(b); err != nil {
			return fmt.Errorf("creating bucket %s: %w", b, err)
		}
	}
	peer := filepath.Join(c.work, "peer")
	os.RemoveAll(peer)
	os.RemoveAll(filepath.Join(c.work, "sstream"))
	empty := filepath.Join(c.work, "empty-target")
	os.RemoveAll(empty)
	os.MkdirAll(empty, 0o755)
	if maas != nil {
		warm(maas.Dir)
	}
	if small != nil {
		warm(small.Dir)
	}

	res := &results{cfg: c, store: st, up: up, rev: rev}
	maasFilters := []string{"arch=amd64", "--max", "1"}

	// 1. Big items: the MAAS shape.
	if want("maas") {
		res.maasSS = ssSync("maas", maas, "s3://maas-ssmirror", maasFilters...)
		res.maasDisk = ssSync("maas", maas, filepath.Join(peer, "maas"), maasFilters...)
		res.maasAWS = awsSync("maas", filepath.Join(peer, "maas"), "maas-aws")
		res.maasRclone = rclone("copy", "maas", filepath.Join(peer, "maas"), "maas-rclone")
		res.maasSstream = sstream("maas", maas, filepath.Join(c.work, "sstream", "maas"), "arch=amd64", "--max=1")
	}

	if want("small") {
		// 2. Many small items.
		res.smallSS = ssSync("small", small, "s3://small-ssmirror")
		res.smallDisk = ssSync("small", small, filepath.Join(peer, "small"))
		res.smallRclone = rclone("copy", "small", filepath.Join(peer, "small"), "small-rclone")
		if c.awsSmall {
			res.smallAWS = awsSync("small", filepath.Join(peer, "small"), "small-aws")
		}
		res.smallSstream = sstream("small", small, filepath.Join(c.work, "sstream", "small"))

		// 3. No-op re-sync.
		res.noopSS = ssSync("no-op", small, "s3://small-ssmirror")
		res.noopRclone = rclone("sync", "no-op", filepath.Join(peer, "small"), "small-rclone")
		if c.awsSmall {
			res.noopAWS = awsSync("no-op", filepath.Join(peer, "small"), "small-aws")
		}
		res.noopSstream = sstream("no-op", small, filepath.Join(c.work, "sstream", "small"))
	}

	// 4. Memory: one 2 GiB item.
	if want("big") {
		warm(big.Dir)
		res.bigSS = ssSync("2 GiB item", big, "s3://big-ssmirror")
	}

	// 5. Planning scale.
	if want("plan") {
		rn.store = nil
		res.plan = rn.exec("ssmirror plan", fmt.Sprintf("%d items", c.planItems), nil, c.ssmirror,
			"plan", planFx.Dir+"/streams/v1/index.json", empty, "arch=amd64", "--or", "arch=arm64")
	}

	// 6. Slow links.
	var slow string
	if want("slowlink") {
		rn.store = st
		if slow, err = slowlinkPart(c, rn, st, up, maas, root, creds); err != nil {
			return fmt.Errorf("slowlink: %w", err)
		}
	}

	res.runs = rn.runs
	res.fixtures = fixturesTime
	res.elapsed = time.Since(began)
	report := res.render() + slow
	fmt.Print(report)
	if err := os.WriteFile(c.out, []byte(report), 0o644); err != nil {
		return err
	}
	log.Printf("report written to %s; logs of every run in %s", c.out, rn.logs)
	return nil
}

type results struct {
	rev   string
	cfg   config
	store *store
	up    *upstreamServer

	maasSS, maasDisk, maasAWS, maasRclone, maasSstream      *run
	smallSS, smallDisk, smallAWS, smallRclone, smallSstream *run
	noopSS, noopRclone, noopAWS, noopSstream, bigSS, plan   *run
	runs                                                    []*run
	fixtures, elapsed                                       time.Duration
}

// check is one row of the targets table.
type check struct {
	target, what, ss, peer, value, limit string
	met                                  *bool // nil: for information
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func boolp(b bool) *bool { return &b }

func (r *results) render() string {
	var checks []check
	ratio := func(target, what string, ss, peer *run, peerName string, limit float64, limitText string, published time.Duration) {
		c := check{target: target, what: what, limit: limitText}
		if ss == nil {
			return // part not run (-only)
		}
		if !ss.ok() {
			c.ss, c.value = "failed", "–"
			c.met = boolp(false)
			checks = append(checks, c)
			return
		}
		c.ss = secs(ss.Wall)
		var pt time.Duration
		switch {
		case peer != nil && peer.ok():
			pt = peer.Wall
			c.peer = peerName + " " + secs(pt)
		case peer != nil:
			c.peer = peerName + " failed"
		case published > 0:
			pt = published
			c.peer = peerName + " " + secs(pt) + " (published: not installable here)"
		default:
			c.peer = peerName + " not run"
		}
		if pt > 0 {
			v := ss.Wall.Seconds() / pt.Seconds()
			c.value = fmt.Sprintf("%.3f×", v)
			if limit > 0 {
				c.met = boolp(v <= limit)
			}
		} else {
			c.value = "–"
		}
		checks = append(checks, c)
	}
	maasWhat := "MAAS arch=amd64 --max 1"
	if r.maasSS != nil && r.maasSS.Objects >= 0 {
		maasWhat = fmt.Sprintf("MAAS arch=amd64 --max 1: %d objects, %s, upstream → S3", r.maasSS.Objects, mib(r.maasSS.Bytes))
	}
	ratio("1 big items", maasWhat, r.maasSS, r.maasAWS, "aws s3 sync (disk → S3)", 1.0, "≤ 1.0×", 0)
	ratio("1 big items", maasWhat, r.maasSS, r.maasRclone, "rclone copy (disk → S3)", 1.0, "≤ 1.0×", 0)
	ratio("1 big items", maasWhat, r.maasSS, r.maasSstream, "sstream-mirror (→ disk)", 0, "info", publishedSstream["maas"])
	smallWhat := fmt.Sprintf("%d items of %d B, upstream → S3", r.cfg.smallItems, r.cfg.smallSize)
	ratio("2 small items", smallWhat, r.smallSS, r.smallRclone, "rclone copy (disk → S3)", 1.0, "≤ 1.0×", 0)
	ratio("2 small items", smallWhat, r.smallSS, r.smallSstream, "sstream-mirror (→ disk)", 1.0/15, "≤ 0.067× (1/15)", publishedSstream["small"])
	if r.cfg.awsSmall {
		ratio("2 small items", smallWhat, r.smallSS, r.smallAWS, "aws s3 sync (disk → S3)", 0, "info", 0)
	}
	noopWhat := fmt.Sprintf("re-sync of the %d items, nothing to do", r.cfg.smallItems)
	ratio("3 no-op", noopWhat, r.noopSS, r.noopRclone, "rclone sync (disk → S3)", 0.3, "≤ 0.3×", 0)
	if r.noopSS != nil && r.noopSS.ok() {
		checks = append(checks, check{target: "3 no-op", what: noopWhat, ss: secs(r.noopSS.Wall), peer: "–",
			value: secs(r.noopSS.Wall), limit: "about 1 s (≤ 1.5 s)", met: boolp(r.noopSS.Wall <= 1500*time.Millisecond)})
		maxReq := int(math.Ceil(float64(r.cfg.smallItems)/1000)) + 10
		peerReq := "–"
		if r.noopRclone != nil {
			peerReq = fmt.Sprintf("rclone sync %d", r.noopRclone.Reqs)
		}
		checks = append(checks, check{target: "3 no-op", what: "requests to the store", ss: fmt.Sprint(r.noopSS.Reqs), peer: peerReq,
			value: fmt.Sprint(r.noopSS.Reqs), limit: fmt.Sprintf("≤ %d (ceil(N/1000)+10)", maxReq), met: boolp(r.noopSS.Reqs >= 0 && r.noopSS.Reqs <= maxReq)})
	}
	if r.cfg.awsSmall {
		ratio("3 no-op", noopWhat, r.noopSS, r.noopAWS, "aws s3 sync (disk → S3)", 0, "info", 0)
	}
	ratio("3 no-op", noopWhat, r.noopSS, r.noopSstream, "sstream-mirror (→ disk)", 0, "info", publishedSstream["noop"])
	rss := func(what string, ss *run, limit int64) {
		c := check{target: "4 memory", what: what, limit: "< " + mib(limit), peer: "–"}
		if ss == nil {
			return // part not run (-only)
		}
		if !ss.ok() {
			c.ss, c.value, c.met = "failed", "–", boolp(false)
		} else {
			c.ss, c.value, c.met = mib(ss.RSS), mib(ss.RSS), boolp(ss.RSS < limit)
		}
		checks = append(checks, c)
	}
	rss(fmt.Sprintf("peak RSS, 1 item of %s", mib(r.cfg.bigSize)), r.bigSS, 150<<20)
	rss(fmt.Sprintf("peak RSS, %d items of %d B", r.cfg.smallItems, r.cfg.smallSize), r.smallSS, 150<<20)
	rss("peak RSS, MAAS (items of 3–160 MiB, 8 transfers)", r.maasSS, 150<<20)
	rss("peak RSS, no-op re-sync", r.noopSS, 150<<20)
	planWhat := fmt.Sprintf("ssmirror plan, %d items (dir source, empty target, 2 filter groups)", r.cfg.planItems)
	if r.plan == nil {
		// part not run (-only)
	} else if r.plan.ok() {
		checks = append(checks,
			check{target: "5 planning", what: planWhat + ": time", ss: secs(r.plan.Wall), peer: "–", value: secs(r.plan.Wall), limit: "< 2 s", met: boolp(r.plan.Wall < 2*time.Second)},
			check{target: "5 planning", what: planWhat + ": peak RSS", ss: mib(r.plan.RSS), peer: "–", value: mib(r.plan.RSS), limit: "< 500.0 MiB", met: boolp(r.plan.RSS < 500<<20)})
	} else {
		checks = append(checks, check{target: "5 planning", what: planWhat, ss: "failed", peer: "–", value: "–", limit: "< 2 s, < 500 MiB", met: boolp(false)})
	}

	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("## ssmirror benchmark, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	w("%s\n\n", machine(r))
	w("| target | work | ssmirror | peer | ratio / value | limit | met |\n|---|---|---|---|---|---|---|\n")
	met, total := 0, 0
	for _, c := range checks {
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
		w("| %s | %s | %s | %s | %s | %s | %s |\n", c.target, c.what, c.ss, c.peer, c.value, c.limit, m)
	}
	w("\n**%d of %d checks met.**\n\n", met, total)
	w("Every measured run, one at a time. CPU: user+system time of the tool; peak RSS: GNU time's maximum resident set size; store requests: lines of versitygw's access log during the run, by S3 operation; store and upstream CPU: what versitygw and nginx spent during the run; others' CPU: what every other process on the machine spent meanwhile (noise: other work on a shared machine); objects: what the target holds afterwards.\n\n")
	w("| # | tool | work | wall | CPU | peak RSS | store requests | store CPU | upstream CPU | others' CPU | objects in target | exit |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.runs {
		objs := "–"
		if x.Objects >= 0 {
			objs = fmt.Sprintf("%d (%s)", x.Objects, mib(x.Bytes))
		}
		exit := fmt.Sprint(x.Exit)
		if x.Err != nil {
			exit += " " + x.Err.Error()
		}
		storeCPU := "–"
		if x.Reqs >= 0 {
			storeCPU = secs(x.StoreCPU)
		}
		upCPU := "–"
		if r.up.cmd != nil && x.Reqs >= 0 {
			upCPU = secs(x.UpCPU)
		}
		w("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", x.N, x.Tool, x.Work, secs(x.Wall), secs(x.CPU), mib(x.RSS),
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
	lines = append(lines, fmt.Sprintf("- store: versitygw %s, posix backend on %s (%s), `%s`, all tools through the same endpoint", r.store.Version, r.store.Medium, r.store.Dir, r.store.Flags))
	lines = append(lines, fmt.Sprintf("- upstream: %s on loopback", r.up.Kind))
	peer := func(name, bin string, args ...string) string {
		if bin == "" {
			return name + ": not installed"
		}
		return strings.TrimSpace(strings.SplitN(output(bin, args...), "\n", 2)[0])
	}
	lines = append(lines, "- peers: "+peer("aws", r.cfg.aws, "--version")+"; "+peer("rclone", r.cfg.rclone, "version")+"; "+
		map[bool]string{true: "sstream-mirror: " + r.cfg.sstream, false: "sstream-mirror: not installed"}[r.cfg.sstream != ""])
	if r.cfg.sstream == "" {
		lines = append(lines, "- sstream-mirror is not packaged for this Debian release: its rows use its published reference times (2.1 s, 156 s, 1.3 s on the same kind of machine)")
	}
	return strings.Join(lines, "\n")
}

func output(name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Stdin = nil
	out, _ := cmd.CombinedOutput()
	return string(out)
}

//go:embed profhook.go.tmpl
var profHook string

// buildProfiled builds ssmirror from repo with a profiling hook added
// through go build -overlay (the sources are not changed): a copy of
// cmd/ssmirror/main.go whose os.Exit calls go through the hook, and the
// hook itself, which writes CPU and heap profiles when
// SSMIRROR_BENCH_PROFILE names a file prefix.
func buildProfiled(repo, dir, out string) error {
	repo, err := filepath.Abs(repo)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mainGo := filepath.Join(repo, "cmd", "ssmirror", "main.go")
	src, err := os.ReadFile(mainGo)
	if err != nil {
		return err
	}
	if !strings.Contains(string(src), "os.Exit(") {
		return fmt.Errorf("%s calls no os.Exit: the profiling hook cannot be attached", mainGo)
	}
	patched := filepath.Join(dir, "main.go")
	hook := filepath.Join(dir, "zz_benchprof.go")
	if err := os.WriteFile(patched, []byte(strings.ReplaceAll(string(src), "os.Exit(", "benchProfExit(")), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(hook, []byte(profHook), 0o644); err != nil {
		return err
	}
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{
		mainGo: patched,
		filepath.Join(repo, "cmd", "ssmirror", "zz_benchprof.go"): hook,
	}})
	ovFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ovFile, overlay, 0o644); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-overlay", ovFile, "-o", out, "./cmd/ssmirror")
	cmd.Dir = repo
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}
