package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
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

// loadReasons are the reasons Load gives for a value that does not convert.
var loadReasons = []string{"not a whole number", "out of range", "not true or false", "not a duration (a number with a unit, like 90s or 5m)"}

// namedTogether says whether msg, about name, names a variable that name
// only makes sense with (BACALHAU_API_PASSWORD is reported as the user
// name missing).
func namedTogether(name, msg string) bool {
	return name == "BACALHAU_API_PASSWORD" && strings.HasPrefix(msg, "BACALHAU_API_USERNAME:")
}

// FuzzVariable sets one variable at a time to an arbitrary value: the
// configuration is either accepted and in range, or refused with one line
// naming that variable.
func FuzzVariable(f *testing.F) {
	for _, s := range []string{"", " ", "0", "-1", "70000", "maybe", "90", "2h", "http://x", "x:1", "PROD",
		"owner in (a", "podman", "prometheus", "My Project", "monitoring.invalid", "127.0.0.1:0", "[::1]:8086",
		"projects/p/secrets/s/versions/1", "submitAndPray", "list", "true", "wasm", "\x00", "ünïcode",
		"1\n{\"severity\":\"ERROR\"}", "5m\r", "yes", "0x10", "99999999999999999999", strings.Repeat("x", 4096)} {
		f.Add(s)
	}
	names := variables()
	f.Fuzz(func(t *testing.T, value string) {
		for _, name := range names {
			env := map[string]string{"BACALHAU_API_HOST": "h"}
			env[name] = value
			c, err := Load(t.Context(), envconfig.MapLookuper(env))
			if err != nil {
				// A value that does not convert: the variable, the value
				// as given (quoted, bounded) and one of the known reasons.
				want := name + ": invalid value " + text.Quote(value, maxValueText) + ": "
				if msg := err.Error(); !strings.HasPrefix(msg, want) || !slices.Contains(loadReasons, strings.TrimPrefix(msg, want)) {
					t.Fatalf("%s=%q: error %q, want %s<reason>", name, value, err, want)
				}
				continue
			}
			err = c.Validate(true)
			if err != nil {
				if strings.ContainsAny(err.Error(), "\n\r") {
					t.Fatalf("%s=%q: error %q, want one line", name, value, err)
				}
				if !strings.HasPrefix(err.Error(), name+":") && !namedTogether(name, err.Error()) {
					t.Fatalf("%s=%q: error %q does not name the variable", name, value, err)
				}
				if len(err.Error()) > 600 {
					t.Fatalf("%s=%q: error of %d bytes, want it bounded", name, value, len(err.Error()))
				}
				continue
			}
			if c.Timeout <= 0 || c.Timeout > MaxTimeout || c.APIPort < 1 || c.APIPort > 65535 || !envLabel.MatchString(c.Env) {
				t.Fatalf("%s=%q: accepted out-of-range config %+v", name, value, c)
			}
		}
	})
}
