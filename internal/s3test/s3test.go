// Package s3test runs real S3 servers for tests, each on a temporary
// directory and a free loopback port: the Versity S3 Gateway (versitygw)
// with its posix backend, MinIO, and SeaweedFS ("weed mini", all of its
// parts in one process). Versitygw is always there (it is built when
// missing); MinIO and SeaweedFS take minutes to build, so tests run on
// them when their binaries are present (see Kinds and Each).
//
// # The binaries
//
// The versitygw binary (VersityVersion) is found, in order, at
//
//  1. the path in the environment variable SSMIRROR_VERSITYGW;
//  2. $XDG_CACHE_HOME/ssmirror/bin/versitygw (usually
//     ~/.cache/ssmirror/bin/versitygw), if it was built from
//     VersityVersion;
//  3. otherwise it is built into that directory with
//     "go install github.com/versity/versitygw/cmd/versitygw@VERSION"
//     (a couple of minutes, once; a lock file keeps parallel test
//     processes from building it twice).
//
// If no server can be started the test fails (it is never skipped).
//
// The minio and weed binaries are found at the path in SSMIRROR_MINIO or
// SSMIRROR_WEED, else in the same cache directory ($XDG_CACHE_HOME/
// ssmirror/bin/minio and weed; .ci/run builds them there). A test of a
// server whose binary is missing is skipped, unless the comma-separated
// list in SSMIRROR_REQUIRE_SERVERS names it (or is "all"): then it fails.
//
// # Servers
//
// Start runs one versitygw for one test and stops it in t.Cleanup;
// StartTLS does the same with HTTPS and a self-signed certificate. Shared
// (versitygw) and SharedKind (any kind) start a single server of a kind
// per test process on first use; it keeps running until StopShared is
// called (typically from TestMain, see Main) or the process exits (on
// Linux the server is killed when the test process dies). Tests that share
// a server isolate themselves with NewBucket. Each runs a subtest on the
// shared server of every kind.
//
// The gateway root must support user extended attributes (versitygw stores
// object metadata in xattrs). If the temporary file system does not, the
// server is started with --sidecar, which keeps metadata in a separate
// directory instead.
package s3test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// VersityVersion is the versitygw release the tests run against.
const VersityVersion = "v1.8.0"

const versityModule = "github.com/versity/versitygw"

// Region is the region the server reports.
const Region = "us-east-1"

// Server is a running S3 server.
type Server struct {
	Kind      Kind   // which implementation
	Version   string // its module version, from the binary's build information
	Endpoint  string // http://127.0.0.1:PORT (https:// for StartTLS)
	AccessKey string
	SecretKey string
	Region    string
	Dir       string // data directory (versitygw: gateway root, each bucket a directory in it)
	Args      string // versitygw: the command line's options, without the root
	CertFile  string // StartTLS only: the server's self-signed certificate (PEM)

	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	output *syncBuffer
	tmp    string // removed by stop, if set
	master string // SeaweedFS: its master's HTTP endpoint
}

// Start starts a server for this test and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(t.TempDir(), t.Logf, false)
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// StartTLS is like Start but serves HTTPS with a self-signed certificate
// for 127.0.0.1 (see Server.CertFile); clients must trust that
// certificate or skip verification.
func StartTLS(t testing.TB) *Server {
	t.Helper()
	s, err := start(t.TempDir(), t.Logf, true)
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

var shared struct {
	mu   sync.Mutex
	srvs map[Kind]*Server
	errs map[Kind]error
}

// Shared returns the process-wide versitygw server, starting it on first
// use. It is not stopped at the end of the test; call StopShared from
// TestMain (or let it die with the process).
func Shared(t testing.TB) *Server {
	t.Helper()
	return SharedKind(t, Versity)
}

// SharedKind is Shared for a server of kind. If its binary is missing, the
// test is skipped, or fails when SSMIRROR_REQUIRE_SERVERS names it.
func SharedKind(t testing.TB, kind Kind) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srvs == nil {
		shared.srvs, shared.errs = map[Kind]*Server{}, map[Kind]error{}
	}
	if shared.srvs[kind] == nil && shared.errs[kind] == nil {
		dir, err := os.MkdirTemp("", "ssmirror-s3test-")
		if err == nil {
			var srv *Server
			srv, err = startKind(kind, dir, t.Logf)
			if err != nil {
				os.RemoveAll(dir)
			} else {
				srv.tmp = dir
				shared.srvs[kind] = srv
			}
		}
		shared.errs[kind] = err
	}
	if err := shared.errs[kind]; err != nil {
		if errors.Is(err, ErrNoBinary) && !Required(kind) {
			t.Skipf("s3test: %v (set SSMIRROR_REQUIRE_SERVERS=%s to fail instead)", err, kind)
		}
		t.Fatalf("s3test: %v", err)
	}
	return shared.srvs[kind]
}

// StopShared stops the servers started by Shared and SharedKind, if any,
// and removes their files. It is safe to call more than once.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for _, srv := range shared.srvs {
		srv.stop()
	}
	shared.srvs, shared.errs = nil, nil
}

// Main runs a package's tests and then stops the servers Shared started,
// if any: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// Client returns a minio-go client for the server with its root
// credentials.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := s.newClient()
	if err != nil {
		t.Fatalf("s3test: client: %v", err)
	}
	return c
}

// client is Client outside a test; it panics on a bad endpoint (ours).
func (s *Server) client() *minio.Client {
	c, err := s.newClient()
	if err != nil {
		panic(err)
	}
	return c
}

func (s *Server) newClient() (*minio.Client, error) {
	host, secure := strings.CutPrefix(s.Endpoint, "https://")
	host = strings.TrimPrefix(host, "http://")
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, err
	}
	if secure {
		tr.TLSClientConfig = s.tlsConfig()
	}
	return minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure:       secure,
		Transport:    tr,
		Region:       s.Region,
		BucketLookup: minio.BucketLookupPath,
	})
}

var bucketSeq atomic.Int64

// NewBucket creates a bucket with a fresh unique name and returns the name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	var b [4]byte
	rand.Read(b[:])
	name := fmt.Sprintf("test-%d-%s", bucketSeq.Add(1), hex.EncodeToString(b[:]))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client(t).MakeBucket(ctx, name, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		t.Fatalf("s3test: creating bucket %s: %v", name, err)
	}
	return name
}

// tlsConfig trusts the server's certificate (nil without TLS).
func (s *Server) tlsConfig() *tls.Config {
	if s.CertFile == "" {
		return nil
	}
	pool := x509.NewCertPool()
	if data, err := os.ReadFile(s.CertFile); err == nil {
		pool.AppendCertsFromPEM(data)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// start runs versitygw on a gateway root below base.
func start(base string, logf func(string, ...any), useTLS bool) (*Server, error) {
	var global []string
	var certFile string
	if useTLS {
		var keyFile string
		var err error
		certFile, keyFile, err = writeCert(base)
		if err != nil {
			return nil, fmt.Errorf("creating a TLS certificate: %w", err)
		}
		global = []string{"--cert", certFile, "--key", keyFile}
	}
	return run(filepath.Join(base, "gw"), filepath.Join(base, "meta"), global, certFile, logf)
}

// Run starts versitygw outside a test, on the gateway root dir (created
// if missing), with extra global options (e.g. --access-log FILE,
// --keep-alive). If dir has no user extended attributes, object metadata
// goes to the directory sidecar (--sidecar). The caller stops the server
// with Stop.
func Run(dir, sidecar string, global []string, logf func(string, ...any)) (*Server, error) {
	return run(dir, sidecar, global, "", logf)
}

func run(root, sidecar string, global []string, certFile string, logf func(string, ...any)) (*Server, error) {
	bin, err := Binary(logf)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	var backend []string
	if err := XattrSupported(root); err != nil || forceSidecar {
		if err == nil {
			err = errors.New("forced by test")
		}
		if err := os.MkdirAll(sidecar, 0o755); err != nil {
			return nil, err
		}
		logf("s3test: %s has no user xattrs (%v); using --sidecar %s", root, err, sidecar)
		backend = append(backend, "--sidecar", sidecar)
	}
	var lastErr error
	for range 3 { // retry if another process grabbed the port
		s, err := launch(bin, root, global, backend, certFile)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func launch(bin, root string, global, backend []string, certFile string) (*Server, error) {
	port, err := FreeAddr()
	if err != nil {
		return nil, fmt.Errorf("finding a free port: %w", err)
	}
	scheme := "http://"
	if certFile != "" {
		scheme = "https://"
	}
	s := newServer(Versity, scheme+port, root)
	s.CertFile = certFile
	// Global options (including --cert/--key) precede the backend command;
	// backend options (--sidecar) follow it.
	args := append([]string{"--port", port, "--region", Region, "--quiet"}, global...)
	args = append(args, "posix")
	args = append(args, backend...)
	s.Args = strings.Join(args, " ")
	args = append(args, root)
	// Credentials go through the environment so they do not show in ps.
	env := []string{"ROOT_ACCESS_KEY_ID=" + s.AccessKey, "ROOT_SECRET_ACCESS_KEY=" + s.SecretKey}
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: s.tlsConfig()}}
	return s, s.exec(bin, args, env, func() error {
		resp, err := hc.Get(s.Endpoint + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.Header.Get("Server") == "" && resp.StatusCode != http.StatusForbidden {
			return fmt.Errorf("answered %s", resp.Status)
		}
		return nil
	})
}

// newServer describes a server of kind at endpoint with fresh root
// credentials.
func newServer(kind Kind, endpoint, dir string) *Server {
	key := make([]byte, 16)
	rand.Read(key)
	return &Server{
		Kind:      kind,
		Endpoint:  endpoint,
		AccessKey: "ssmirrortest",
		SecretKey: hex.EncodeToString(key),
		Region:    Region,
		Dir:       dir,
		done:      make(chan struct{}),
		output:    &syncBuffer{},
	}
}

// exec starts bin with args and extra environment, and waits until ready
// succeeds (the server answers), the process exits, or startTimeout
// passes.
func (s *Server) exec(bin string, args, env []string, ready func() error) error {
	s.Version = binaryVersion(bin)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = s.Dir
	cmd.Stdout = s.output
	cmd.Stderr = s.output
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	s.cmd = cmd
	go func() { cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("%s exited before answering (%v):\n%s", bin, cmd.ProcessState, s.output.String())
		default:
		}
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("%s did not answer on %s within %v (last error: %v):\n%s", bin, s.Endpoint, startTimeout, err, s.output.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startTimeout bounds a server's start.
const startTimeout = 60 * time.Second

// Stop stops a server started with Run.
func (s *Server) Stop() { s.stop() }

// PID is the server's process ID.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// stop kills the server and waits for it to exit.
func (s *Server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
		}
	}
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
}

// writeCert writes a self-signed certificate and key for 127.0.0.1 and
// localhost into dir.
func writeCert(dir string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "s3test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// FreeAddr returns a loopback address (127.0.0.1:PORT) whose port was free
// a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Binary returns the path of the versitygw binary, building it if needed
// (see the package documentation).
func Binary(logf func(string, ...any)) (string, error) {
	if p := os.Getenv("SSMIRROR_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("SSMIRROR_VERSITYGW: %w", err)
		}
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the versitygw binary (set SSMIRROR_VERSITYGW): %w", err)
	}
	dir := filepath.Join(cache, "ssmirror", "bin")
	bin := filepath.Join(dir, "versitygw")
	if isVersion(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(dir, ".versitygw.lock"), func() {
		logf("s3test: waiting for another process building versitygw into %s...", dir)
	})
	if err != nil {
		return "", fmt.Errorf("locking %s: %w", dir, err)
	}
	defer unlock()
	if isVersion(bin) { // built by another process while we waited
		return bin, nil
	}
	logf("s3test: building versitygw %s into %s (takes a few minutes, once)...", VersityVersion, dir)
	gobin, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(gobin)
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goCmd, "install", versityModule+"/cmd/versitygw@"+VersityVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOWORK=off")
	cmd.Dir = gobin // outside any module
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building versitygw %s failed (%v); set SSMIRROR_VERSITYGW to a versitygw binary to skip the build:\n%s", VersityVersion, err, out.String())
	}
	if err := os.Rename(filepath.Join(gobin, "versitygw"), bin); err != nil {
		return "", err
	}
	logf("s3test: built %s in %v", bin, time.Since(start).Round(time.Second))
	return bin, nil
}

// isVersion reports whether bin is a versitygw binary of VersityVersion.
func isVersion(bin string) bool {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return false
	}
	return info.Main.Path == versityModule && info.Main.Version == VersityVersion
}

// XattrSupported checks that dir supports user extended attributes, which
// versitygw's posix backend needs (without them it must run with
// --sidecar).
func XattrSupported(dir string) error {
	f, err := os.CreateTemp(dir, ".xattr-probe-")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	defer os.Remove(name)
	return setXattr(name, "user.ssmirror.probe", []byte("1"))
}

// syncBuffer collects process output (bounded) for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < 1<<20 {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// forceSidecar makes start use --sidecar even with xattr support (tests).
var forceSidecar bool

var errNoXattr = errors.New("extended attributes not supported on this platform")
