// Command terraform-provider-google is a schema-only stand-in for the google
// provider. It loads the provider's schema from the JSON file named by
// TF_STANDIN_SCHEMA (the output of `terraform providers schema -json`) and
// lets `tofu validate` and plan-mode `tofu test` run with no network and no
// credentials. It refuses to apply. With TF_STANDIN_MOCKED_ONLY=1 it also
// refuses to configure, plan, read or open anything: `tofu test` runs under
// it to prove that its mock_provider keeps the real provider (in Cloud
// Build, with real credentials) out of every test. OpenTofu starts it through a
// dev_overrides entry in a CLI configuration file.
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
)

const (
	schemaEnv    = "TF_STANDIN_SCHEMA"
	mockedEnv    = "TF_STANDIN_MOCKED_ONLY"
	providerName = "hashicorp/google"
)

func main() {
	if err := realMain(); err != nil {
		fmt.Fprintln(os.Stderr, "terraform-provider-google (stand-in):", err)
		os.Exit(1)
	}
}

func realMain() error {
	path := os.Getenv(schemaEnv)
	if path == "" {
		return fmt.Errorf("%s is not set: it must name the provider schema JSON file", schemaEnv)
	}
	sch, err := loadSchema(path, providerName)
	if err != nil {
		return err
	}
	mocked := false
	switch v := os.Getenv(mockedEnv); v {
	case "", "0":
	case "1":
		mocked = true
	default:
		return fmt.Errorf("%s=%q: want 1 or 0", mockedEnv, v)
	}
	return tf6server.Serve("registry.opentofu.org/"+providerName, func() tfprotov6.ProviderServer {
		return &server{schema: sch, mockedOnly: mocked}
	})
}
