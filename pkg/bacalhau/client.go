// Package bacalhau connects the canary to a Bacalhau v1.7 orchestrator: the
// official client for the API and a plain HTTP fetcher for published results.
package bacalhau

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	clientv2 "github.com/bacalhau-project/bacalhau/pkg/publicapi/client/v2"

	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
)

// Options say where the API is and how to authenticate.
type Options struct {
	Host     string
	Port     int
	TLS      bool
	APIKey   string // bearer token
	Username string // basic auth, with Password
	Password string
	Timeout  time.Duration // per request
}

// Address is the API's base URL.
func (o Options) Address() string {
	scheme := "http"
	if o.TLS {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
}

// New returns the job API of the orchestrator and a fetcher for results.
func New(o Options) (*clientv2.Jobs, scenarios.Fetcher) {
	headers := http.Header{}
	switch {
	case o.APIKey != "":
		headers.Set("Authorization", "Bearer "+o.APIKey)
	case o.Username != "":
		headers.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(o.Username+":"+o.Password)))
	}
	api := clientv2.New(o.Address(),
		clientv2.WithTimeout(o.Timeout),
		clientv2.WithTLS(o.TLS),
		clientv2.WithHeaders(headers),
		clientv2.WithAppID("bacalhau-canary"),
	)
	return api.Jobs(), &Fetcher{Client: &http.Client{Timeout: o.Timeout}}
}

var _ scenarios.Jobs = (*clientv2.Jobs)(nil)

// Fetcher downloads published results over HTTP(S).
type Fetcher struct {
	Client *http.Client
}

var _ scenarios.Fetcher = (*Fetcher)(nil)

// Fetch GETs url and returns the body of a 200 reply.
func (f *Fetcher) Fetch(ctx context.Context, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("result URL %q: %v: %w", url, err, scenarios.ErrPublisher)
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &StatusError{Code: resp.StatusCode, URL: url}
	}
	return resp.Body, nil
}

// StatusError is a non-200 reply to a download.
type StatusError struct {
	Code int
	URL  string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d", e.URL, e.Code)
}

// Unwrap gives the error its class: whatever the publisher answers, it is
// the result path that failed, not the API.
func (e *StatusError) Unwrap() error { return scenarios.ErrPublisher }
