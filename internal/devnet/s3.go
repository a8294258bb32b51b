package devnet

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The S3 server of the production-shaped networks: SeaweedFS's `weed`, a
// well-kept S3-compatible server that verifies AWS Signature V4 (headers
// and pre-signed query strings, with expiry) and writes an audit record of
// every request. It is built from the Go module proxy (its go.mod has
// replace lines, so `go install` refuses it: the module is copied and
// built) into the user cache once.
const (
	weedModule  = "github.com/seaweedfs/seaweedfs"
	WeedVersion = "v0.0.0-20261109003541-7506e5f91cd6"
	s3Bucket    = "canary-results"
	s3Region    = "us-east-1"
)

// WeedBinEnv points at a prebuilt weed binary, skipping the build.
const WeedBinEnv = "CANARY_WEED_BIN"

// BuildWeed builds SeaweedFS's weed into the user cache (once) and returns
// its path.
func BuildWeed(ctx context.Context, progress func(string)) (string, error) {
	if bin := os.Getenv(WeedBinEnv); bin != "" {
		return bin, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("weed build cache: %w", err)
	}
	dir := filepath.Join(cache, "bacalhau-canary", "weed")
	bin := filepath.Join(dir, "weed-"+WeedVersion)
	_, err = buildOnce(bin, func(tmp string) error {
		note(progress, "building SeaweedFS "+WeedVersion+" (the S3 server; first time only, several minutes)")
		dl := exec.CommandContext(ctx, "go", "mod", "download", "-json", weedModule+"@"+WeedVersion)
		dl.Env = append(cleanEnv(), "GOFLAGS=-mod=mod")
		out, err := dl.Output()
		if err != nil {
			return fmt.Errorf("downloading %s@%s: %v", weedModule, WeedVersion, err)
		}
		var mod struct{ Dir string }
		if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
			return fmt.Errorf("downloading %s@%s: no module directory in %q", weedModule, WeedVersion, out)
		}
		src, err := os.MkdirTemp(dir, "src-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(src)
		if out, err := exec.CommandContext(ctx, "cp", "-r", mod.Dir+"/.", src).CombinedOutput(); err != nil {
			return fmt.Errorf("copying %s: %v: %s", weedModule, err, out)
		}
		_ = exec.Command("chmod", "-R", "u+w", src).Run()
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, "./weed")
		build.Dir = src
		build.Env = append(cleanEnv(), "GOFLAGS=-buildvcs=false -mod=mod", "CGO_ENABLED=0")
		done := make(chan struct{})
		go tick(progress, "weed", done)
		out, err = build.CombinedOutput()
		close(done)
		if err != nil {
			return fmt.Errorf("building weed: %v\n%s", err, lastLines(out, 20))
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return bin, nil
}

// s3Server is weed (master, volume, filer and S3 gateway in one process)
// running in the network's namespace on the link address, with one
// identity whose keys the nodes hold, one bucket, and its audit log sent
// to a receiver on the test's side of the link.
type s3Server struct {
	Endpoint  string // http://REMOTE:8333, as nodes and the canary reach it
	Bucket    string
	AccessKey string
	SecretKey string
	Audit     *AuditLog

	cmd  *exec.Cmd
	done chan error
	dir  string
	base int // first of its ports
}

// weed binds Unix sockets named by port in /tmp (/tmp/seaweedfs-filer-8888.sock,
// …-master-grpc-19333.sock), which network namespaces do not separate: each
// server gets ports of its own, four in a row (master, volume, filer, S3;
// gRPC on each plus 10000), whose socket names are free.
func weedPorts() (int, error) {
	unlock, err := lockLinks()
	if err != nil {
		return 0, err
	}
	defer unlock()
	for range 100 {
		b := make([]byte, 2)
		_, _ = rand.Read(b) // never fails (crypto/rand)
		base := 20000 + 4*(int(b[0])<<8|int(b[1]))%10000
		free := true
		for _, p := range weedSocketPorts(base) {
			if m, _ := filepath.Glob(fmt.Sprintf("/tmp/seaweedfs-*-%d.sock", p)); len(m) > 0 {
				free = false
			}
		}
		if free {
			// Claim them until the server makes its own.
			for _, p := range weedSocketPorts(base)[:1] {
				_ = os.WriteFile(fmt.Sprintf("/tmp/seaweedfs-canary-claim-%d.sock", p), nil, 0o600)
			}
			return base, nil
		}
	}
	return 0, errors.New("no free ports for the S3 server's sockets")
}

func weedSocketPorts(base int) []int {
	var ps []int
	for i := range 4 {
		ps = append(ps, base+i, base+i+10000)
	}
	return ps
}

// startS3 starts weed in the link's namespace with its data under dir.
func startS3(ctx context.Context, link *Link, dir string, progress func(string)) (_ *s3Server, err error) {
	bin, err := BuildWeed(ctx, progress)
	if err != nil {
		return nil, err
	}
	base, err := weedPorts()
	if err != nil {
		return nil, err
	}
	master, volume, filer, s3Port := base, base+1, base+2, base+3
	s := &s3Server{
		base:      base,
		Endpoint:  "http://" + net.JoinHostPort(link.Remote, strconv.Itoa(s3Port)),
		Bucket:    s3Bucket,
		AccessKey: "CANARYTEST" + strings.ToUpper(randomHex(5)),
		SecretKey: randomHex(20),
		done:      make(chan error, 1),
		dir:       dir,
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.Audit, err = listenAudit(link.Local); err != nil {
		return nil, err
	}
	cfg, _ := json.Marshal(map[string]any{"identities": []any{map[string]any{
		"name":        "bacalhau",
		"credentials": []any{map[string]string{"accessKey": s.AccessKey, "secretKey": s.SecretKey}},
		"actions":     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}})
	_, auditPort, _ := net.SplitHostPort(s.Audit.Addr())
	ap, _ := strconv.Atoi(auditPort)
	audit, _ := json.Marshal(map[string]any{"fluent_host": link.Local, "fluent_port": ap, "fluent_network": "tcp", "marshal_as_json": true})
	for name, b := range map[string][]byte{"s3.json": cfg, "audit.json": audit} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	note(progress, "starting the S3 server (weed) at "+s.Endpoint)
	s.cmd = exec.Command("ip", "netns", "exec", link.Namespace, bin, "server",
		"-dir="+data, "-ip="+link.Remote, "-ip.bind=0.0.0.0",
		"-master.port="+strconv.Itoa(master), "-volume.port="+strconv.Itoa(volume), "-filer.port="+strconv.Itoa(filer),
		"-master.volumeSizeLimitMB=64",
		"-s3", "-s3.port="+strconv.Itoa(s3Port),
		"-s3.config="+filepath.Join(dir, "s3.json"),
		"-s3.auditLogConfig="+filepath.Join(dir, "audit.json"),
	)
	s.cmd.Dir = dir
	s.cmd.Env = append(cleanEnv(), "HOME="+dir)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	dieWithParent(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting weed: %w", err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	if err := waitTCP(ctx, net.JoinHostPort(link.Remote, strconv.Itoa(s3Port)), 90*time.Second); err != nil {
		tail, _ := os.ReadFile(log.Name())
		return nil, fmt.Errorf("weed S3: %w\n%s", err, lastLines(tail, 10))
	}
	// The bucket, through weed's own shell (the filer must be up: retried).
	var last error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		sh := exec.CommandContext(ctx, "ip", "netns", "exec", link.Namespace, bin, "shell",
			"-master="+net.JoinHostPort(link.Remote, strconv.Itoa(master)), "-filer="+net.JoinHostPort(link.Remote, strconv.Itoa(filer)))
		sh.Dir = dir
		sh.Env = append(cleanEnv(), "HOME="+dir)
		sh.Stdin = strings.NewReader("s3.bucket.create -name " + s.Bucket + "\ns3.bucket.list\nexit\n")
		out, err := sh.CombinedOutput()
		if err == nil && strings.Contains(string(out), s.Bucket) {
			last = nil
			break
		}
		last = fmt.Errorf("%v: %s", err, lastLines(out, 5))
	}
	if last != nil {
		return nil, fmt.Errorf("creating bucket %s: %v", s.Bucket, last)
	}
	// One write into the bucket's collection before any node's: the master
	// grows its volumes on the first write, which can take long on a busy
	// machine, and a node's upload would wait on it within its job's timeout.
	probe := filepath.Join(dir, "probe.txt")
	if err := os.WriteFile(probe, []byte("probe\n"), 0o644); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		actx, cancel := context.WithTimeout(ctx, 60*time.Second)
		up := exec.CommandContext(actx, "ip", "netns", "exec", link.Namespace, bin, "upload",
			"-master="+net.JoinHostPort(link.Remote, strconv.Itoa(master)), "-collection="+s.Bucket, probe)
		up.Dir = dir
		up.Env = append(cleanEnv(), "HOME="+dir)
		out, err := up.CombinedOutput()
		cancel()
		if err == nil && strings.Contains(string(out), `"fid"`) {
			return s, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("S3 server not writable (weed upload into %s): %v: %s", s.Bucket, err, lastLines(out, 5))
		}
	}
}

// env is what the nodes need to publish to and sign for the bucket: the
// keys, no metadata service, and no AWS files of the caller's.
func (s *s3Server) env(dir string) []string {
	none := filepath.Join(dir, "no-aws-config")
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey, "AWS_REGION=" + s3Region,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + none, "AWS_SHARED_CREDENTIALS_FILE=" + none,
	}
}

// Close stops weed; its data (the bucket with it) is removed with dir.
func (s *s3Server) Close() error {
	if s == nil {
		return nil
	}
	var errs []error
	if s.cmd != nil && s.cmd.Process != nil {
		// weed may take long to wind down; its data goes with dir anyway.
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	if s.Audit != nil {
		s.Audit.Close()
	}
	if s.base != 0 {
		for _, p := range weedSocketPorts(s.base) {
			m, _ := filepath.Glob(fmt.Sprintf("/tmp/seaweedfs-*-%d.sock", p))
			for _, f := range m {
				os.Remove(f)
			}
		}
	}
	return errors.Join(errs...)
}

// AuditRecord is one request as the S3 server's audit log records it
// (weed's s3err.AccessLog, sent over Fluentd's forward protocol as JSON).
type AuditRecord struct {
	Bucket           string `json:"bucket"`
	Key              string `json:"key"`
	Operation        string `json:"operation"` // REST.GET.OBJECT, REST.PUT.OBJECT, …
	Status           int    `json:"status"`
	ErrorCode        string `json:"error_code"`
	RemoteIP         string `json:"remote_ip"`
	AccessKeyID      string `json:"access_key_id"`     // the key the request was signed with
	SignatureVersion string `json:"signature_version"` // how it was authenticated
	Requester        string `json:"requester"`
}

// AuditLog receives the S3 server's audit records: a Fluentd forward
// listener for JSON-marshalled events ([tag, time, record, option]).
type AuditLog struct {
	l       net.Listener
	mu      sync.Mutex
	records []AuditRecord
	wg      sync.WaitGroup
}

func listenAudit(host string) (*AuditLog, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("S3 audit listener: %w", err)
	}
	a := &AuditLog{l: l}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				defer c.Close()
				dec := json.NewDecoder(io.LimitReader(c, 64<<20))
				for {
					var ev []json.RawMessage
					if err := dec.Decode(&ev); err != nil {
						return
					}
					if len(ev) < 3 {
						continue
					}
					var r AuditRecord
					if json.Unmarshal(ev[2], &r) == nil {
						a.mu.Lock()
						a.records = append(a.records, r)
						a.mu.Unlock()
					}
				}
			}()
		}
	}()
	return a, nil
}

// Addr is where the S3 server sends its records.
func (a *AuditLog) Addr() string { return a.l.Addr().String() }

// Records returns the records received so far.
func (a *AuditLog) Records() []AuditRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]AuditRecord(nil), a.records...)
}

// Close stops listening (open connections end with the server).
func (a *AuditLog) Close() { a.l.Close() }
