package metrics

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"github.com/bacalhau-project/bacalhau-canary/pkg/gcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// Sink records the result of one run.
type Sink interface {
	Record(ctx context.Context, r scenarios.Result) error
}

// Sink kinds, the values of CANARY_METRICS.
const (
	KindGCP    = "gcp"
	KindStdout = "stdout"
	KindNone   = "none"
)

// Options choose and configure a sink.
type Options struct {
	Kind string // KindGCP, KindStdout or KindNone

	// For KindGCP.
	Project  string        // GOOGLE_CLOUD_PROJECT; empty: ask the metadata server
	Location string        // CANARY_LOCATION; empty: the metadata server's region, else "global"
	Endpoint string        // CANARY_MONITORING_ENDPOINT: plaintext endpoint, no credentials
	Metadata bool          // may ask the metadata server for Project and Location
	Log      *slog.Logger  // gets the summary of a partly failed write; nil: none
	Interval time.Duration // CANARY_SCHEDULE_INTERVAL: stamp on the run's slot; 0: on its end

	// For KindStdout.
	Stdout io.Writer
}

// ErrNoProject means the gcp sink does not know which project to write to.
var ErrNoProject = errors.New("no Google Cloud project: set GOOGLE_CLOUD_PROJECT")

// defaultLocation is the resource location when neither CANARY_LOCATION nor
// a metadata server says where the canary runs.
const defaultLocation = "global"

// New builds the sink o asks for. For gcp it resolves the project and the
// location first (the metadata server only when o.Metadata allows it) and
// creates the Monitoring client (it does not connect yet), a *GCP to Close
// when done.
func New(ctx context.Context, o Options) (Sink, error) {
	switch o.Kind {
	case KindNone:
		return None{}, nil
	case KindStdout:
		if o.Stdout == nil {
			return nil, errors.New("stdout sink: no writer")
		}
		return &Stdout{W: o.Stdout, Interval: o.Interval}, nil
	case KindGCP:
	default:
		return nil, fmt.Errorf("unknown metrics sink %q (gcp, stdout or none)", o.Kind)
	}
	g := GCP{Project: o.Project, Location: o.Location, Log: o.Log, Interval: o.Interval}
	onGCP := o.Metadata && (g.Project == "" || g.Location == "") && gcp.OnGCP(ctx)
	if g.Project == "" && onGCP {
		p, err := gcp.MetadataProject(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w (and %v)", ErrNoProject, err)
		}
		g.Project = p
	}
	if g.Location == "" && onGCP {
		l, err := gcp.MetadataLocation(ctx)
		if err != nil {
			return nil, fmt.Errorf("no location: set CANARY_LOCATION (%v)", err)
		}
		g.Location = l
	}
	if g.Project == "" {
		return nil, ErrNoProject
	}
	g.Location = cmp.Or(g.Location, defaultLocation)
	g.Log = cmp.Or(g.Log, slog.New(slog.DiscardHandler))
	// Each attempt has its own deadline, so a hung call leaves the
	// budget to the next one.
	perAttempt := grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
		defer cancel()
		return invoke(ctx, method, req, reply, cc, opts...)
	})
	client, err := monitoring.NewMetricClient(ctx, append(gcp.ClientOptions(o.Endpoint), option.WithGRPCDialOption(perAttempt))...)
	if err != nil {
		return nil, fmt.Errorf("monitoring client: %w", err)
	}
	g.client = client
	return &g, nil
}

// None drops every result.
type None struct{}

func (None) Record(context.Context, scenarios.Result) error { return nil }

// Stdout writes a run's points as JSON lines, one per point: what the gcp
// sink would write, for reading locally.
type Stdout struct {
	W        io.Writer
	Interval time.Duration // as GCP.Interval
	mu       sync.Mutex
}

// StdoutLine is one line of the stdout sink.
type StdoutLine struct {
	Time      time.Time         `json:"time"`
	Metric    string            `json:"metric"`
	Kind      string            `json:"kind"`
	ValueType string            `json:"value_type"`
	Value     any               `json:"value"`
	Labels    map[string]string `json:"labels"`
	// The monitored resource, without project and location (the stdout
	// sink does not resolve them).
	Resource struct {
		Type   string            `json:"type"`
		Labels map[string]string `json:"labels"`
	} `json:"resource"`
}

// Record writes r's points.
func (s *Stdout) Record(_ context.Context, r scenarios.Result) error {
	at := Stamp(r, s.Interval).UTC()
	line := StdoutLine{Time: at, Kind: KindGauge}
	line.Resource.Type = ResourceType
	line.Resource.Labels = map[string]string{"namespace": Namespace, "job": r.Scenario, "task_id": TaskID}
	s.mu.Lock()
	defer s.mu.Unlock()
	enc := json.NewEncoder(s.W)
	for _, p := range Points(r, at) {
		line.Metric, line.ValueType, line.Value, line.Labels = Prefix+p.Metric, p.ValueType, p.Double, p.Labels
		if p.ValueType == TypeInt64 {
			line.Value = p.Int64
		}
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("writing metrics to stdout: %w", err)
		}
	}
	return nil
}
