package scenarios

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/bacalhau-project/bacalhau/pkg/publicapi/apimodels"
)

// nodeAPI answers the node list page by page, as the orchestrator does
// (NextToken is the index of the next page); it has no job API.
type nodeAPI struct {
	Jobs
	pages [][]*models.NodeState
	err   error
}

func (a *nodeAPI) ListNodes(_ context.Context, r *apimodels.ListNodesRequest) (*apimodels.ListNodesResponse, error) {
	if a.err != nil {
		return nil, a.err
	}
	page := 0
	if r.NextToken != "" {
		page, _ = strconv.Atoi(r.NextToken)
	}
	resp := &apimodels.ListNodesResponse{Nodes: a.pages[page]}
	if page+1 < len(a.pages) {
		resp.NextToken = strconv.Itoa(page + 1)
	}
	return resp, nil
}

// ListNodes gives the fake orchestrator's nodes to the census: f.nodes
// connected, approved compute nodes with both engines and the local
// publisher, on v1.7.0.
func (f *fakeJobs) ListNodes(ctx context.Context, _ *apimodels.ListNodesRequest) (*apimodels.ListNodesResponse, error) {
	if err := f.enter(ctx, "ListNodes"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &apimodels.ListNodesResponse{}
	for i := range f.nodes {
		resp.Nodes = append(resp.Nodes, node("node-"+strconv.Itoa(i), "v1.7.0", func(n *models.NodeState) {
			n.Info.ComputeNodeInfo.ExecutionEngines = []string{EngineWasm, EngineDocker}
		}))
	}
	return resp, nil
}

var _ NodeLister = (*fakeJobs)(nil)

// node is a connected, approved compute node with the wasm engine and the
// local publisher, labelled owner=bacalhau, on version.
func node(id, version string, change ...func(*models.NodeState)) *models.NodeState {
	n := &models.NodeState{
		Info: models.NodeInfo{
			NodeID: id, NodeType: models.NodeTypeCompute,
			Labels:          map[string]string{"owner": "bacalhau"},
			ComputeNodeInfo: models.ComputeNodeInfo{ExecutionEngines: []string{EngineWasm}, Publishers: []string{PublisherLocal}},
			BacalhauVersion: models.BuildVersionInfo{GitVersion: version},
		},
		Membership:      models.NodeMembership.APPROVED,
		ConnectionState: models.ConnectionState{Status: models.NodeStates.CONNECTED},
	}
	for _, c := range change {
		c(n)
	}
	return n
}

func TestCensus(t *testing.T) {
	t.Parallel()
	disconnected := func(n *models.NodeState) { n.ConnectionState.Status = models.NodeStates.DISCONNECTED }
	pending := func(n *models.NodeState) { n.Membership = models.NodeMembership.PENDING }
	requester := func(n *models.NodeState) { n.Info.NodeType = models.NodeTypeRequester }
	dockerOnly := func(n *models.NodeState) { n.Info.ComputeNodeInfo.ExecutionEngines = []string{EngineDocker} }
	s3Only := func(n *models.NodeState) { n.Info.ComputeNodeInfo.Publishers = []string{"s3"} }
	otherOwner := func(n *models.NodeState) { n.Info.Labels["owner"] = "someone" }
	selectors := []*models.LabelSelectorRequirement{{Key: "owner", Operator: "=", Values: []string{"bacalhau"}}}

	tests := []struct {
		name      string
		pages     [][]*models.NodeState
		publisher string
		err       error
		want      string // the census line, or the error's text
		class     Class  // of the scenario's error; "" passes
	}{
		{
			name:  "three nodes on two versions pass",
			pages: [][]*models.NodeState{{node("a", "v1.7.0"), node("b", "v1.9.4"), node("c", "v1.7.0")}},
			want:  "3 of 3 matching compute nodes connected (v1.7.0 wasm: 2; v1.9.4 wasm: 1)",
		},
		{
			name:  "pages are followed",
			pages: [][]*models.NodeState{{node("a", "v1.7.0")}, {node("b", "v1.7.0")}, {node("c", "v1.7.0")}},
			want:  "3 of 3 matching compute nodes connected (v1.7.0 wasm: 3)",
		},
		{
			name: "a node that left fails",
			pages: [][]*models.NodeState{{
				node("a", "v1.9.4"), node("b", "v1.9.4"), node("c", "v1.9.4", disconnected),
				node("orch", "v1.9.4", requester),
			}},
			want:  "2 of 3 matching compute nodes connected (v1.9.4 wasm: 2)",
			class: ErrConcurrency,
		},
		{
			name: "nodes that cannot run the job are counted apart",
			pages: [][]*models.NodeState{{
				node("a", "v1.7.0"), node("b", "v1.7.0", pending), node("c", "v1.7.0", dockerOnly),
				node("d", "v1.7.0", s3Only), node("e", "v1.7.0", otherOwner),
			}},
			publisher: PublisherLocal,
			want:      "1 of 3 matching compute nodes connected (v1.7.0 wasm: 1; 3 more connected compute node(s) do not match the selectors, engine or publisher)",
			class:     ErrConcurrency,
		},
		{
			name:  "a version that does not read as one is unknown",
			pages: [][]*models.NodeState{{node("a", "v1.7.0\nforged"), node("b", ""), node("c", "v1.7.0")}},
			want:  "3 of 3 matching compute nodes connected (unknown wasm: 2; v1.7.0 wasm: 1)",
		},
		{
			name:  "no node at all",
			pages: [][]*models.NodeState{{}},
			want:  "0 of 3 matching compute nodes connected",
			class: ErrConcurrency,
		},
		{
			name:  "a null node is a protocol error",
			pages: [][]*models.NodeState{{node("a", "v1.7.0"), nil}},
			want:  "listing nodes: item 1 is null",
			class: ErrProtocol,
		},
		{
			name:  "the API's error is the run's",
			pages: [][]*models.NodeState{{}},
			err:   errors.New("refused: " + string(ErrUnavailable)),
			want:  "listing nodes: refused",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &Probe{
				Jobs: &nodeAPI{pages: tc.pages, err: tc.err},
				Spec: JobSpec{Engine: EngineWasm, Publisher: tc.publisher, Selectors: selectors},
				res:  &Result{Phases: []Phase{{Name: "nodes"}}},
			}
			err := Nodes.Run(context.Background(), p)
			switch {
			case tc.err != nil:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want it to say %q", err, tc.want)
				}
				return
			case tc.class == "":
				if err != nil {
					t.Fatalf("failed: %v", err)
				}
			case !errors.Is(err, tc.class):
				t.Fatalf("error %v, want class %s", err, tc.class)
			case !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q, want it to say %q", err, tc.want)
			}
			if tc.class == ErrProtocol {
				return
			}
			if p.res.Census == nil || p.res.Census.String() != tc.want {
				t.Fatalf("census %v, want %q", p.res.Census, tc.want)
			}
		})
	}
}

// More versions than the result keeps are summed as "other".
func TestCensusGroupsAreBounded(t *testing.T) {
	t.Parallel()
	var nodes []*models.NodeState
	for i := range 20 {
		nodes = append(nodes, node(strconv.Itoa(i), "v1."+strconv.Itoa(i)+".0"))
	}
	p := &Probe{Jobs: &nodeAPI{pages: [][]*models.NodeState{nodes}}, Spec: JobSpec{Engine: EngineWasm}, res: &Result{}}
	c, err := p.Census(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Groups) != maxCensusGroups || c.Groups[maxCensusGroups-1].Version != "other" {
		t.Fatalf("groups %v, want %d ending with other", c.Groups, maxCensusGroups)
	}
	sum := 0
	for _, g := range c.Groups {
		sum += g.Nodes
	}
	if sum != 20 || c.Matching != 20 {
		t.Fatalf("groups sum to %d, matching %d, want 20", sum, c.Matching)
	}
}

// A client without the node API is the canary's fault.
func TestCensusWithoutNodeAPIIsCanary(t *testing.T) {
	t.Parallel()
	p := &Probe{Jobs: struct{ Jobs }{newFake()}, Spec: JobSpec{Engine: EngineWasm}, res: &Result{}}
	if _, err := p.Census(context.Background()); !errors.Is(err, ErrCanary) {
		t.Fatalf("error %v, want class canary", err)
	}
}
