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
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const region = "us-east-1"

type config struct {
	work, cache, repo, out, only string
	storeRoot, stores            string
	ssmirror, aws, rclone        string
	peers, python                string
	maasScale                    int64
	smallItems, smallSize        int64
	bigSize                      int64
	planItems                    string
	ceilBig, ceilSmall           string
	nginx, keepAlive, awsSmall   bool
	profile, fixturesOnly        bool
	timeout, quiet               time.Duration
}

// partNames are the parts of the benchmark, for -only.
var partNames = []string{"maas", "small", "big", "plan", "slowlink"}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "ceiling" {
		if err := ceilingMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "ssbench ceiling:", err)
			os.Exit(1)
		}
		return
	}
	var c config
	home, _ := os.UserCacheDir()
	flag.StringVar(&c.work, "work", filepath.Join(os.TempDir(), "ssmirror-bench"), "work directory (fixtures are cached in it)")
	flag.StringVar(&c.cache, "cache", filepath.Join(home, "ssmirror", "bench"), "cache directory for the large payload")
	flag.StringVar(&c.repo, "repo", ".", "the ssmirror repository (for testdata/maas)")
	flag.StringVar(&c.out, "out", "", "also write the report (markdown) to this file (default WORK/results.md)")
	flag.StringVar(&c.ssmirror, "ssmirror", "", "ssmirror binary (required)")
	flag.StringVar(&c.aws, "aws", "/usr/bin/aws", "aws CLI (Debian's awscli)")
	flag.StringVar(&c.rclone, "rclone", "rclone", "rclone binary")
	flag.StringVar(&c.peers, "peers", "", "directory holding simplestreams.tar.gz (Canonical's python simplestreams), unpacked into WORK/peers to run sstream-mirror; empty: its rows say it is absent")
	flag.StringVar(&c.python, "python", "/usr/bin/python3", "python3 that runs sstream-mirror (with PyYAML: Debian's python3-yaml)")
	flag.StringVar(&c.stores, "stores", "versitygw,minio", "stores to run the maas, small and no-op parts against, in order: versitygw, minio (the 2 GiB item runs on the first)")
	flag.StringVar(&c.ceilBig, "ceiling-big", "2,4,8", "concurrencies the store-ceiling client tries for the MAAS objects (the best counts)")
	flag.StringVar(&c.ceilSmall, "ceiling-small", "8,16,32,64", "concurrencies the store-ceiling client tries for the small objects (the best counts)")
	flag.Int64Var(&c.maasScale, "maas-scale", 4, "divide the real MAAS item sizes by this (4: arch=amd64 --max 1 selects 15 items + 8 metadata files = 23 objects, 512 MiB)")
	flag.Int64Var(&c.smallItems, "small-items", 10000, "number of small items (a multiple of 10)")
	flag.Int64Var(&c.smallSize, "small-size", 2048, "size of each small item")
	flag.Int64Var(&c.bigSize, "big-size", 2<<30, "size of the single big item")
	flag.StringVar(&c.planItems, "plan-items", "100000,1000000", "items of the planning catalogs, comma-separated (multiples of 100); the first is checked against < 2 s and < 500 MiB, the second against < 10 s and < 2 GiB")
	flag.BoolVar(&c.nginx, "nginx", true, "serve the upstream with nginx when installed")
	flag.BoolVar(&c.keepAlive, "store-keep-alive", true, "start versitygw with --keep-alive, as S3 servers (AWS, MinIO, Ceph) keep connections open; versitygw's own default is off")
	flag.StringVar(&c.storeRoot, "store-root", "auto", "directory for a store's objects: auto (tmpfs /dev/shm when it has room, else under WORK), disk (under WORK), or a path (each store in turn)")
	flag.BoolVar(&c.awsSmall, "aws-small", true, "also run aws s3 sync on the small items (about 45 s per store at 10,000)")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Minute, "limit for one measured run")
	flag.DurationVar(&c.quiet, "quiet-wait", 90*time.Second, "in all, how long to wait for other processes to leave the machine idle before runs")
	flag.StringVar(&c.only, "only", "", "run only these parts, comma-separated: "+strings.Join(partNames, ", ")+" (small includes the no-op re-sync; default: all)")
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
	for _, p := range []*string{&c.ssmirror, &c.aws, &c.rclone} {
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
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !slices.Contains(partNames, p) {
			return fmt.Errorf("-only: unknown part %q (want %s)", p, strings.Join(partNames, ", "))
		}
		parts[p] = true
	}
	want := func(part string) bool { return len(parts) == 0 || parts[part] }
	storeKinds := strings.Split(c.stores, ",")
	for _, k := range storeKinds {
		if k != "versitygw" && k != "minio" {
			return fmt.Errorf("-stores: unknown store %q (want versitygw, minio)", k)
		}
	}
	ceilBig, err := intList("-ceiling-big", c.ceilBig)
	if err != nil {
		return err
	}
	ceilSmall, err := intList("-ceiling-small", c.ceilSmall)
	if err != nil {
		return err
	}
	planSizes, err := intList("-plan-items", c.planItems)
	if err != nil {
		return err
	}
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
	var maas, small, big *fixture
	var planFx []*fixture
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
		for _, n := range planSizes {
			t := time.Now()
			fx, err := planFixture(root, n)
			if err != nil {
				return fmt.Errorf("plan fixture: %w", err)
			}
			planFx = append(planFx, fx)
			log.Printf("fixture %s (%d items, products file %s) ready in %s", fx.Name, n, mib(fx.Bytes), time.Since(t).Round(time.Millisecond))
		}
	}
	// sstream-mirror, from the peers' snapshot.
	var sst *sstreamPeer
	sstAbsent := "not run"
	if want("maas") || want("small") {
		if sst, err = unpackSstream(c.peers, filepath.Join(c.work, "peers"), c.python); err != nil {
			sstAbsent = err.Error()
			log.Printf("sstream-mirror: %s; its rows say so", sstAbsent)
		}
	}
	fixturesTime := time.Since(began)
	if c.fixturesOnly {
		log.Printf("fixtures ready under %s", root)
		return nil
	}

	// Servers: the upstream for the whole run; the stores one at a time.
	up, err := startUpstream(c.work, root, c.nginx, log.Printf)
	if err != nil {
		return err
	}
	defer up.stop()
	var current *store
	// Interrupted: free the store's data too (on tmpfs it holds memory).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		if current != nil {
			current.stop()
		}
		log.Fatalf("stopped by %s", s)
	}()
	log.Printf("upstream: %s at %s", up.Kind, up.URL)

	rn := &runner{logs: filepath.Join(c.work, "logs"), timeout: c.timeout, logf: log.Printf,
		quiet: c.quiet, upPIDs: up.pids, profile: c.profile}
	if tb, err := exec.LookPath("/usr/bin/time"); err == nil {
		rn.timeBin = tb
	} else {
		log.Printf("GNU time (/usr/bin/time) is missing: peak RSS from wait4 includes this program's own memory")
	}
	ssArgs := func(fx *fixture, dst string, filters []string) []string {
		return append([]string{"sync", "--keyring", fx.Keyring, up.URL + fx.Name + "/", dst}, filters...)
	}
	toDir := func(work string, fx *fixture, dir string, filters ...string) *run {
		r := rn.exec("ssmirror sync → disk", work, nil, c.ssmirror, ssArgs(fx, dir, filters)...)
		r.Objects, r.Bytes = countDir(dir)
		return r
	}
	// sstream-mirror takes its options before the source and target, the
	// filters after them.
	sstream := func(work string, fx *fixture, dir string, opts []string, filters ...string) *run {
		if sst == nil {
			return nil
		}
		args := append([]string{sst.script, "--keyring=" + fx.Keyring}, opts...)
		args = append(args, up.URL+fx.Name+"/streams/v1/index.sjson", dir)
		args = append(args, filters...)
		r := rn.exec("sstream-mirror → disk", work, []string{"PYTHONPATH=" + sst.dir}, c.python, args...)
		r.Objects, r.Bytes = countDir(dir)
		return r
	}
	peer := filepath.Join(c.work, "peer")
	sstDir := filepath.Join(c.work, "sstream")
	empty := filepath.Join(c.work, "empty-target")
	for _, d := range []string{peer, sstDir, empty} {
		os.RemoveAll(d)
	}
	os.MkdirAll(empty, 0o755)
	if maas != nil {
		warm(maas.Dir)
	}
	if small != nil {
		warm(small.Dir)
	}

	res := &results{cfg: c, up: up, rev: rev, sst: sst, sstAbsent: sstAbsent}
	maasFilters := []string{"arch=amd64", "--max", "1"}
	// The peers upload sstream-mirror's mirror (the user's alternative:
	// sstream-mirror to disk, then a sync to the bucket); without
	// sstream-mirror, ssmirror's own mirror on disk (the same objects).
	upload := func(sstRun *run, ssDir, sstDir string) string {
		if sstRun.ok() {
			return sstDir
		}
		return ssDir
	}

	// 1. Big items (the MAAS shape) and 2. small items, into a directory:
	// ssmirror against sstream-mirror, the same job. The directories are
	// the peers' sources and the ceiling client's objects below.
	maasDir, smallDir := filepath.Join(peer, "maas"), filepath.Join(peer, "small")
	maasSst, smallSst := filepath.Join(sstDir, "maas"), filepath.Join(sstDir, "small")
	if want("maas") {
		res.maasDisk = toDir("maas", maas, maasDir, maasFilters...)
		res.maasSstream = sstream("maas", maas, maasSst, []string{"--max=1"}, "arch=amd64")
		res.maasSame = sameItems(maasDir, maasSst, res.maasSstream)
	}
	if want("small") {
		res.smallDisk = toDir("small", small, smallDir)
		res.smallSstream = sstream("small", small, smallSst, nil)
		res.smallSame = sameItems(smallDir, smallSst, res.smallSstream)
		// 3. The no-op, into the same directories.
		res.noopDisk = toDir("no-op", small, smallDir)
		res.noopSstream = sstream("no-op", small, smallSst, nil)
	}

	// Into each store: ssmirror from the upstream, the peers from disk,
	// and the store's ceiling.
	for i, kind := range storeKinds {
		if !want("maas") && !want("small") && !(i == 0 && want("big")) {
			break
		}
		var st *store
		if kind == "minio" {
			st, err = startMinIO(c.work, storeRoot(c, kind), log.Printf)
		} else {
			st, err = startStore(c.work, storeRoot(c, kind), c.keepAlive, log.Printf)
		}
		if err != nil {
			log.Printf("%s did not start: %v; its rows say so", kind, err)
			res.stores = append(res.stores, &storeRuns{name: kind, err: err})
			continue
		}
		current = st
		sr, err := storeParts(c, rn, st, up, res, storeEnv{
			want: want, first: i == 0, maas: maas, small: small, big: big, ssArgs: ssArgs,
			maasFilters: maasFilters, ceilBig: ceilBig, ceilSmall: ceilSmall,
			maasUp: upload(res.maasSstream, maasDir, maasSst), maasDir: maasDir,
			smallUp: upload(res.smallSstream, smallDir, smallSst), smallDir: smallDir,
		})
		st.stop()
		current = nil
		if err != nil {
			return err
		}
		res.stores = append(res.stores, sr)
	}

	// 5. Planning scale.
	rn.store = nil
	for _, fx := range planFx {
		r := rn.exec("ssmirror plan", fmt.Sprintf("%d items", fx.Items), nil, c.ssmirror,
			"plan", fx.Dir+"/streams/v1/index.json", empty, "arch=amd64", "--or", "arch=arm64")
		res.plans = append(res.plans, planRun{fx: fx, run: r})
	}

	// 6. Slow links.
	var slow string
	if want("slowlink") {
		st, err := startStore(c.work, storeRoot(c, "versitygw"), c.keepAlive, log.Printf)
		if err != nil {
			return fmt.Errorf("slowlink: starting versitygw: %w", err)
		}
		current, rn.store = st, st
		creds := []string{"AWS_ACCESS_KEY_ID=" + st.AccessKey, "AWS_SECRET_ACCESS_KEY=" + st.SecretKey, "AWS_REGION=" + region}
		slow, err = slowlinkPart(c, rn, st, up, maas, root, creds)
		st.stop()
		current, rn.store = nil, nil
		if err != nil {
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

// storeRoot is the data directory for the store kind (see -store-root);
// "" lets the store choose one under the work directory.
func storeRoot(c config, kind string) string {
	switch c.storeRoot {
	case "auto":
		// The largest object, staged as parts and then assembled, every
		// tool's copy of the MAAS objects, plus headroom.
		return memoryRoot(kind, 2*max(c.bigSize, 512<<20)+8*(512<<20)+1<<30)
	case "disk":
		return ""
	}
	return filepath.Join(c.storeRoot, kind)
}

// storeEnv is what the parts run against a store need from the rest of
// the benchmark.
type storeEnv struct {
	want               func(string) bool
	first              bool // the first store: the 2 GiB item runs here
	maas, small, big   *fixture
	ssArgs             func(fx *fixture, dst string, filters []string) []string
	maasFilters        []string
	ceilBig, ceilSmall []int
	maasUp, maasDir    string // what the peers upload; what the ceiling client PUTs
	smallUp, smallDir  string
}

// storeParts runs the maas, small and no-op parts (and on the first
// store the 2 GiB item) against st.
func storeParts(c config, rn *runner, st *store, up *upstreamServer, res *results, e storeEnv) (*storeRuns, error) {
	rn.store = st
	defer func() { rn.store = nil }()
	sr := &storeRuns{name: st.Name, version: st.Version, medium: st.Medium, dir: st.Dir, flags: st.Flags, counting: st.Counting}
	creds := []string{"AWS_ACCESS_KEY_ID=" + st.AccessKey, "AWS_SECRET_ACCESS_KEY=" + st.SecretKey, "AWS_REGION=" + region}
	awsConfig := filepath.Join(c.work, "aws-config")
	os.WriteFile(awsConfig, []byte("[default]\nregion = "+region+"\ns3 =\n    addressing_style = path\n"), 0o600)
	rcloneConfig := filepath.Join(c.work, "rclone.conf")
	os.WriteFile(rcloneConfig, []byte(fmt.Sprintf("[bench]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\nendpoint = %s\nregion = %s\nforce_path_style = true\n",
		st.AccessKey, st.SecretKey, st.Endpoint, region)), 0o600)
	awsEnv := append(slices.Clone(creds), "AWS_DEFAULT_REGION="+region, "AWS_CONFIG_FILE="+awsConfig,
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(c.work, "no-aws-credentials"), "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true")

	var bucketErr error
	bucket := func(name string) string {
		if err := st.makeBucket(name); err != nil && bucketErr == nil {
			bucketErr = fmt.Errorf("%s: creating bucket %s: %w", st.Name, name, err)
		}
		return name
	}
	counted := func(r *run, b string) *run {
		r.Objects, r.Bytes, _ = st.count(b)
		return r
	}
	ssSync := func(work string, fx *fixture, b string, filters ...string) *run {
		args := append(e.ssArgs(fx, "s3://"+b, filters), "--endpoint", st.Endpoint, "--path-style")
		return counted(rn.exec("ssmirror sync", work, creds, c.ssmirror, args...), b)
	}
	awsSync := func(work, dir, b string) *run {
		if c.aws == "" {
			return nil
		}
		return counted(rn.exec("aws s3 sync", work, awsEnv, c.aws, "--endpoint-url", st.Endpoint, "s3", "sync", dir, "s3://"+b, "--only-show-errors"), b)
	}
	rclone := func(verb, work, dir, b string) *run {
		if c.rclone == "" {
			return nil
		}
		return counted(rn.exec("rclone "+verb, work, nil, c.rclone, "--config", rcloneConfig, verb, dir, "bench:"+b), b)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ceiling := func(work, dir string, concs []int) []*run {
		var runs []*run
		for _, n := range concs {
			b := bucket(fmt.Sprintf("%s-ceiling-%d", work, n))
			r := rn.exec(fmt.Sprintf("store ceiling (%d in flight)", n), work, creds, self,
				"ceiling", "-endpoint", st.Endpoint, "-bucket", b, "-dir", dir, "-concurrency", fmt.Sprint(n))
			runs = append(runs, counted(r, b))
		}
		return runs
	}

	if e.want("maas") {
		sr.maasSS = ssSync("maas", e.maas, bucket("maas-ssmirror"), e.maasFilters...)
		sr.maasAWS = awsSync("maas", e.maasUp, bucket("maas-aws"))
		sr.maasRclone = rclone("copy", "maas", e.maasUp, bucket("maas-rclone"))
		if res.maasDisk.ok() {
			sr.maasCeil = ceiling("maas", e.maasDir, e.ceilBig)
		}
	}
	if e.want("small") {
		sr.smallSS = ssSync("small", e.small, bucket("small-ssmirror"))
		sr.smallRclone = rclone("copy", "small", e.smallUp, bucket("small-rclone"))
		if c.awsSmall {
			sr.smallAWS = awsSync("small", e.smallUp, bucket("small-aws"))
		}
		if res.smallDisk.ok() {
			sr.smallCeil = ceiling("small", e.smallDir, e.ceilSmall)
		}
		// 3. No-op re-sync.
		sr.noopSS = ssSync("no-op", e.small, "small-ssmirror")
		sr.noopRclone = rclone("sync", "no-op", e.smallUp, "small-rclone")
		if c.awsSmall {
			sr.noopAWS = awsSync("no-op", e.smallUp, "small-aws")
		}
	}
	// 4. Memory: one 2 GiB item.
	if e.first && e.want("big") {
		warm(e.big.Dir)
		sr.bigSS = ssSync("big item", e.big, bucket("big-ssmirror"))
	}
	return sr, bucketErr
}

// intList parses a comma-separated list of positive integers.
func intList(flagName, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: %q is not a positive integer", flagName, f)
		}
		out = append(out, n)
	}
	return out, nil
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
