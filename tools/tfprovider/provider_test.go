package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// A schema in the `providers schema -json` format with the features the
// stand-in must carry through: computed, write-only and sensitive attributes,
// list and single nested blocks, an ephemeral resource.
const fixture = `{
  "format_version": "1.0",
  "provider_schemas": {
    "registry.opentofu.org/hashicorp/google": {
      "provider": {"version": 0, "block": {"attributes": {"project": {"type": "string", "optional": true}}}},
      "resource_schemas": {
        "google_thing": {"version": 1, "block": {
          "attributes": {
            "id": {"type": "string", "optional": true, "computed": true},
            "name": {"type": "string", "required": true},
            "email": {"type": "string", "computed": true},
            "labels": {"type": ["map", "string"], "optional": true}
          },
          "block_types": {
            "secret": {"nesting_mode": "list", "max_items": 1, "block": {"attributes": {
              "token": {"type": "string", "optional": true, "sensitive": true},
              "token_wo": {"type": "string", "optional": true, "write_only": true},
              "token_wo_version": {"type": "string", "optional": true}
            }}},
            "timeouts": {"nesting_mode": "single", "block": {"attributes": {"create": {"type": "string", "optional": true}}}}
          }
        }}
      },
      "data_source_schemas": {},
      "ephemeral_resource_schemas": {
        "google_secret": {"version": 0, "block": {"attributes": {
          "secret": {"type": "string", "required": true},
          "secret_data": {"type": "string", "computed": true, "sensitive": true},
          "enabled": {"type": "bool", "computed": true}
        }}}
      }
    }
  }
}`

func newServer(t *testing.T) *server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(path, []byte(fixture), 0o600); err != nil {
		t.Fatal(err)
	}
	sch, err := loadSchema(path, providerName)
	if err != nil {
		t.Fatal(err)
	}
	return &server{schema: sch}
}

func attr(t *testing.T, b *tfprotov6.SchemaBlock, name string) *tfprotov6.SchemaAttribute {
	t.Helper()
	for _, a := range b.Attributes {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("no attribute %s", name)
	return nil
}

func TestLoadSchemaConvertsFlagsAndTypes(t *testing.T) {
	s := newServer(t)
	thing := s.schema.Resources["google_thing"]
	if thing == nil || thing.Version != 1 {
		t.Fatalf("google_thing: %+v", thing)
	}
	if a := attr(t, thing.Block, "id"); !a.Optional || !a.Computed || !a.Type.Is(tftypes.String) {
		t.Errorf("id: %+v", a)
	}
	if a := attr(t, thing.Block, "labels"); !a.Type.Is(tftypes.Map{ElementType: tftypes.String}) {
		t.Errorf("labels: %v", a.Type)
	}
	if len(thing.Block.BlockTypes) != 2 || thing.Block.BlockTypes[0].TypeName != "secret" ||
		thing.Block.BlockTypes[0].Nesting != tfprotov6.SchemaNestedBlockNestingModeList || thing.Block.BlockTypes[0].MaxItems != 1 {
		t.Fatalf("block types: %+v", thing.Block.BlockTypes)
	}
	secret := thing.Block.BlockTypes[0].Block
	if !attr(t, secret, "token_wo").WriteOnly || !attr(t, secret, "token").Sensitive {
		t.Error("write-only or sensitive flag lost")
	}
	if thing.Block.BlockTypes[1].Nesting != tfprotov6.SchemaNestedBlockNestingModeSingle {
		t.Error("single nesting lost")
	}
	if s.schema.EphemeralResources["google_secret"] == nil {
		t.Error("ephemeral resource schema lost")
	}
}

func TestLoadSchemaErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := loadSchema(filepath.Join(dir, "missing.json"), providerName); err == nil {
		t.Error("missing file accepted")
	}
	other := filepath.Join(dir, "other.json")
	if err := os.WriteFile(other, []byte(strings.ReplaceAll(fixture, "hashicorp/google", "hashicorp/aws")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSchema(other, providerName); err == nil {
		t.Error("schema without the google provider accepted")
	}
}

func TestPlanCreateMarksComputedUnknownAndDropsWriteOnly(t *testing.T) {
	s := newServer(t)
	sch := s.schema.Resources["google_thing"]
	typ := sch.ValueType().(tftypes.Object)
	secretType := typ.AttributeTypes["secret"].(tftypes.List).ElementType
	timeoutsType := typ.AttributeTypes["timeouts"]
	proposed := tftypes.NewValue(typ, map[string]tftypes.Value{
		"id":     tftypes.NewValue(tftypes.String, nil),
		"name":   tftypes.NewValue(tftypes.String, "thing"),
		"email":  tftypes.NewValue(tftypes.String, nil),
		"labels": tftypes.NewValue(tftypes.Map{ElementType: tftypes.String}, nil),
		"secret": tftypes.NewValue(typ.AttributeTypes["secret"], []tftypes.Value{
			tftypes.NewValue(secretType, map[string]tftypes.Value{
				"token":            tftypes.NewValue(tftypes.String, nil),
				"token_wo":         tftypes.NewValue(tftypes.String, "s3cret"),
				"token_wo_version": tftypes.NewValue(tftypes.String, "1"),
			}),
		}),
		"timeouts": tftypes.NewValue(timeoutsType, nil),
	})
	dv := func(v tftypes.Value) *tfprotov6.DynamicValue {
		d, err := tfprotov6.NewDynamicValue(typ, v)
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}
	resp, err := s.PlanResourceChange(context.Background(), &tfprotov6.PlanResourceChangeRequest{
		TypeName:         "google_thing",
		PriorState:       dv(tftypes.NewValue(typ, nil)),
		ProposedNewState: dv(proposed),
		Config:           dv(proposed),
	})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("plan: %v %v", err, resp.Diagnostics)
	}
	planned, err := resp.PlannedState.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path *tftypes.AttributePath) tftypes.Value {
		v, _, err := tftypes.WalkAttributePath(planned, path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return v.(tftypes.Value)
	}
	if v := get(tftypes.NewAttributePath().WithAttributeName("email")); v.IsKnown() {
		t.Errorf("computed email planned as %v, want unknown", v)
	}
	if v := get(tftypes.NewAttributePath().WithAttributeName("id")); v.IsKnown() {
		t.Errorf("computed id planned as %v, want unknown", v)
	}
	if v := get(tftypes.NewAttributePath().WithAttributeName("name")); !v.Equal(tftypes.NewValue(tftypes.String, "thing")) {
		t.Errorf("name planned as %v", v)
	}
	if v := get(tftypes.NewAttributePath().WithAttributeName("labels")); !v.IsNull() {
		t.Errorf("optional labels planned as %v, want null", v)
	}
	secret := tftypes.NewAttributePath().WithAttributeName("secret").WithElementKeyInt(0)
	if v := get(secret.WithAttributeName("token_wo")); !v.IsNull() {
		t.Errorf("write-only token planned as %v, want null", v)
	}
	if v := get(secret.WithAttributeName("token_wo_version")); !v.Equal(tftypes.NewValue(tftypes.String, "1")) {
		t.Errorf("token_wo_version planned as %v", v)
	}
}

func TestApplyIsRefused(t *testing.T) {
	s := newServer(t)
	resp, err := s.ApplyResourceChange(context.Background(), &tfprotov6.ApplyResourceChangeRequest{TypeName: "google_thing"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Diagnostics) != 1 || resp.Diagnostics[0].Severity != tfprotov6.DiagnosticSeverityError ||
		!strings.Contains(resp.Diagnostics[0].Summary, "Apply refused") {
		t.Errorf("apply not refused: %+v", resp.Diagnostics)
	}
	if resp.NewState != nil {
		t.Error("apply returned a state")
	}
	read, err := s.ReadDataSource(context.Background(), &tfprotov6.ReadDataSourceRequest{TypeName: "google_project"})
	if err != nil || len(read.Diagnostics) != 1 {
		t.Errorf("data source read not refused: %v %+v", err, read)
	}
}

func TestOpenEphemeralFillsComputedWithKnownPlaceholders(t *testing.T) {
	s := newServer(t)
	typ := s.schema.EphemeralResources["google_secret"].ValueType()
	cfg, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, map[string]tftypes.Value{
		"secret":      tftypes.NewValue(tftypes.String, "slack-token"),
		"secret_data": tftypes.NewValue(tftypes.String, nil),
		"enabled":     tftypes.NewValue(tftypes.Bool, nil),
	}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.OpenEphemeralResource(context.Background(), &tfprotov6.OpenEphemeralResourceRequest{TypeName: "google_secret", Config: &cfg})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("open: %v %v", err, resp.Diagnostics)
	}
	v, err := resp.Result.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	if !v.IsFullyKnown() {
		t.Error("ephemeral result has unknown values")
	}
	var m map[string]tftypes.Value
	if err := v.As(&m); err != nil {
		t.Fatal(err)
	}
	if !m["secret"].Equal(tftypes.NewValue(tftypes.String, "slack-token")) || m["secret_data"].IsNull() {
		t.Errorf("result %v", v)
	}
}

// In mocked-only mode every call that the real provider would answer with
// credentials or from the API is an error; schema and validation still work.
func TestMockedOnlyRefusesProviderCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	diags := func(s *server) map[string][]*tfprotov6.Diagnostic {
		conf, _ := s.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{})
		read, _ := s.ReadResource(ctx, &tfprotov6.ReadResourceRequest{TypeName: "google_thing"})
		plan, _ := s.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{TypeName: "google_thing"})
		open, _ := s.OpenEphemeralResource(ctx, &tfprotov6.OpenEphemeralResourceRequest{TypeName: "google_secret"})
		data, _ := s.ReadDataSource(ctx, &tfprotov6.ReadDataSourceRequest{TypeName: "google_project"})
		apply, _ := s.ApplyResourceChange(ctx, &tfprotov6.ApplyResourceChangeRequest{TypeName: "google_thing"})
		valid, _ := s.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: "google_thing"})
		return map[string][]*tfprotov6.Diagnostic{
			"ConfigureProvider": conf.Diagnostics, "ReadResource": read.Diagnostics,
			"PlanResourceChange": plan.Diagnostics, "OpenEphemeralResource": open.Diagnostics,
			"ReadDataSource": data.Diagnostics, "ApplyResourceChange": apply.Diagnostics,
			"ValidateResourceConfig": valid.Diagnostics,
		}
	}
	mocked := newServer(t)
	mocked.mockedOnly = true
	for rpc, d := range diags(mocked) {
		refused := len(d) == 1 && d[0].Severity == tfprotov6.DiagnosticSeverityError
		if want := rpc != "ValidateResourceConfig"; refused != want {
			t.Errorf("mocked-only %s: refused=%v, want %v (%+v)", rpc, refused, want, d)
		}
		if rpc != "ValidateResourceConfig" && rpc != "ReadDataSource" && rpc != "ApplyResourceChange" &&
			!strings.Contains(d[0].Detail, "mock_provider") {
			t.Errorf("mocked-only %s: the refusal does not name mock_provider: %q", rpc, d[0].Detail)
		}
	}
	if conf, _ := newServer(t).ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{}); len(conf.Diagnostics) != 0 {
		t.Errorf("default mode refused ConfigureProvider: %+v", conf.Diagnostics)
	}
}
