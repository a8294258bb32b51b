package devnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/internal/testca"
)

// ProdEnv, set to 1, makes a production-shaped network that cannot be
// made (no Docker engine, no namespaces) an error instead of a skip (CI
// sets it).
const ProdEnv = "CANARY_TEST_REQUIRE_PROD"

// Prod is what a production-shaped network adds (Options.Prod): the docker
// engine, an S3 bucket as the jobs' default publisher with results handed
// out as pre-signed URLs, and the API on TLS from the test's own CA.
type Prod struct {
	CAFile    string // PEM of the CA that signed the API's certificate
	CA        *testca.CA
	S3        string    // the S3 endpoint, http://HOST:PORT
	Bucket    string    // the default publisher's bucket
	AccessKey string    // the key the nodes sign with (not a secret of the canary's: it never has it)
	Audit     *AuditLog // the S3 server's record of every request

	dir    string
	docker *dockerEngine
	s3     *s3Server
}

// ProdMissing says why a production-shaped network cannot run on this
// machine ("" when it can).
func ProdMissing() string {
	if os.Geteuid() != 0 {
		return "not root (dockerd and network namespaces need it)"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "no ip command (Debian package iproute2)"
	}
	if m := dockerMissing(); m != "" {
		return m + " is not installed"
	}
	return ""
}

// startProd starts what Options.Prod adds around the link and returns the
// devnet's extra arguments and environment.
func startProd(ctx context.Context, link *Link, o Options) (_ *Prod, args, env []string, err error) {
	if link == nil {
		return nil, nil, nil, errors.New("a production-shaped network needs the two-host link")
	}
	if m := ProdMissing(); m != "" {
		return nil, nil, nil, fmt.Errorf("production-shaped network: %s", m)
	}
	dir, err := os.MkdirTemp(o.TempDir, "bacalhau-canary-prod-")
	if err != nil {
		return nil, nil, nil, err
	}
	p := &Prod{dir: dir}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.CA, err = testca.New("bacalhau-canary test CA"); err != nil {
		return nil, nil, nil, err
	}
	leaf, err := p.CA.Issue([]string{link.Remote}, time.Time{}, time.Time{})
	if err != nil {
		return nil, nil, nil, err
	}
	certFile, keyFile, err := leaf.Write(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	p.CAFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(p.CAFile, p.CA.PEM(), 0o644); err != nil {
		return nil, nil, nil, err
	}
	for _, sub := range []string{"docker", "s3"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, nil, nil, err
		}
	}
	if p.docker, err = startDocker(ctx, filepath.Join(dir, "docker"), o.Progress); err != nil {
		return nil, nil, nil, err
	}
	if p.s3, err = startS3(ctx, link, filepath.Join(dir, "s3"), o.Progress); err != nil {
		return nil, nil, nil, err
	}
	p.S3, p.Bucket, p.AccessKey, p.Audit = p.s3.Endpoint, p.s3.Bucket, p.s3.AccessKey, p.s3.Audit
	expiry := o.PresignExpiration
	if expiry <= 0 {
		expiry = 10 * time.Minute
	}
	args = []string{"-docker", "-s3-endpoint", p.S3, "-s3-bucket", p.Bucket, "-s3-region", s3Region,
		"-presign-expiration", expiry.String(), "-tls-cert", certFile, "-tls-key", keyFile}
	env = append(p.s3.env(dir), "DOCKER_HOST="+p.docker.Host)
	return p, args, env, nil
}

// Containers lists the containers the network's Docker daemon holds.
func (p *Prod) Containers(ctx context.Context) ([]string, error) { return p.docker.Containers(ctx) }

// Close stops the S3 server and the Docker daemon and removes their files
// (the bucket, containers and images with them).
func (p *Prod) Close() error {
	if p == nil {
		return nil
	}
	err := errors.Join(p.s3.Close(), p.docker.Close())
	if rerr := os.RemoveAll(p.dir); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return err
}
