package devnet

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// JobImage is the canary's docker job image (scenarios.DockerImage), made
// locally: Docker Hub is not reachable from tests.
const JobImage = "busybox:1.36.1"

// busyboxStatic is Debian's busybox-static binary, the image's only file.
const busyboxStatic = "/bin/busybox"

// dockerEngine is a Docker daemon of the test's own (its socket, data and
// state under one directory, no bridge, no iptables), with a loopback
// registry beside it and the job image imported and pushed, so that the
// image has a RepoDigest: Bacalhau's docker executor uses a local image
// only then (otherwise it asks Docker Hub for the manifest). Stopping it
// removes every container, image and file it made.
type dockerEngine struct {
	Host string // DOCKER_HOST for the nodes

	dir      string
	dockerd  *exec.Cmd
	registry *exec.Cmd
	done     chan error
}

// dockerMissing says which of the tools the docker engine needs is not
// installed ("" when all are), with the Debian package that has it.
func dockerMissing() string {
	for _, t := range []struct{ bin, pkg string }{
		{"dockerd", "docker.io"}, {"docker", "docker.io"}, {"docker-registry", "docker-registry"},
	} {
		if _, err := exec.LookPath(t.bin); err != nil {
			return fmt.Sprintf("%s (Debian package %s)", t.bin, t.pkg)
		}
	}
	if !static(busyboxStatic) {
		return "a static " + busyboxStatic + " (Debian package busybox-static)"
	}
	return ""
}

// static says whether path is an ELF executable without an interpreter:
// the image has no libc for a dynamic one.
func static(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// startDocker starts the daemon and the registry under dir and makes the
// job image.
func startDocker(ctx context.Context, dir string, progress func(string)) (_ *dockerEngine, err error) {
	if m := dockerMissing(); m != "" {
		return nil, fmt.Errorf("docker engine: %s is not installed", m)
	}
	d := &dockerEngine{dir: dir, Host: "unix://" + filepath.Join(dir, "docker.sock"), done: make(chan error, 1)}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	note(progress, "starting a Docker daemon and a loopback registry for the job image")
	log, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	d.dockerd = exec.Command("dockerd",
		"--host", d.Host,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"--bridge", "none", "--iptables=false", "--ip6tables=false",
	)
	d.dockerd.Stdout, d.dockerd.Stderr = log, log
	dieWithParent(d.dockerd)
	if err := d.dockerd.Start(); err != nil {
		return nil, fmt.Errorf("starting dockerd: %w", err)
	}
	go func() { d.done <- d.dockerd.Wait() }()
	if err := d.waitDaemon(ctx); err != nil {
		tail, _ := os.ReadFile(log.Name())
		return nil, fmt.Errorf("%w\n%s", err, lastLines(tail, 10))
	}

	port, err := freePort()
	if err != nil {
		return nil, err
	}
	reg := "127.0.0.1:" + strconv.Itoa(port)
	conf := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(conf, []byte("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: "+
		filepath.Join(dir, "registry")+"\nhttp:\n  addr: "+reg+"\n"), 0o644); err != nil {
		return nil, err
	}
	d.registry = exec.Command("docker-registry", "serve", conf)
	d.registry.Stdout, d.registry.Stderr = log, log
	dieWithParent(d.registry)
	if err := d.registry.Start(); err != nil {
		return nil, fmt.Errorf("starting docker-registry: %w", err)
	}
	if err := waitTCP(ctx, reg, 20*time.Second); err != nil {
		return nil, fmt.Errorf("docker-registry: %w", err)
	}

	// The image: /bin/busybox and the commands the job uses.
	root := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		return nil, err
	}
	bb, err := os.ReadFile(busyboxStatic)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), bb, 0o755); err != nil {
		return nil, err
	}
	for _, l := range []string{"sh", "printf", "echo", "cat", "sleep"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", l)); err != nil {
			return nil, err
		}
	}
	pushed := reg + "/busybox:1.36.1"
	for _, args := range [][]string{
		{"sh", "-c", `tar -C "$1" -c . | docker import - "$2"`, "import", root, pushed},
		{"docker", "push", pushed},
		{"docker", "tag", pushed, JobImage},
	} {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("making the job image (%s): %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := d.docker(ctx, "image", "inspect", "--format", "{{len .RepoDigests}}", JobImage)
	if err != nil || strings.TrimSpace(out) == "0" {
		return nil, fmt.Errorf("job image %s has no RepoDigest after the push (%v): Bacalhau would pull it from Docker Hub", JobImage, err)
	}
	return d, nil
}

func (d *dockerEngine) docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (d *dockerEngine) waitDaemon(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := d.docker(ctx, "version", "--format", "{{.Server.Version}}"); err == nil {
			return nil
		}
		select {
		case err := <-d.done:
			d.done <- err
			return fmt.Errorf("dockerd exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("dockerd not answering after 60s")
		}
	}
}

// Containers lists the IDs of every container the daemon has, running or
// not (tests check that nothing is left).
func (d *dockerEngine) Containers(ctx context.Context) ([]string, error) {
	out, err := d.docker(ctx, "ps", "-aq")
	if err != nil {
		return nil, fmt.Errorf("docker ps: %v: %s", err, out)
	}
	return strings.Fields(out), nil
}

// Close removes the containers, stops the registry and the daemon, and
// removes their files (the images with them).
func (d *dockerEngine) Close() error {
	if d == nil {
		return nil
	}
	var errs []error
	if d.dockerd != nil && d.dockerd.Process != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		if ids, err := d.Containers(ctx); err == nil && len(ids) > 0 {
			_, _ = d.docker(ctx, append([]string{"rm", "-f"}, ids...)...)
		}
		cancel()
		_ = d.dockerd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(20 * time.Second):
			_ = d.dockerd.Process.Kill()
			<-d.done
			errs = append(errs, errors.New("dockerd ignored SIGTERM for 20s, killed"))
		}
	}
	if d.registry != nil && d.registry.Process != nil {
		_ = d.registry.Process.Kill()
		_ = d.registry.Wait()
	}
	// The daemon unmounted its layers on the way out; what is left is files.
	if err := os.RemoveAll(d.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitTCP waits until addr accepts a connection.
func waitTCP(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not accepting connections after %s: %v", addr, limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
