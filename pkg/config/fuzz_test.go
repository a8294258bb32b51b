package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
)

// variables are every environment variable of Config.
func variables() []string {
	var names []string
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("env"), ",")
		names = append(names, name)
	}
	return names
}

// FuzzVariable sets one variable at a time to an arbitrary value: the
// configuration is either accepted and in range, or refused with one line
// that is a config.Error (exit 2) naming that variable.
func FuzzVariable(f *testing.F) {
	for _, s := range []string{"", " ", "0", "-1", "70000", "maybe", "90", "2h", "http://x", "x:1", "PROD",
		"owner in (a", "podman", "prometheus", "My Project", "monitoring.invalid", "127.0.0.1:0", "[::1]:8086",
		"projects/p/secrets/s/versions/1", "submitAndPray", "list", "true", "wasm", "\x00", "ünïcode"} {
		f.Add(s)
	}
	names := variables()
	f.Fuzz(func(t *testing.T, value string) {
		for _, name := range names {
			env := map[string]string{"BACALHAU_API_HOST": "h"}
			env[name] = value
			c, err := Load(t.Context(), envconfig.MapLookuper(env))
			if err == nil {
				err = c.Validate(true)
			}
			if err != nil {
				if !IsError(err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("%s=%q: error %q, want one line of type config.Error", name, value, err)
				}
				if !strings.Contains(err.Error(), name) {
					t.Fatalf("%s=%q: error %q does not name the variable", name, value, err)
				}
				continue
			}
			if c.Timeout <= 0 || c.Timeout > MaxTimeout || c.APIPort < 1 || c.APIPort > 65535 || !envLabel.MatchString(c.Env) {
				t.Fatalf("%s=%q: accepted out-of-range config %+v", name, value, c)
			}
		}
	})
}
