package scenarios

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
	"k8s.io/apimachinery/pkg/labels"
)

// NodeLister is the part of the node API the nodes census uses; the
// canary's client (pkg/bacalhau) has it.
type NodeLister interface {
	ListNodes(ctx context.Context, r *apimodels.ListNodesRequest) (*apimodels.ListNodesResponse, error)
}

// Bounds on what the census reads and reports: the node list came from the
// network.
const (
	nodesPageSize   = 500
	maxNodePages    = 20 // at most 10,000 nodes
	maxCensusGroups = 8  // version groups in the result; the rest are summed as "other"
)

// Nodes counts the network's compute nodes that could run the canary's
// job, without creating one.
var Nodes = Scenario{
	Name:   "nodes",
	Doc:    "list the network's nodes; at least 3 connected, approved compute nodes match the canary's selectors, engine and publisher (what submitWithConcurrency needs); creates no job",
	Phases: []string{"nodes"},
	Run: func(ctx context.Context, p *Probe) error {
		return p.Phase("nodes", func() error {
			c, err := p.Census(ctx)
			if err == nil && c.Matching < concurrency {
				err = fmt.Errorf("%s: %w", c, ErrConcurrency)
			}
			return err
		})
	},
}

// Census is what the node list says about the nodes the canary's job could
// run on.
type Census struct {
	Needed    int // what submitWithConcurrency needs
	Matching  int // connected, approved compute nodes matching selectors, engine and publisher
	Connected int // connected, approved compute nodes, matching or not
	Engine    string
	// Groups counts the matching nodes by Bacalhau version (sanitised),
	// at most maxCensusGroups of them, largest first.
	Groups []CensusGroup
}

// CensusGroup is a count of matching nodes of one Bacalhau version.
type CensusGroup struct {
	Version string
	Nodes   int
}

// String is the census in one line: "2 of 3 matching compute nodes
// connected (v1.7.0 wasm: 2; 1 more connected compute node(s) do not match …)".
func (c Census) String() string {
	s := fmt.Sprintf("%d of %d matching compute nodes connected", c.Matching, c.Needed)
	var parts []string
	for _, g := range c.Groups {
		parts = append(parts, fmt.Sprintf("%s %s: %d", g.Version, c.Engine, g.Nodes))
	}
	if other := c.Connected - c.Matching; other > 0 {
		parts = append(parts, fmt.Sprintf("%d more connected compute node(s) do not match the selectors, engine or publisher", other))
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, "; ") + ")"
	}
	return s
}

// Census lists the network's nodes and counts those the canary's job
// could run on: connected, approved compute nodes whose labels match the
// job's selectors and that support its engine and, when the job names
// one, its publisher. The run's result carries it.
func (p *Probe) Census(ctx context.Context) (Census, error) {
	c := Census{Needed: concurrency, Engine: p.Spec.Engine}
	nl, ok := p.Jobs.(NodeLister)
	if !ok {
		return c, fmt.Errorf("the API client cannot list nodes: %w", ErrCanary)
	}
	reqs, err := models.FromLabelSelectorRequirements(p.Spec.Selectors...)
	if err != nil {
		return c, fmt.Errorf("node selectors: %v: %w", err, ErrCanary)
	}
	selector := labels.NewSelector().Add(reqs...)
	byVersion := map[string]int{}
	req := &apimodels.ListNodesRequest{BaseListRequest: apimodels.BaseListRequest{Limit: nodesPageSize}}
	for page := 0; ; page++ {
		if page == maxNodePages {
			return c, fmt.Errorf("listing nodes: more than %d pages of %d: %w", maxNodePages, nodesPageSize, ErrProtocol)
		}
		resp, err := nl.ListNodes(ctx, req)
		if err != nil {
			return c, fmt.Errorf("listing nodes: %w", err)
		}
		if resp == nil {
			return c, fmt.Errorf("listing nodes: empty reply: %w", ErrProtocol)
		}
		for i, n := range resp.Nodes {
			if n == nil {
				return c, fmt.Errorf("listing nodes: item %d is null: %w", i, ErrProtocol)
			}
			if n.Info.NodeType != models.NodeTypeCompute || n.Membership != models.NodeMembership.APPROVED ||
				n.ConnectionState.Status != models.NodeStates.CONNECTED {
				continue
			}
			c.Connected++
			info := n.Info.ComputeNodeInfo
			if !selector.Matches(labels.Set(n.Info.Labels)) || !slices.Contains(info.ExecutionEngines, p.Spec.Engine) ||
				p.Spec.Publisher != "" && !slices.Contains(info.Publishers, p.Spec.Publisher) {
				continue
			}
			c.Matching++
			byVersion[SanitizeVersion(n.Info.BacalhauVersion.GitVersion)]++
		}
		if resp.NextToken == "" || len(resp.Nodes) == 0 {
			break
		}
		req.NextToken = resp.NextToken
	}
	// Largest first; all beyond maxCensusGroups-1 are summed as "other".
	for v, n := range byVersion {
		c.Groups = append(c.Groups, CensusGroup{Version: v, Nodes: n})
	}
	slices.SortFunc(c.Groups, func(a, b CensusGroup) int { return cmp.Or(b.Nodes-a.Nodes, strings.Compare(a.Version, b.Version)) })
	if len(c.Groups) > maxCensusGroups {
		other := CensusGroup{Version: "other"}
		for _, g := range c.Groups[maxCensusGroups-1:] {
			other.Nodes += g.Nodes
		}
		c.Groups = append(c.Groups[:maxCensusGroups-1], other)
	}
	p.res.Census = &c
	return c, nil
}
