package devnet

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrNoNetns marks a machine where the test cannot make a network
// namespace (not root, no `ip`, or the kernel refuses).
var ErrNoNetns = errors.New("cannot create a network namespace")

// Link is a second "host" for tests: a network namespace of its own joined
// to the caller's by a veth pair with a private /30 (10.x.y.z, never
// link-local). A listener on the namespace's loopback is unreachable from
// the caller, as it would be on another machine.
type Link struct {
	Namespace string // `ip netns` name
	Local     string // the caller's end of the link
	Remote    string // the namespace's end: the network's address
	veth      string // the caller's interface; deleting it deletes the pair
}

// NewLink makes a uniquely named namespace and a veth pair on a /30 no
// interface or route on this host uses yet (chosen at random, retried on
// collision; creation is serialised across processes by a lock file, so
// concurrent tests from other checkouts never pick the same subnet). Close
// removes both. Without the capability it returns an error wrapping
// ErrNoNetns.
func NewLink(ctx context.Context) (*Link, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: not root", ErrNoNetns)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("%w: no ip command (iproute2)", ErrNoNetns)
	}
	unlock, err := lockLinks()
	if err != nil {
		return nil, err
	}
	defer unlock()
	id := randomHex(4)
	l := &Link{Namespace: "canary-" + id, veth: "cnr" + id}
	if out, err := run(ctx, "netns", "add", l.Namespace); err != nil {
		return nil, fmt.Errorf("%w: ip netns add: %v: %s", ErrNoNetns, err, out)
	}
	ok := false
	defer func() {
		if !ok {
			l.Close()
		}
	}()
	for attempt := 0; ; attempt++ {
		local, remote, err := freeSubnet()
		if err != nil {
			return nil, err
		}
		if attempt == 8 {
			return nil, errors.New("no free 10.x /30 for the test link after 8 tries")
		}
		if used, err := subnetInUse(local); err != nil {
			return nil, err
		} else if used {
			continue
		}
		l.Local, l.Remote = local.String(), remote.String()
		break
	}
	peer := "cnp" + id
	steps := [][]string{
		{"link", "add", l.veth, "type", "veth", "peer", "name", peer, "netns", l.Namespace},
		{"addr", "add", l.Local + "/30", "dev", l.veth},
		{"link", "set", l.veth, "up"},
		{"-n", l.Namespace, "addr", "add", l.Remote + "/30", "dev", peer},
		{"-n", l.Namespace, "link", "set", peer, "up"},
		{"-n", l.Namespace, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if out, err := run(ctx, s...); err != nil {
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	ok = true
	return l, nil
}

// Close deletes the veth pair and the namespace. It is safe on a nil Link
// and on one already closed.
func (l *Link) Close() error {
	if l == nil {
		return nil
	}
	var errs []error
	if l.veth != "" {
		if out, err := run(context.Background(), "link", "del", l.veth); err != nil && !strings.Contains(string(out), "Cannot find device") {
			errs = append(errs, fmt.Errorf("ip link del %s: %v: %s", l.veth, err, out))
		}
		l.veth = ""
	}
	if l.Namespace != "" {
		if out, err := run(context.Background(), "netns", "del", l.Namespace); err != nil && !strings.Contains(string(out), "No such file") {
			errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", l.Namespace, err, out))
		}
		l.Namespace = ""
	}
	return errors.Join(errs...)
}

func run(ctx context.Context, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	return []byte(strings.TrimSpace(string(out))), err
}

// freeSubnet picks a random /30 in 10.64.0.0/10 (clear of the 10.0.x
// ranges hosts and containers usually take): the two usable addresses.
func freeSubnet() (local, remote net.IP, err error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, nil, fmt.Errorf("random subnet: %w", err)
	}
	n := binary.BigEndian.Uint32(b[:])&0x003f_fffc | 0x0a40_0000 // 10.64.0.0/10, /30 aligned
	ip := func(v uint32) net.IP {
		out := make(net.IP, 4)
		binary.BigEndian.PutUint32(out, v)
		return out
	}
	return ip(n + 1), ip(n + 2), nil
}

// subnetInUse reports whether any interface address of this namespace
// lies in the /30 of ip, or ip's /30 lies in one of theirs.
func subnetInUse(ip net.IP) (bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false, fmt.Errorf("listing addresses: %w", err)
	}
	mine := &net.IPNet{IP: ip.Mask(net.CIDRMask(30, 32)), Mask: net.CIDRMask(30, 32)}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if ok && (n.Contains(ip) || mine.Contains(n.IP)) {
			return true, nil
		}
	}
	return false, nil
}

// lockLinks serialises link creation across processes on this machine.
func lockLinks() (func(), error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "bacalhau-canary-netns.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("link lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("link lock: %w", err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
