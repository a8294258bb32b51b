// Package footprint measures what the canary's jobs cost the network they
// watch: neither supported Bacalhau release deletes or collects old jobs,
// and every job list loads, decodes and sorts every job in the store. It
// seeds job stores through the release's own store code (the devnet
// module's jobstore tool), starts the real node on them and times the
// calls users and the canary make. bench/footprint prints the table;
// the purge tests use the same measurements.
package footprint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bacalhau-project/bacalhau-canary/internal/devnet"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// Timings are the median times of the calls, over rounds.
type Timings struct {
	List, FilteredList, Get, Submit time.Duration
}

// Paths of Bacalhau's v1 API (both releases).
const jobsPath = "/api/v1/orchestrator/jobs"

// ListQuery is the canary's list: the 10 newest jobs. FilteredQuery is
// the one `bacalhau job list` sends by default (it hides the canary's).
var (
	ListQuery     = url.Values{"limit": {"10"}, "order_by": {"created_at"}, "reverse": {"true"}}
	FilteredQuery = url.Values{"limit": {"10"}, "order_by": {"created_at"}, "reverse": {"true"}, "labels": {scenarios.LabelCanary + "!=true"}}
)

// Client calls one network's API.
type Client struct {
	Base   string // http://host:port
	APIKey string
	HTTP   *http.Client
}

// NewClient is a client of the network's API.
func NewClient(n *devnet.Network) *Client {
	return &Client{Base: "http://" + n.Addr(), APIKey: n.APIKey, HTTP: &http.Client{Timeout: 60 * time.Second}}
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, body any, out any) error {
	u := c.Base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d: %.200s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// Job is the part of a job the checks read.
type Job struct {
	ID         string            `json:"ID"`
	Labels     map[string]string `json:"Labels"`
	CreateTime int64             `json:"CreateTime"`
	ModifyTime int64             `json:"ModifyTime"`
	State      struct {
		StateType string `json:"StateType"`
	} `json:"State"`
}

// List lists jobs with the query q (one page).
func (c *Client) List(ctx context.Context, q url.Values) ([]Job, string, error) {
	var r struct {
		Items     []Job  `json:"Items"`
		NextToken string `json:"NextToken"`
	}
	err := c.do(ctx, http.MethodGet, jobsPath, q, nil, &r)
	return r.Items, r.NextToken, err
}

// ListAll lists every job, page by page.
func (c *Client) ListAll(ctx context.Context) ([]Job, error) {
	var all []Job
	q := url.Values{"limit": {"1000"}, "order_by": {"created_at"}}
	for {
		items, next, err := c.List(ctx, q)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" || len(items) == 0 {
			return all, nil
		}
		q.Set("next_token", next)
	}
}

// Get gets one job with its executions and history, as the JSON the
// API returns.
func (c *Client) Get(ctx context.Context, id string) (json.RawMessage, error) {
	var r json.RawMessage
	err := c.do(ctx, http.MethodGet, jobsPath+"/"+url.PathEscape(id), url.Values{"include": {"executions"}}, nil, &r)
	return r, err
}

// Submit puts the canary's own submit job (wasm engine, local publisher)
// and returns its ID.
func (c *Client) Submit(ctx context.Context) (string, error) {
	spec := scenarios.JobSpec{Engine: scenarios.EngineWasm, Publisher: scenarios.PublisherLocal}
	job, err := spec.Build("submit", "footprint", strconv.FormatInt(time.Now().UnixNano(), 16), 1, 90*time.Second)
	if err != nil {
		return "", err
	}
	var r struct {
		JobID string `json:"JobID"`
	}
	if err := c.do(ctx, http.MethodPut, jobsPath, nil, map[string]any{"Job": job}, &r); err != nil {
		return "", err
	}
	return r.JobID, nil
}

// Measure times each call rounds times (after one warm-up round) and
// returns the medians. getID is a job to get.
func (c *Client) Measure(ctx context.Context, rounds int, getID string, submit bool) (Timings, error) {
	var list, filtered, get, sub []time.Duration
	timed := func(dst *[]time.Duration, warm bool, fn func() error) error {
		start := time.Now()
		if err := fn(); err != nil {
			return err
		}
		if !warm {
			*dst = append(*dst, time.Since(start))
		}
		return nil
	}
	for i := range rounds + 1 {
		warm := i == 0
		if err := timed(&list, warm, func() error { _, _, err := c.List(ctx, ListQuery); return err }); err != nil {
			return Timings{}, err
		}
		if err := timed(&filtered, warm, func() error { _, _, err := c.List(ctx, FilteredQuery); return err }); err != nil {
			return Timings{}, err
		}
		if getID != "" {
			if err := timed(&get, warm, func() error { _, err := c.Get(ctx, getID); return err }); err != nil {
				return Timings{}, err
			}
		}
		if submit {
			if err := timed(&sub, warm, func() error { _, err := c.Submit(ctx); return err }); err != nil {
				return Timings{}, err
			}
		}
	}
	return Timings{List: Median(list), FilteredList: Median(filtered), Get: Median(get), Submit: Median(sub)}, nil
}

// Median of ds; 0 for none.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// RSS is the resident set size of a process, PeakRSS its high-water
// mark, from /proc (Linux).
func RSS(pid int) (int64, error) { return procStatus(pid, "VmRSS") }

// PeakRSS is the process's peak resident set size.
func PeakRSS(pid int) (int64, error) { return procStatus(pid, "VmHWM") }

func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// Seed writes n jobs into the store file through the release's jobstore
// tool (args: its seed flags) and returns their IDs.
func Seed(ctx context.Context, v devnet.Version, store string, n int, args ...string) ([]string, error) {
	out, err := devnet.Jobstore(ctx, v, append([]string{"seed", "-store", store, "-n", strconv.Itoa(n)}, args...)...)
	if err != nil {
		return nil, err
	}
	ids := strings.Fields(out)
	if len(ids) != n {
		return nil, fmt.Errorf("seeding %d jobs printed %d IDs", n, len(ids))
	}
	return ids, nil
}
