package config

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/bacalhau-project/bacalhau-canary/internal/testca"
)

func load(t *testing.T, env map[string]string) (Config, error) {
	t.Helper()
	c, err := Load(t.Context(), envconfig.MapLookuper(env))
	if err != nil {
		return c, err
	}
	return c, c.Validate(true)
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(t, map[string]string{"BACALHAU_API_HOST": "bootstrap.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if c.APIPort != 1234 || c.APITLS || c.Env != "dev" || c.Timeout != 90*time.Second || c.Engine != "" || c.Metrics != "" {
		t.Errorf("defaults: %+v", c)
	}
	if spec := c.JobSpec("docker"); spec.Engine != "docker" || spec.Selectors != nil || spec.Publisher != "local" {
		t.Errorf("job spec: %+v", spec)
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	c, err := load(t, map[string]string{
		"BACALHAU_API_HOST": "10.0.0.1", "BACALHAU_API_PORT": "443", "BACALHAU_API_TLS": "true",
		"BACALHAU_API_KEY_SECRET": "projects/p/secrets/bacalhau-api-key/versions/latest",
		"CANARY_SCENARIO":         "submitAndGet", "CANARY_ENV": "prod", "CANARY_ENGINE": "wasm",
		"CANARY_NODE_SELECTORS": "owner=bacalhau,region in (eu, us)", "CANARY_TIMEOUT": "2m", "CANARY_METRICS": "gcp",
		"CANARY_PUBLISHER": "default", "GOOGLE_CLOUD_PROJECT": "example.com:canary-prod",
		"CANARY_MONITORING_ENDPOINT": "127.0.0.1:8085", "CANARY_SECRETMANAGER_ENDPOINT": "[::1]:8086",
	})
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := ParseSelectors(c.NodeSelectors)
	if c.JobSpec("wasm").Publisher != "" {
		t.Error("CANARY_PUBLISHER=default must leave the publisher to the network")
	}
	if len(sel) != 2 || c.Bacalhau().Address() != "https://10.0.0.1:443" {
		t.Errorf("selectors %v, address %s", sel, c.Bacalhau().Address())
	}
}

func TestCAFile(t *testing.T) {
	t.Parallel()
	ca, err := testca.New("ca")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, ca.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := load(t, map[string]string{"BACALHAU_API_HOST": "api.example.org", "BACALHAU_API_TLS": "true", "BACALHAU_API_TLS_CAFILE": f})
	if err != nil {
		t.Fatal(err)
	}
	if c.Bacalhau().RootCAs == nil {
		t.Error("the CA file's certificates are not in the client's options")
	}
	if c, _ := load(t, map[string]string{"BACALHAU_API_HOST": "api.example.org"}); c.Bacalhau().RootCAs != nil {
		t.Error("without a CA file the client must use the system's roots")
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	base := map[string]string{"BACALHAU_API_HOST": "localhost"}
	tests := []struct {
		name    string
		env     map[string]string
		naming  string // the variable the error line must name
		without string // drop this variable from base
	}{
		{"no host", nil, "BACALHAU_API_HOST", "BACALHAU_API_HOST"},
		{"host with scheme", map[string]string{"BACALHAU_API_HOST": "http://x"}, "BACALHAU_API_HOST", ""},
		{"host with port", map[string]string{"BACALHAU_API_HOST": "x:1234"}, "BACALHAU_API_HOST", ""},
		{"port text", map[string]string{"BACALHAU_API_PORT": "http"}, "BACALHAU_API_PORT", ""},
		{"port zero", map[string]string{"BACALHAU_API_PORT": "0"}, "BACALHAU_API_PORT", ""},
		{"port high", map[string]string{"BACALHAU_API_PORT": "70000"}, "BACALHAU_API_PORT", ""},
		{"tls text", map[string]string{"BACALHAU_API_TLS": "maybe"}, "BACALHAU_API_TLS", ""},
		{"both auth kinds", map[string]string{"BACALHAU_API_KEY": "k", "BACALHAU_API_USERNAME": "u", "BACALHAU_API_PASSWORD": "p"}, "BACALHAU_API_KEY", ""},
		{"key and secret", map[string]string{"BACALHAU_API_KEY": "k", "BACALHAU_API_KEY_SECRET": "projects/p/secrets/s/versions/1"}, "BACALHAU_API_KEY_SECRET", ""},
		{"user without password", map[string]string{"BACALHAU_API_USERNAME": "u"}, "BACALHAU_API_USERNAME", ""},
		{"password without user", map[string]string{"BACALHAU_API_PASSWORD": "p"}, "BACALHAU_API_USERNAME", ""},
		{"secret name", map[string]string{"BACALHAU_API_KEY_SECRET": "my-secret"}, "BACALHAU_API_KEY_SECRET", ""},
		{"scenario", map[string]string{"CANARY_SCENARIO": "submitAndPray"}, "CANARY_SCENARIO", ""},
		{"env upper", map[string]string{"CANARY_ENV": "PROD"}, "CANARY_ENV", ""},
		{"env empty", map[string]string{"CANARY_ENV": ""}, "CANARY_ENV", ""},
		{"engine", map[string]string{"CANARY_ENGINE": "podman"}, "CANARY_ENGINE", ""},
		{"selector", map[string]string{"CANARY_NODE_SELECTORS": "owner in (a"}, "CANARY_NODE_SELECTORS", ""},
		{"selector key", map[string]string{"CANARY_NODE_SELECTORS": "=x"}, "CANARY_NODE_SELECTORS", ""},
		{"timeout text", map[string]string{"CANARY_TIMEOUT": "soon"}, "CANARY_TIMEOUT", ""},
		{"timeout unitless", map[string]string{"CANARY_TIMEOUT": "90"}, "CANARY_TIMEOUT", ""},
		{"timeout zero", map[string]string{"CANARY_TIMEOUT": "0s"}, "CANARY_TIMEOUT", ""},
		{"timeout negative", map[string]string{"CANARY_TIMEOUT": "-5s"}, "CANARY_TIMEOUT", ""},
		{"timeout huge", map[string]string{"CANARY_TIMEOUT": "2h"}, "CANARY_TIMEOUT", ""},
		{"interval seconds", map[string]string{"CANARY_SCHEDULE_INTERVAL": "90s"}, "CANARY_SCHEDULE_INTERVAL", ""},
		{"interval not dividing an hour", map[string]string{"CANARY_SCHEDULE_INTERVAL": "7m"}, "CANARY_SCHEDULE_INTERVAL", ""},
		{"interval negative", map[string]string{"CANARY_SCHEDULE_INTERVAL": "-5m"}, "CANARY_SCHEDULE_INTERVAL", ""},
		{"interval zero", map[string]string{"CANARY_SCHEDULE_INTERVAL": "0"}, "CANARY_SCHEDULE_INTERVAL", ""},
		{"interval zero minutes", map[string]string{"CANARY_SCHEDULE_INTERVAL": "0m"}, "CANARY_SCHEDULE_INTERVAL", ""},
		{"metrics", map[string]string{"CANARY_METRICS": "prometheus"}, "CANARY_METRICS", ""},
		{"project", map[string]string{"GOOGLE_CLOUD_PROJECT": "My Project"}, "GOOGLE_CLOUD_PROJECT", ""},
		{"monitoring endpoint port", map[string]string{"CANARY_MONITORING_ENDPOINT": "monitoring.invalid"}, "CANARY_MONITORING_ENDPOINT", ""},
		{"monitoring endpoint url", map[string]string{"CANARY_MONITORING_ENDPOINT": "http://127.0.0.1:8085/"}, "CANARY_MONITORING_ENDPOINT", ""},
		{"secret manager endpoint", map[string]string{"CANARY_SECRETMANAGER_ENDPOINT": "127.0.0.1:0"}, "CANARY_SECRETMANAGER_ENDPOINT", ""},
		{"publisher", map[string]string{"CANARY_PUBLISHER": "s3"}, "CANARY_PUBLISHER", ""},
		{"publisher empty", map[string]string{"CANARY_PUBLISHER": ""}, "CANARY_PUBLISHER", ""},
		{"CA file missing", map[string]string{"BACALHAU_API_TLS": "true", "BACALHAU_API_TLS_CAFILE": "/nonexistent/ca.pem"}, "BACALHAU_API_TLS_CAFILE", ""},
		{"CA file without a certificate", map[string]string{"BACALHAU_API_TLS": "true", "BACALHAU_API_TLS_CAFILE": "config_test.go"}, "BACALHAU_API_TLS_CAFILE", ""},
		{"CA file without TLS", map[string]string{"BACALHAU_API_TLS_CAFILE": "config_test.go"}, "BACALHAU_API_TLS_CAFILE", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range base {
				if k != tt.without {
					env[k] = v
				}
			}
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := load(t, env)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.naming) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line starting with %s", msg, tt.naming)
			}
		})
	}
}

func TestLoadErrorLines(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("9", 300) + "s"
	for _, tt := range []struct {
		name, value, want string
	}{
		{"CANARY_TIMEOUT", "x", `CANARY_TIMEOUT: invalid value "x": not a duration (a number with a unit, like 90s or 5m)`},
		{"CANARY_TIMEOUT", "90", `CANARY_TIMEOUT: invalid value "90": not a duration (a number with a unit, like 90s or 5m)`},
		{"CANARY_SCHEDULE_INTERVAL", "5 m", `CANARY_SCHEDULE_INTERVAL: invalid value "5 m": not a duration (a number with a unit, like 90s or 5m)`},
		{"BACALHAU_API_PORT", "http", `BACALHAU_API_PORT: invalid value "http": not a whole number`},
		{"BACALHAU_API_PORT", "99999999999999999999", `BACALHAU_API_PORT: invalid value "99999999999999999999": out of range`},
		{"BACALHAU_API_TLS", "yes", `BACALHAU_API_TLS: invalid value "yes": not true or false`},
		{"CANARY_ALLOW_PLAINTEXT_CREDENTIALS", "on", `CANARY_ALLOW_PLAINTEXT_CREDENTIALS: invalid value "on": not true or false`},
		// A newline cannot end the line and forge another one.
		{"BACALHAU_API_PORT", "1\n{\"severity\":\"INFO\"}", `BACALHAU_API_PORT: invalid value "1\n{\"severity\":\"INFO\"}": not a whole number`},
		{"CANARY_TIMEOUT", "1s\u2028x", `CANARY_TIMEOUT: invalid value "1s\u2028x": not a duration (a number with a unit, like 90s or 5m)`},
		// A huge value is cut, and says so.
		{"CANARY_TIMEOUT", long, `CANARY_TIMEOUT: invalid value "` + strings.Repeat("9", 100) + `…[201 bytes cut]": not a duration (a number with a unit, like 90s or 5m)`},
	} {
		_, err := Load(t.Context(), envconfig.MapLookuper(map[string]string{"BACALHAU_API_HOST": "h", tt.name: tt.value}))
		if err == nil {
			t.Errorf("%s=%q: accepted", tt.name, tt.value)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("%s=%q:\n got %s\nwant %s", tt.name, tt.value, err, tt.want)
		}
	}
}

func TestSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	_, err := load(t, map[string]string{"BACALHAU_API_HOST": "h", "BACALHAU_API_KEY": "sup3rs3cret", "BACALHAU_API_USERNAME": "u", "BACALHAU_API_PASSWORD": "passw0rd"})
	if err == nil || strings.Contains(err.Error(), "sup3rs3cret") || strings.Contains(err.Error(), "passw0rd") {
		t.Errorf("error %v", err)
	}
	c := Config{APIKey: "k"}
	if got := c.Secrets(); len(got) != 1 {
		t.Errorf("Secrets() = %v", got)
	}
	// The basic-auth header's encoding of the password is a secret too.
	c = Config{APIUsername: "u", APIPassword: "p"}
	if got := c.Secrets(); len(got) != 2 || got[1] != "dTpw" {
		t.Errorf("Secrets() = %v, want the password and base64(u:p)", got)
	}
}

func FuzzLoad(f *testing.F) {
	for _, s := range []string{"90s", "0", "-1m", "1h1m", "abc", "", "9223372036854775807ns"} {
		f.Add(s, "1234", "owner=bacalhau", "dev")
	}
	f.Add("1s", "65536", "a in (b", "PROD")
	f.Add("1s", "-1", "!x", "x y")
	f.Fuzz(func(t *testing.T, timeout, port, selectors, env string) {
		c, err := Load(t.Context(), envconfig.MapLookuper(map[string]string{
			"BACALHAU_API_HOST": "h", "CANARY_TIMEOUT": timeout, "BACALHAU_API_PORT": port,
			"CANARY_NODE_SELECTORS": selectors, "CANARY_ENV": env,
		}))
		if err == nil {
			err = c.Validate(true)
		}
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line", err)
			}
			return
		}
		if c.Timeout <= 0 || c.Timeout > MaxTimeout || c.APIPort < 1 || c.APIPort > 65535 {
			t.Fatalf("accepted out-of-range config %+v", c)
		}
	})
}

func FuzzParseSelectors(f *testing.F) {
	for _, s := range []string{"owner=bacalhau", "a in (b, c)", "!gpu", "x!=y,z", "a in (", "=", "a==b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		reqs, err := ParseSelectors(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		for _, r := range reqs {
			if err := r.Validate(); err != nil {
				t.Fatalf("accepted an invalid requirement %v: %v", r, err)
			}
		}
	})
}

func TestHosts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want string // want "" : refused
	}{
		{"bootstrap.example.org", "bootstrap.example.org"},
		{"bootstrap.example.org.", ""},
		{"api_1.internal", "api_1.internal"},
		{"127.0.0.1", "127.0.0.1"},
		{"::1", "::1"},
		{"[::1]", "::1"},
		{"[fd00::1]", "fd00::1"},
		{"fe80::1%eth0", ""},
		{"127.0.0.1#", ""},
		{"127.0.0.1:1234", ""},
		{"http://x", ""},
		{"x/y", ""},
		{"a b", ""},
		{"[127.0.0.1]", ""},
		{"[::1", ""},
		{"2130706433", ""},
		{"0x7f.1", ""},
		{"0x7f000001", ""},
		{"1.0XFF", ""},
		{"api.0x", ""},
		{"api.0xample", "api.0xample"},
		{"-x.example", ""},
		{"x..example", ""},
		{".", ""},
		{"ünï.example", ""},
		{strings.Repeat("a", 64) + ".example", ""},
	} {
		got, err := ParseHost(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParseHost(%q) = %q, want refused", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestAddressOfIPv6Host(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"::1", "[::1]"} {
		c := Config{APIHost: h, APIPort: 1234}
		if got := c.Bacalhau().Address(); got != "http://[::1]:1234" {
			t.Errorf("%s: address %s", h, got)
		}
	}
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	base := map[string]string{"BACALHAU_API_HOST": "api.example"}
	for _, tt := range []struct {
		name   string
		env    map[string]string
		naming string // "" : accepted
	}{
		{"key-newline", map[string]string{"BACALHAU_API_KEY": "abc\n", "BACALHAU_API_TLS": "true"}, "BACALHAU_API_KEY"},
		{"key-cr", map[string]string{"BACALHAU_API_KEY": "a\rb", "BACALHAU_API_TLS": "true"}, "BACALHAU_API_KEY"},
		{"key-space", map[string]string{"BACALHAU_API_KEY": "abc ", "BACALHAU_API_TLS": "true"}, "BACALHAU_API_KEY"},
		{"password-nul", map[string]string{"BACALHAU_API_USERNAME": "u", "BACALHAU_API_PASSWORD": "p\x00", "BACALHAU_API_TLS": "true"}, "BACALHAU_API_PASSWORD"},
		{"user-colon", map[string]string{"BACALHAU_API_USERNAME": "u:v", "BACALHAU_API_PASSWORD": "p", "BACALHAU_API_TLS": "true"}, "BACALHAU_API_USERNAME"},
		{"key-plaintext", map[string]string{"BACALHAU_API_KEY": "k"}, "BACALHAU_API_KEY"},
		{"password-plaintext", map[string]string{"BACALHAU_API_USERNAME": "u", "BACALHAU_API_PASSWORD": "p"}, "BACALHAU_API_PASSWORD"},
		{"secret-plaintext", map[string]string{"BACALHAU_API_KEY_SECRET": "projects/p/secrets/s/versions/1"}, "BACALHAU_API_KEY_SECRET"},
		{"key-tls", map[string]string{"BACALHAU_API_KEY": "k", "BACALHAU_API_TLS": "true"}, ""},
		{"key-opt-in", map[string]string{"BACALHAU_API_KEY": "k", "CANARY_ALLOW_PLAINTEXT_CREDENTIALS": "true"}, ""},
		{"key-loopback", map[string]string{"BACALHAU_API_KEY": "k", "BACALHAU_API_HOST": "127.0.0.1"}, ""},
		{"key-loopback6", map[string]string{"BACALHAU_API_KEY": "k", "BACALHAU_API_HOST": "[::1]"}, ""},
		{"key-localhost", map[string]string{"BACALHAU_API_KEY": "k", "BACALHAU_API_HOST": "localhost"}, ""},
		{"key-localhost-upper", map[string]string{"BACALHAU_API_KEY": "k", "BACALHAU_API_HOST": "LocalHost"}, ""},
		// Names DNS may answer for: not known to be loopback.
		{"key-sub-localhost", map[string]string{"BACALHAU_API_KEY": "k", "BACALHAU_API_HOST": "api.localhost"}, "BACALHAU_API_KEY"},
		{"key-localhost-dot", map[string]string{"BACALHAU_API_KEY": "k", "BACALHAU_API_HOST": "localhost."}, "BACALHAU_API_HOST"},
		{"key-loopback-dot", map[string]string{"BACALHAU_API_KEY": "k", "BACALHAU_API_HOST": "127.0.0.1."}, "BACALHAU_API_HOST"},
		{"no-credentials", map[string]string{}, ""},
	} {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range tt.env {
			env[k] = v
		}
		c, err := Load(t.Context(), envconfig.MapLookuper(env))
		if err == nil {
			err = c.Validate(true)
		}
		switch {
		case tt.naming == "" && err != nil:
			t.Errorf("%s: %v, want accepted", tt.name, err)
		case tt.naming != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.naming+":")):
			t.Errorf("%s: %v, want a config error naming %s", tt.name, err, tt.naming)
		case err != nil && (strings.Contains(err.Error(), "abc") || strings.Contains(err.Error(), "\n")):
			t.Errorf("%s: error %q shows the secret or breaks the line", tt.name, err)
		}
	}
}

func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"a.example", "127.0.0.1", "[::1]", "::ffff:1.2.3.4", "127.0.0.1#", "x:1", "0x7f.1", "fe80::1%eth0", "a..b", "_x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, err := ParseHost(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("%q: error on two lines: %q", s, err)
			}
			return
		}
		addr := Config{APIHost: s, APIPort: 1234}.Bacalhau().Address()
		u, err := url.Parse(addr)
		if err != nil || u.Hostname() != strings.SplitN(host, "%", 2)[0] && u.Hostname() != host || u.Port() != "1234" || u.Path != "" {
			t.Fatalf("%q: accepted, but the address %q is not http://<host>:1234 (%v)", s, addr, err)
		}
	})
}
