package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/config"
	"github.com/bacalhau-project/bacalhau/pkg/config/types"
	"github.com/bacalhau-project/bacalhau/pkg/devstack"
	"github.com/bacalhau-project/bacalhau/pkg/lib/network"
	"github.com/bacalhau-project/bacalhau/pkg/logger"
	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/node"
	"github.com/bacalhau-project/bacalhau/pkg/system"
)

// member is one node of the network with what it takes to start it again.
type member struct {
	cfg   node.NodeConfig
	node  *node.Node
	cm    *system.CleanupManager // the node's own cleanup (cfg.CleanupManager)
	relay *relay                 // compute-only nodes: their way to the orchestrator
}

// stack is the network's nodes; node-0 orchestrates and serves the API.
type stack struct {
	mu      sync.Mutex
	members []*member
}

// nodes returns the running nodes.
func (s *stack) nodes() []*node.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*node.Node
	for _, m := range s.members {
		if m.node != nil {
			out = append(out, m.node)
		}
	}
	return out
}

// startNodes makes and starts the network's nodes the way Bacalhau's
// devstack does (its test configuration, a data directory per node under
// base, free ports, bad actors last): node-0 orchestrates, serves the API
// and computes, the others only compute. Unlike the devstack's, each node
// has its own cleanup, and each compute-only node dials the orchestrator
// through a relay.
func startNodes(ctx context.Context, o options, base string) (*stack, error) {
	cfg, err := config.NewTestConfig()
	if err != nil {
		return nil, fmt.Errorf("test config: %w", err)
	}
	if cfg, err = cfg.MergeNew(overrides(o)); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	s := &stack{}
	total := 1 + o.compute
	var nats string
	for i := range total {
		id := fmt.Sprintf("node-%d", i)
		c := cfg
		c.Orchestrator.Enabled, c.Compute.Enabled = i == 0, true
		m := &member{cm: system.NewCleanupManager()}
		s.members = append(s.members, m) // closed with the stack, whatever fails below
		if i == 0 {
			if c.Orchestrator.Port, err = network.GetFreePort(); err != nil {
				return s, fmt.Errorf("nats port: %w", err)
			}
			nats = fmt.Sprintf("127.0.0.1:%d", c.Orchestrator.Port)
			c.Compute.Orchestrators = []string{nats} // its own NATS server, as v1.7's devstack sets it
		} else {
			if m.relay, err = newRelay(nats); err != nil {
				return s, err
			}
			c.Compute.Orchestrators = []string{m.relay.addr()}
		}
		if c.API.Port, err = network.GetFreePort(); err != nil {
			return s, fmt.Errorf("api port: %w", err)
		}
		if c.Publishers.Types.Local.Port, err = network.GetFreePort(); err != nil {
			return s, fmt.Errorf("publisher port: %w", err)
		}
		if c, err = c.MergeNew(types.Bacalhau{
			DataDir: filepath.Join(base, id),
			Labels:  map[string]string{"id": id, "name": id, "env": "devstack"},
		}); err != nil {
			return s, fmt.Errorf("config of %s: %w", id, err)
		}
		if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
			return s, fmt.Errorf("data dir of %s: %w", id, err)
		}
		m.cfg = node.NodeConfig{
			NodeID:                 id,
			CleanupManager:         m.cm,
			BacalhauConfig:         c,
			SystemConfig:           systemConfig(),
			FailureInjectionConfig: models.FailureInjectionConfig{IsBadActor: o.bad > 0 && i >= total-o.bad},
		}
		if err := m.start(ctx); err != nil {
			return s, err
		}
	}
	return s, nil
}

// start makes the member's node from its configuration and starts it.
func (m *member) start(ctx context.Context) error {
	ctx = logger.ContextWithNodeIDLogger(ctx, m.cfg.NodeID)
	n, err := node.NewNode(ctx, m.cfg, devstack.NewMetadataStore())
	if err != nil {
		m.stop(ctx) // what it made before it failed
		return fmt.Errorf("creating %s: %w", m.cfg.NodeID, err)
	}
	m.node = n
	if err := n.Start(ctx); err != nil {
		return fmt.Errorf("starting %s: %w", m.cfg.NodeID, err)
	}
	return nil
}

// stop runs the node's cleanup (its API server, transport, stores) and
// readies a fresh cleanup for a start.
func (m *member) stop(ctx context.Context) {
	m.cm.Cleanup(ctx)
	m.cm = system.NewCleanupManager()
	m.cfg.CleanupManager = m.cm
	m.node = nil
}

// close stops every node and relay.
func (s *stack) close(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.members) - 1; i >= 0; i-- {
		m := s.members[i]
		if m.node != nil {
			m.stop(ctx)
		}
		m.relay.close()
	}
}

// restartOrchestrator stops node-0 and starts it again from the same
// configuration (ports, data directory, job store) down after it began to
// stop, as a restarted process would come back.
//
// A signal (ctx) ends the downtime early and leaves the node stopped, so the
// process can exit; the node itself lives on nodeCtx.
func (s *stack) restartOrchestrator(ctx, nodeCtx context.Context, down time.Duration) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.members[0]
	began := time.Now()
	m.stop(nodeCtx)
	select {
	case <-time.After(time.Until(began.Add(down))):
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if err := m.start(nodeCtx); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s after %s", m.cfg.NodeID, time.Since(began).Round(time.Millisecond)), nil
}

// stopComputeNode makes the last compute-only node still running go away
// as a machine does: its relay goes silent first, so neither its goodbye nor
// anything else reaches the orchestrator, then the node stops. It returns
// the node's ID, or "none". The node is not started again.
func (s *stack) stopComputeNode(ctx context.Context) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.members) - 1; i >= 0; i-- {
		m := s.members[i]
		if m.relay == nil || m.node == nil {
			continue
		}
		m.relay.cut()
		// A machine that goes away does not wait for its goodbyes: the node
		// stops in the background (its shutdown notice times out unheard).
		go m.cm.Cleanup(ctx)
		m.node = nil
		return m.cfg.NodeID
	}
	return "none"
}

// relay forwards a compute node's connections to the orchestrator's NATS
// port until it is cut; then it forwards nothing and closes nothing, as a
// link to a machine that has gone away.
type relay struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	isCut  bool
	closed bool
	conns  map[net.Conn]bool
}

func newRelay(target string) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	r := &relay{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go r.serve()
	return r, nil
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		go r.pipe(c)
	}
}

func (r *relay) pipe(c net.Conn) {
	if !r.track(c) {
		return // cut: the connection is held open, unanswered (or closed)
	}
	up, err := net.DialTimeout("tcp", r.target, 5*time.Second)
	if err != nil {
		r.drop(c) // the orchestrator is down: refuse as it would
		return
	}
	if !r.track(up) {
		return
	}
	done := make(chan struct{}, 2)
	go r.copy(up, c, done)
	go r.copy(c, up, done)
	<-done
	if !r.cutOff() {
		r.drop(c)
		r.drop(up)
	}
}

// track records a connection, and says whether to use it: a cut relay
// holds it open unanswered, a closed one closes it.
func (r *relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		c.Close()
		return false
	}
	r.conns[c] = true
	return !r.isCut
}

// drop closes a connection and forgets it.
func (r *relay) drop(c net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, c)
	c.Close()
}

// cutOff says whether the relay is cut.
func (r *relay) cutOff() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.isCut
}

// copy forwards src to dst while the relay is not cut; once cut it drains
// src and drops what it reads.
func (r *relay) copy(dst, src net.Conn, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !r.cutOff() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.isCut = true
}

// close ends the relay and every connection it holds.
func (r *relay) close() {
	if r == nil {
		return
	}
	r.ln.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
}
