package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ssmirror/ssmirror/internal/s3test"
)

// store is an S3 server under test: versitygw with its posix backend
// (s3test.Run), which writes an access log, or MinIO (s3test.RunMinIO),
// which sends an audit record of every request to a loopback listener in
// this program. Either way the requests of each run are counted without a
// proxy in the data path.
type store struct {
	*s3test.Server
	Name     string // "versitygw", "minio": the report's and the buckets' label
	Version  string
	Flags    string // how it was started (for the report)
	Medium   string // what the data directory is on, for the report ("tmpfs", "ext4", ...)
	Counting string // how requests are counted, for the report
	reqs     requestLog
	remove   []string // directories freed by stop
	closeLog func()

	mc *minio.Client
}

// requestLog counts the requests a store served.
type requestLog interface {
	// mark returns a position in the log, the start of a measured window.
	mark() int64
	// since waits until the log stops growing, then counts the requests
	// logged after mark, by S3 operation.
	since(mark int64) (int, map[string]int, error)
}

// startStore runs versitygw on a fresh gateway root: rootDir when it is
// set, else under work.
func startStore(work, rootDir string, keepAlive bool, logf func(string, ...any)) (*store, error) {
	root := rootDir
	if root == "" {
		root = filepath.Join(work, "gw")
	}
	logFile := filepath.Join(work, "store-access.log")
	sidecar := filepath.Join(work, "gw-meta")
	os.RemoveAll(root)
	os.RemoveAll(sidecar)
	os.Remove(logFile)
	global := []string{"--access-log", logFile}
	if keepAlive {
		global = append(global, "--keep-alive")
	}
	srv, err := s3test.Run(root, sidecar, global, logf)
	if err != nil {
		return nil, fmt.Errorf("versitygw: %w", err)
	}
	s := &store{Server: srv, Name: "versitygw", Version: s3test.VersityVersion, Medium: fsType(root),
		Flags:    "`" + strings.Replace(srv.Args, logFile, "LOG", 1) + "`, posix backend",
		Counting: "lines of its access log",
		reqs:     accessLog(logFile), remove: []string{root, sidecar}}
	return s, s.connect()
}

// startMinIO runs MinIO on a fresh data directory: rootDir when it is set,
// else under work. Its audit webhook points at a listener of this
// program, which counts the requests.
func startMinIO(work, rootDir string, logf func(string, ...any)) (*store, error) {
	root := rootDir
	if root == "" {
		root = filepath.Join(work, "minio")
	}
	os.RemoveAll(root)
	audit, err := listenAudit()
	if err != nil {
		return nil, err
	}
	srv, err := s3test.RunMinIO(root, []string{
		"MINIO_AUDIT_WEBHOOK_ENABLE_bench=on",
		"MINIO_AUDIT_WEBHOOK_ENDPOINT_bench=" + audit.url,
	})
	if err != nil {
		audit.close()
		return nil, fmt.Errorf("minio: %w", err)
	}
	s := &store{Server: srv, Name: "minio", Version: srv.Version, Medium: fsType(root),
		Flags:    "`minio server DIR`, one drive, audit webhook to a loopback listener",
		Counting: "records of its audit webhook",
		reqs:     audit, remove: []string{root}, closeLog: audit.close}
	logf("minio %s at %s (data on %s)", s.Version, s.Endpoint, s.Medium)
	return s, s.connect()
}

// connect makes the client the bench itself uses (buckets, counting).
func (s *store) connect() error {
	var err error
	s.mc, err = minio.New(strings.TrimPrefix(s.Endpoint, "http://"), &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region:       region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		s.stop()
	}
	return err
}

// stop ends the server and frees its data (on tmpfs, it holds memory).
func (s *store) stop() {
	s.Stop()
	for _, d := range s.remove {
		os.RemoveAll(d)
	}
	if s.closeLog != nil {
		s.closeLog()
	}
}

// fsType names the file system dir is on, for the report.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown file system"
	}
	return fsName(st)
}

// fsName names the file system Statfs described.
func fsName(st syscall.Statfs_t) string {
	switch uint32(st.Type) {
	case 0x01021994:
		return "tmpfs"
	case 0xef53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683e:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return fmt.Sprintf("file system 0x%x", uint32(st.Type))
}

// memoryRoot returns a directory named name for a store's data on tmpfs
// (/dev/shm) when it has need bytes free, else "".
func memoryRoot(name string, need int64) string {
	const shm = "/dev/shm"
	var st syscall.Statfs_t
	if err := syscall.Statfs(shm, &st); err != nil || fsName(st) != "tmpfs" {
		return ""
	}
	if int64(st.Bavail)*int64(st.Bsize) < need {
		return ""
	}
	return filepath.Join(shm, "ssmirror-bench-"+name)
}

// makeBucket creates a bucket (outside any measured window).
func (s *store) makeBucket(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.mc.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: region})
}

// count returns the number of objects and bytes in a bucket.
func (s *store) count(bucket string) (n int, size int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for o := range s.mc.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			return n, size, o.Err
		}
		n++
		size += o.Size
	}
	return n, size, nil
}

var opRE = regexp.MustCompile(`\bs3_[A-Za-z0-9]+\b`)

// accessLog is versitygw's access log file.
type accessLog string

// mark waits until the records of earlier requests are written (see
// waitStable), then returns the log's size.
func (l accessLog) mark() int64 {
	waitStable(l.size)
	return l.size()
}

func (l accessLog) size() int64 {
	st, err := os.Stat(string(l))
	if err != nil {
		return 0
	}
	return st.Size()
}

func (l accessLog) since(off int64) (int, map[string]int, error) {
	waitStable(l.size)
	f, err := os.Open(string(l))
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	if _, err := f.Seek(off, 0); err != nil {
		return 0, nil, err
	}
	ops := map[string]int{}
	total := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 || bytes.HasPrefix(line, []byte("log starts")) {
			continue
		}
		total++
		op := "other"
		if m := opRE.Find(line); m != nil {
			op = strings.TrimPrefix(string(m), "s3_")
		}
		ops[op]++
	}
	return total, ops, sc.Err()
}

// waitStable waits until size has not changed over three looks 50 ms
// apart: the server has written the records of the requests it answered.
func waitStable(size func() int64) {
	last, stable := int64(-1), 0
	for stable < 3 {
		time.Sleep(50 * time.Millisecond)
		if n := size(); n == last {
			stable++
		} else {
			last, stable = n, 0
		}
	}
}

// auditLog receives MinIO's audit records (one JSON document per request,
// POSTed to its webhook) on a loopback listener and keeps each one's API
// name.
type auditLog struct {
	url string
	srv *http.Server

	mu  sync.Mutex
	ops []string
}

func listenAudit() (*auditLog, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &auditLog{url: "http://" + l.Addr().String() + "/"}
	a.srv = &http.Server{Handler: http.HandlerFunc(a.serve)}
	go a.srv.Serve(l)
	return a, nil
}

func (a *auditLog) serve(w http.ResponseWriter, r *http.Request) {
	// A record is a JSON object; a batch is several, one after another,
	// or an array of them.
	type record struct {
		API struct {
			Name string `json:"name"`
		} `json:"api"`
	}
	body, _ := io.ReadAll(r.Body)
	var recs []record
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
		json.Unmarshal(t, &recs)
	} else {
		dec := json.NewDecoder(bytes.NewReader(t))
		for {
			var rec record
			if dec.Decode(&rec) != nil {
				break
			}
			recs = append(recs, rec)
		}
	}
	a.mu.Lock()
	for _, rec := range recs {
		if rec.API.Name != "" {
			a.ops = append(a.ops, rec.API.Name)
		}
	}
	a.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// mark waits until the records of earlier requests have arrived (the
// webhook is asynchronous: a bucket made just before a run must not count
// in it), then returns the number of records.
func (a *auditLog) mark() int64 {
	waitStable(a.size)
	return a.size()
}

func (a *auditLog) size() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return int64(len(a.ops))
}

func (a *auditLog) since(mark int64) (int, map[string]int, error) {
	waitStable(a.size)
	a.mu.Lock()
	defer a.mu.Unlock()
	ops := map[string]int{}
	for _, op := range a.ops[mark:] {
		ops[op]++
	}
	return len(a.ops) - int(mark), ops, nil
}

func (a *auditLog) close() { a.srv.Close() }

// cpuTicks returns the user+system CPU time of a process (and its waited
// children) from /proc.
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may contain spaces).
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz
}

// upstreamServer serves the fixtures over HTTP: nginx when available, else
// a Go static file server in this process.
type upstreamServer struct {
	URL  string // root URL with a trailing slash
	Kind string // "nginx 1.22.1" or "Go net/http FileServer"
	cmd  *exec.Cmd
	done chan struct{}
	srv  *http.Server
}

func startUpstream(work, root string, useNginx bool, logf func(string, ...any)) (*upstreamServer, error) {
	if useNginx {
		if nginx, err := exec.LookPath("nginx"); err == nil {
			u, err := startNginx(nginx, work, root)
			if err == nil {
				return u, nil
			}
			logf("nginx did not start (%v); serving the upstream with Go's file server", err)
		} else {
			logf("nginx is not installed; serving the upstream with Go's file server")
		}
	}
	addr, err := s3test.FreeAddr()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	u := &upstreamServer{URL: "http://" + addr + "/", Kind: "Go net/http FileServer (in the bench process)"}
	u.srv = &http.Server{Handler: http.FileServer(http.Dir(root))}
	go u.srv.Serve(l)
	return u, nil
}

func startNginx(bin, work, root string) (*upstreamServer, error) {
	dir := filepath.Join(work, "nginx")
	os.RemoveAll(dir)
	for _, d := range []string{"tmp", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	addr, err := s3test.FreeAddr()
	if err != nil {
		return nil, err
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`%s
worker_processes 2;
daemon off;
pid %[2]s/nginx.pid;
error_log %[2]s/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 100000;
  types { application/json json; text/plain sjson; }
  default_type application/octet-stream;
  client_body_temp_path %[2]s/tmp/body;
  proxy_temp_path %[2]s/tmp/proxy;
  fastcgi_temp_path %[2]s/tmp/fastcgi;
  uwsgi_temp_path %[2]s/tmp/uwsgi;
  scgi_temp_path %[2]s/tmp/scgi;
  server {
    listen %[3]s;
    root %[4]s;
    disable_symlinks off;
  }
}
`, user, dir, addr, root)
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(dir, "logs", "nginx.out"))
	if err != nil {
		return nil, err
	}
	u := &upstreamServer{URL: "http://" + addr + "/", done: make(chan struct{})}
	if v, err := exec.Command(bin, "-v").CombinedOutput(); err == nil {
		u.Kind = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(v)), "nginx version: "))
	}
	u.cmd = exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "logs", "error.log"), "-c", confFile)
	u.cmd.Stdout, u.cmd.Stderr = out, out
	u.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := u.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { u.cmd.Wait(); out.Close(); close(u.done) }()
	if err := waitHTTP(u.URL, u.done); err != nil {
		u.stop()
		data, _ := os.ReadFile(filepath.Join(dir, "logs", "error.log"))
		return nil, fmt.Errorf("%w\n%s", err, data)
	}
	return u, nil
}

// pids returns the processes of the upstream server (nginx's master and
// workers), or nil when it runs in this process.
func (u *upstreamServer) pids() []int {
	if u.cmd == nil || u.cmd.Process == nil {
		return nil
	}
	master := u.cmd.Process.Pid
	pids := []int{master}
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", master, master))
	for _, f := range strings.Fields(string(data)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

func (u *upstreamServer) stop() {
	if u.srv != nil {
		u.srv.Close()
	}
	if u.cmd != nil && u.cmd.Process != nil {
		u.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-u.done:
		case <-time.After(5 * time.Second):
			u.cmd.Process.Kill()
			<-u.done
		}
	}
}

// waitHTTP waits until url answers an HTTP request (any status).
func waitHTTP(url string, done <-chan struct{}) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			return errors.New("exited before answering")
		default:
		}
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s within 30s: %w", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
