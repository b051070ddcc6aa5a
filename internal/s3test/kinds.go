package s3test

import (
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Kind names an S3 server implementation.
type Kind string

// The servers of the matrix.
const (
	Versity   Kind = "versitygw"
	MinIO     Kind = "minio"
	SeaweedFS Kind = "seaweedfs"
)

// Kinds lists every server the tests know, in the order Each runs them.
var Kinds = []Kind{Versity, MinIO, SeaweedFS}

// The versions .ci/run builds (it reads them from here). The tests run the
// binary that is installed and report its version (Server.Version).
const (
	MinIOVersion   = "v0.0.0-20260212201848-7aac2a2c5b7c"
	SeaweedVersion = "v0.0.0-20261109003541-7506e5f91cd6"
)

// ErrNoBinary means a server's binary is not installed.
var ErrNoBinary = errors.New("server binary not installed")

// Required reports whether SSMIRROR_REQUIRE_SERVERS (a comma-separated list
// of kinds, or "all") names kind: a test must then fail rather than skip
// when that server cannot run.
func Required(kind Kind) bool {
	for _, k := range strings.Split(os.Getenv("SSMIRROR_REQUIRE_SERVERS"), ",") {
		if k = strings.TrimSpace(k); k == "all" || Kind(k) == kind {
			return true
		}
	}
	return false
}

// Each runs fn as a subtest named after each kind, on that kind's shared
// server (SharedKind: skipped when its binary is missing and not
// required).
func Each(t *testing.T, fn func(t *testing.T, srv *Server)) {
	t.Helper()
	for _, k := range Kinds {
		t.Run(string(k), func(t *testing.T) { fn(t, SharedKind(t, k)) })
	}
}

// startKind starts a server of kind with its data below base.
func startKind(kind Kind, base string, logf func(string, ...any)) (*Server, error) {
	switch kind {
	case Versity:
		return start(base, logf, false)
	case MinIO, SeaweedFS:
		bin, err := cachedBinary(kind)
		if err != nil {
			return nil, err
		}
		return retryPorts(func() (*Server, error) {
			if kind == MinIO {
				return launchMinIO(bin, filepath.Join(base, "minio"), nil)
			}
			return launchWeed(bin, filepath.Join(base, "weed"))
		})
	}
	return nil, fmt.Errorf("unknown server kind %q", kind)
}

// RunMinIO starts MinIO outside a test on the data directory dir (created
// if missing), with extra environment (e.g. MINIO_AUDIT_WEBHOOK_*
// settings). The caller stops the server with Stop.
func RunMinIO(dir string, env []string) (*Server, error) {
	bin, err := cachedBinary(MinIO)
	if err != nil {
		return nil, err
	}
	return retryPorts(func() (*Server, error) { return launchMinIO(bin, dir, env) })
}

// retryPorts calls launch up to three times: another process may grab a
// port between freePorts and the server's listen.
func retryPorts(launch func() (*Server, error)) (*Server, error) {
	var lastErr error
	for range 3 {
		s, err := launch()
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// binaryNames are the file names of the binaries in the cache directory,
// and the environment variables that override them.
var binaryNames = map[Kind][2]string{
	MinIO:     {"minio", "SSMIRROR_MINIO"},
	SeaweedFS: {"weed", "SSMIRROR_WEED"},
}

// cachedBinary finds the binary of kind (see the package documentation).
func cachedBinary(kind Kind) (string, error) {
	name, env := binaryNames[kind][0], binaryNames[kind][1]
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", env, err)
		}
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("%s: %w: no cache directory (set %s)", kind, ErrNoBinary, env)
	}
	bin := filepath.Join(cache, "ssmirror", "bin", name)
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s: %w: no %s (.ci/run builds it; or set %s)", kind, ErrNoBinary, bin, env)
	}
	return bin, nil
}

// binaryVersion is the module version bin was built from: its build
// information, else the FILE.version stamp .ci/run writes next to a binary
// built as the main module of its source tree (SeaweedFS), else "".
func binaryVersion(bin string) string {
	if info, err := buildinfo.ReadFile(bin); err == nil && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	if b, err := os.ReadFile(bin + ".version"); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(n int) ([]string, error) {
	var ports []string
	for range n {
		addr, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		_, port, _ := strings.Cut(addr, ":")
		ports = append(ports, port)
	}
	return ports, nil
}

// listReady is ready when a signed ListBuckets succeeds.
func listReady(s *Server) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := s.client().ListBuckets(ctx)
		return err
	}
}

// launchMinIO runs "minio server" on dir, with extra environment.
func launchMinIO(bin, dir string, extraEnv []string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	s := newServer(MinIO, "http://127.0.0.1:"+ports[0], dir)
	args := []string{"server", "--quiet", "--address", "127.0.0.1:" + ports[0], "--console-address", "127.0.0.1:" + ports[1], dir}
	env := []string{"MINIO_ROOT_USER=" + s.AccessKey, "MINIO_ROOT_PASSWORD=" + s.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_REGION=" + Region}
	env = append(env, extraEnv...)
	hc := &http.Client{Timeout: time.Second}
	live := func() error {
		resp, err := hc.Get(s.Endpoint + "/minio/health/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health check answered %s", resp.Status)
		}
		return listReady(s)()
	}
	return s, s.exec(bin, args, env, live)
}

// weedVolumes is the number of volumes, and so of buckets that hold
// data, that a SeaweedFS server of the matrix accepts.
const weedVolumes = 20000

// launchWeed runs "weed mini" (master, volume server, filer and S3
// gateway in one process) on dir, with the S3 gateway's admin identity
// taken from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
func launchWeed(bin, dir string) (*Server, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p, err := freePorts(10)
	if err != nil {
		return nil, err
	}
	s := newServer(SeaweedFS, "http://127.0.0.1:"+p[0], dir)
	s.master = "http://127.0.0.1:" + p[2]
	args := []string{"mini", "-dir=" + dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-s3.port=" + p[0], "-s3.port.grpc=" + p[1],
		"-master.port=" + p[2], "-master.port.grpc=" + p[3],
		"-volume.port=" + p[4], "-volume.port.grpc=" + p[5],
		"-filer.port=" + p[6], "-filer.port.grpc=" + p[7],
		"-admin.port=" + p[8], "-admin.port.grpc=" + p[9], "-admin.port.legacy=0", "-admin.ui=false",
		"-s3.port.iceberg=0",
		// Every bucket is a collection with a volume of its own, and
		// without -volume.max the volume server takes free disk space
		// over the volume size (128 MiB) as its limit: with 65 GiB free,
		// the 521st bucket's writes fail with an internal error, and a
		// package's tests under -cpu 1,2 make more buckets than that.
		// Volumes are not preallocated, so the fixed limit costs nothing.
		"-volume.max=" + strconv.Itoa(weedVolumes), "-s3.port.lance=0", "-webdav=false", "-master.telemetry=false",
	}
	env := []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey}
	return s, s.exec(bin, args, env, listReady(s))
}
