// Package config loads the canary's configuration from the environment
// (one struct, sethvargo/go-envconfig) and validates it before any network
// call, so bad input ends in one line naming the variable.
package config

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bacalhau-project/bacalhau/pkg/models"
	"github.com/sethvargo/go-envconfig"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/bacalhau-project/bacalhau-canary/pkg/bacalhau"
	"github.com/bacalhau-project/bacalhau-canary/pkg/gcp"
	"github.com/bacalhau-project/bacalhau-canary/pkg/metrics"
	"github.com/bacalhau-project/bacalhau-canary/pkg/scenarios"
	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// Config is every setting of the canary. Names are the external contract.
type Config struct {
	APIHost     string `env:"BACALHAU_API_HOST"`
	APIPort     int    `env:"BACALHAU_API_PORT, default=1234"`
	APITLS      bool   `env:"BACALHAU_API_TLS, default=false"`
	APICAFile   string `env:"BACALHAU_API_TLS_CAFILE"` // PEM CAs trusted for the API beside the system's (Bacalhau's API.TLS.CAFile)
	APIKey      string `env:"BACALHAU_API_KEY"`
	APIUsername string `env:"BACALHAU_API_USERNAME"`
	APIPassword string `env:"BACALHAU_API_PASSWORD"`
	// APIKeySecret names a Secret Manager version holding the API key.
	APIKeySecret string `env:"BACALHAU_API_KEY_SECRET"`
	// AllowPlaintextCredentials lets an API key or password go to a
	// non-loopback host without TLS.
	AllowPlaintextCredentials bool `env:"CANARY_ALLOW_PLAINTEXT_CREDENTIALS, default=false"`

	Scenario      string        `env:"CANARY_SCENARIO"`
	Env           string        `env:"CANARY_ENV, default=dev"`
	Engine        string        `env:"CANARY_ENGINE"`
	NodeSelectors string        `env:"CANARY_NODE_SELECTORS"`
	Publisher     string        `env:"CANARY_PUBLISHER, default=local"`
	Timeout       time.Duration `env:"CANARY_TIMEOUT, default=90s"`
	// Schedule interval of the scenario (Terraform sets it from the cron):
	// metric points are stamped on the run's slot (pkg/metrics/slot.go).
	Interval time.Duration `env:"CANARY_SCHEDULE_INTERVAL"`
	Metrics  string        `env:"CANARY_METRICS"`
	// Image is the container image the job runs (Terraform passes the
	// deployed reference, pinned by digest); only logged.
	Image string `env:"CANARY_IMAGE"`

	Project               string `env:"GOOGLE_CLOUD_PROJECT"`
	Location              string `env:"CANARY_LOCATION"`
	MonitoringEndpoint    string `env:"CANARY_MONITORING_ENDPOINT"`
	SecretManagerEndpoint string `env:"CANARY_SECRETMANAGER_ENDPOINT"`

	intervalSet bool // CANARY_SCHEDULE_INTERVAL was given (0 then is no interval)
}

// Load reads the configuration from lookuper (os environment when nil).
// Validation is left to Validate, after flags have overridden values.
func Load(ctx context.Context, lookuper envconfig.Lookuper) (Config, error) {
	if lookuper == nil {
		lookuper = envconfig.OsLookuper()
	}
	var c Config
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &c, Lookuper: lookuper}); err != nil {
		return c, loadError(err, lookuper)
	}
	if v, ok := lookuper.Lookup("CANARY_SCHEDULE_INTERVAL"); ok && v != "" {
		c.intervalSet = true
	}
	return c, nil
}

// loadError turns a value that did not convert into one line naming the
// variable, its value (quoted and bounded: it came from the environment)
// and why. go-envconfig's error names the Go field ("APIPort: ..."), so the
// field's tag gives the variable. Only ints, bools and durations can fail
// to convert: no secret (all strings) is ever shown.
func loadError(err error, env envconfig.Lookuper) error {
	field, _, _ := strings.Cut(err.Error(), ":")
	f, ok := reflect.TypeFor[Config]().FieldByName(field)
	if !ok {
		return fmt.Errorf("configuration: %s", text.Quote(err.Error(), maxValueText))
	}
	name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
	value, _ := env.Lookup(name)
	why := map[reflect.Kind]string{reflect.Bool: "not true or false", reflect.Int: "not a whole number"}[f.Type.Kind()]
	switch {
	case f.Type == reflect.TypeFor[time.Duration]():
		why = "not a duration (a number with a unit, like 90s or 5m)"
	case errors.Is(err, strconv.ErrRange):
		why = "out of range"
	}
	return fmt.Errorf("%s: invalid value %s: %s", name, text.Quote(value, maxValueText), why)
}

// maxValueText bounds a value shown in an error line.
const maxValueText = 100

var envLabel = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,29}$`)

// PublisherNetworkDefault leaves the canary job's publisher to the network.
const PublisherNetworkDefault = "default"

// MaxTimeout bounds CANARY_TIMEOUT: a canary run longer than this is not a canary.
const MaxTimeout = time.Hour

// Validate checks every value; needHost says whether BACALHAU_API_HOST is
// required (the job) or may be empty (the local runner's embedded network).
func (c Config) Validate(needHost bool) error {
	if needHost && c.APIHost == "" {
		return fmt.Errorf("BACALHAU_API_HOST: required")
	}
	if _, err := ParseHost(c.APIHost); c.APIHost != "" && err != nil {
		return fmt.Errorf("BACALHAU_API_HOST: %v", err)
	}
	if c.APIPort < 1 || c.APIPort > 65535 {
		return fmt.Errorf("BACALHAU_API_PORT: %d is not a port (1-65535)", c.APIPort)
	}
	if c.APIKey != "" && (c.APIUsername != "" || c.APIPassword != "") {
		return fmt.Errorf("BACALHAU_API_KEY: set either it or BACALHAU_API_USERNAME+BACALHAU_API_PASSWORD, not both")
	}
	if c.APIKey != "" && c.APIKeySecret != "" {
		return fmt.Errorf("BACALHAU_API_KEY_SECRET: set either it or BACALHAU_API_KEY, not both")
	}
	if (c.APIUsername == "") != (c.APIPassword == "") {
		return fmt.Errorf("BACALHAU_API_USERNAME: needs BACALHAU_API_PASSWORD too (basic auth takes both)")
	}
	for _, v := range []struct{ name, value string }{
		{"BACALHAU_API_KEY", c.APIKey}, {"BACALHAU_API_USERNAME", c.APIUsername}, {"BACALHAU_API_PASSWORD", c.APIPassword},
	} {
		// The value is never shown: it is a secret.
		if problem := gcp.HeaderValueProblem(v.value); problem != "" {
			return fmt.Errorf("%s: %s; an HTTP header cannot carry it", v.name, problem)
		}
		if v.value != "" && strings.TrimSpace(v.value) != v.value {
			return fmt.Errorf("%s: starts or ends with white space; an HTTP header would lose it", v.name)
		}
	}
	if strings.Contains(c.APIUsername, ":") {
		return fmt.Errorf("BACALHAU_API_USERNAME: holds a colon, which basic auth cannot carry")
	}
	if !c.APITLS && !c.AllowPlaintextCredentials && c.APIHost != "" && !isLoopbackHost(c.APIHost) {
		for _, v := range []struct{ name, value string }{
			{"BACALHAU_API_KEY", c.APIKey}, {"BACALHAU_API_PASSWORD", c.APIPassword}, {"BACALHAU_API_KEY_SECRET", c.APIKeySecret},
		} {
			if v.value != "" {
				return fmt.Errorf("%s: would go in clear text to %s; set BACALHAU_API_TLS=true (or CANARY_ALLOW_PLAINTEXT_CREDENTIALS=true to accept that)", v.name, text.Quote(c.APIHost, maxValueText))
			}
		}
	}
	if c.APICAFile != "" {
		if !c.APITLS {
			return fmt.Errorf("BACALHAU_API_TLS_CAFILE: set, but BACALHAU_API_TLS is not true (the CA file is for the API's TLS certificate)")
		}
		if _, err := bacalhau.LoadCAs(c.APICAFile); err != nil {
			return fmt.Errorf("BACALHAU_API_TLS_CAFILE: %v", err)
		}
	}
	if c.APIKeySecret != "" && !secretVersion.MatchString(c.APIKeySecret) {
		return fmt.Errorf("BACALHAU_API_KEY_SECRET: %s is not a secret version name (projects/P/secrets/S/versions/V)", text.Quote(c.APIKeySecret, maxValueText))
	}
	if _, ok := scenarios.Lookup(c.Scenario); c.Scenario != "" && !ok {
		return fmt.Errorf("CANARY_SCENARIO: unknown scenario %s (one of %s)", text.Quote(c.Scenario, maxValueText), strings.Join(scenarios.Names(), ", "))
	}
	if !envLabel.MatchString(c.Env) {
		return fmt.Errorf("CANARY_ENV: %s must be a short lowercase label like prod, staging or dev", text.Quote(c.Env, maxValueText))
	}
	if c.Engine != "" && c.Engine != scenarios.EngineDocker && c.Engine != scenarios.EngineWasm {
		return fmt.Errorf("CANARY_ENGINE: unknown engine %s (docker or wasm)", text.Quote(c.Engine, maxValueText))
	}
	if c.Publisher != scenarios.PublisherLocal && c.Publisher != PublisherNetworkDefault {
		return fmt.Errorf("CANARY_PUBLISHER: unknown publisher %s (local, or default for the network's job defaults)", text.Quote(c.Publisher, maxValueText))
	}
	if _, err := ParseSelectors(c.NodeSelectors); err != nil {
		return err
	}
	if (c.Interval != 0 || c.intervalSet) && (c.Interval < time.Minute || c.Interval%time.Minute != 0 || time.Hour%c.Interval != 0) {
		return fmt.Errorf("CANARY_SCHEDULE_INTERVAL: %s is not a whole number of minutes dividing an hour (at least 1m: 1m, 2m, 3m, 4m, 5m, 6m, 10m, 12m, 15m, 20m, 30m, 60m)", c.Interval)
	}
	if c.Timeout <= 0 || c.Timeout > MaxTimeout {
		return fmt.Errorf("CANARY_TIMEOUT: %s is out of range (more than 0, at most %s)", c.Timeout, MaxTimeout)
	}
	switch c.Metrics {
	case "", metrics.KindGCP, metrics.KindStdout, metrics.KindNone:
	default:
		return fmt.Errorf("CANARY_METRICS: unknown sink %s (gcp, stdout or none)", text.Quote(c.Metrics, maxValueText))
	}
	if c.Project != "" && !gcp.ProjectID.MatchString(c.Project) {
		return fmt.Errorf("GOOGLE_CLOUD_PROJECT: %s is not a project ID or number", text.Quote(c.Project, maxValueText))
	}
	for _, e := range []struct{ name, value string }{
		{"CANARY_MONITORING_ENDPOINT", c.MonitoringEndpoint},
		{"CANARY_SECRETMANAGER_ENDPOINT", c.SecretManagerEndpoint},
	} {
		if e.value != "" && !validHostPort(e.value) {
			return fmt.Errorf("%s: %s is not host:port", e.name, text.Quote(e.value, maxValueText))
		}
	}
	return nil
}

// ParseHost checks a host for the API: a DNS name or an IP address (IPv6
// with or without brackets), nothing else (no scheme, port, path, or
// numeric forms other than the canonical ones). It returns the host
// without brackets.
func ParseHost(s string) (string, error) {
	if len(s) > 253 {
		return "", fmt.Errorf("%s is longer than a host name can be", text.Quote(s, maxValueText))
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		if a, err := netip.ParseAddr(inner); ok && err == nil && a.Is6() && a.Zone() == "" {
			return inner, nil
		}
		return "", fmt.Errorf("%q is not an IPv6 address in brackets", s)
	}
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return "", fmt.Errorf("%q has an IPv6 zone, which the API URL cannot carry", s)
		}
		return s, nil
	}
	if strings.HasSuffix(s, ".") {
		// A fully qualified name skips the hosts file (localhost. goes
		// to DNS), and 127.0.0.1. is no address at all.
		return "", fmt.Errorf("%q ends in a dot: write the name without it", s)
	}
	labels := strings.Split(s, ".")
	for _, label := range labels {
		if !hostLabel.MatchString(label) {
			return "", fmt.Errorf("%q is not a host name or IP address (no scheme, port or path)", s)
		}
	}
	// A numeric last label (decimal, octal or 0x hex) makes a numeric
	// IPv4 form C resolvers accept (2130706433, 0x7f.1, 0x7f000001).
	last := labels[len(labels)-1]
	if hex, ok := strings.CutPrefix(strings.ToLower(last), "0x"); strings.Trim(last, "0123456789") == "" || ok && strings.Trim(hex, "0123456789abcdef") == "" {
		return "", fmt.Errorf("%q is not a host name (its last label is a number), nor an IP address in the usual dotted form", s)
	}
	return s, nil
}

var hostLabel = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$`)

// isLoopbackHost says whether host is known to be loopback without asking
// DNS: a loopback IP literal, or bare localhost, which the resolver takes
// from the hosts file (and the API client dials only at loopback
// addresses). Other names — localhost., x.localhost — may be resolved by
// DNS, so whoever answers could receive credentials sent in clear.
func isLoopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || strings.ContainsAny(host, "/ ") {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && p >= 1 && p <= 65535
}

// ParseSelectors parses node selectors (CANARY_NODE_SELECTORS) in
// Bacalhau's (Kubernetes') syntax, e.g. `owner=bacalhau,region in (eu, us)`.
func ParseSelectors(s string) ([]*models.LabelSelectorRequirement, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	reqs, err := labels.ParseToRequirements(s)
	out := make([]*models.LabelSelectorRequirement, 0, len(reqs))
	for _, r := range models.ToLabelSelectorRequirements(reqs...) {
		if err == nil {
			err = r.Validate()
		}
		out = append(out, &r)
	}
	if err != nil {
		return nil, fmt.Errorf("CANARY_NODE_SELECTORS: %s: %s", text.Quote(s, maxValueText), text.Quote(err.Error(), 2*maxValueText))
	}
	return out, nil
}

var secretVersion = regexp.MustCompile(`^projects/[^/]+/secrets/[^/]+/versions/[^/]+$`)

// Secrets are the values that must never reach a log line or error text.
func (c Config) Secrets() []string {
	var out []string
	if c.APIKey != "" {
		out = append(out, c.APIKey)
	}
	if c.APIPassword != "" {
		// The basic-auth header carries them encoded; a server may quote it.
		out = append(out, c.APIPassword, base64.StdEncoding.EncodeToString([]byte(c.APIUsername+":"+c.APIPassword)))
	}
	return out
}

// Bacalhau returns the client options for the configured orchestrator.
func (c Config) Bacalhau() bacalhau.Options {
	var cas *x509.CertPool
	if c.APICAFile != "" {
		cas, _ = bacalhau.LoadCAs(c.APICAFile) // Validate refuses a bad one first
	}
	return bacalhau.Options{
		RootCAs:  cas,
		Host:     strings.Trim(c.APIHost, "[]"), // as ParseHost gives it: Validate checked it
		Port:     c.APIPort,
		TLS:      c.APITLS,
		APIKey:   c.APIKey,
		Username: c.APIUsername,
		Password: c.APIPassword,
		Timeout:  c.Timeout,
	}
}

// JobSpec returns the canary job; engine falls back to defaultEngine when
// CANARY_ENGINE is unset. Call after Validate.
func (c Config) JobSpec(defaultEngine string) scenarios.JobSpec {
	engine := c.Engine
	if engine == "" {
		engine = defaultEngine
	}
	sel, _ := ParseSelectors(c.NodeSelectors)
	publisher := c.Publisher
	if publisher == PublisherNetworkDefault {
		publisher = ""
	}
	return scenarios.JobSpec{Engine: engine, Selectors: sel, Publisher: publisher}
}
