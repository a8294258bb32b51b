package main

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// server is a schema-only stand-in for a Terraform provider: it answers with a
// schema, validates nothing beyond what OpenTofu itself checks against that
// schema, plans by echoing the proposed state (unknown where the real provider
// would compute a value), and refuses to apply, import or read data. It never
// opens a network connection of its own.
type server struct {
	schema *providerSchema
	// mockedOnly refuses every call that the real provider would answer
	// from Google's API or with credentials (configure, plan, read, open,
	// apply): set for `tofu test`, whose mock_provider must keep every run
	// away from the provider (TF_STANDIN_MOCKED_ONLY=1).
	mockedOnly bool
}

var _ tfprotov6.ProviderServer = (*server)(nil)

const refusal = "This is a schema-only stand-in for the google provider, used to validate and plan the configuration offline. It makes no API calls. Use the real provider to apply."

// refused reports the call when the stand-in is in mocked-only mode.
func (s *server) refused(rpc, typeName string) []*tfprotov6.Diagnostic {
	if !s.mockedOnly {
		return nil
	}
	return errorDiag("Provider called under mock_provider",
		fmt.Sprintf("%s (%s) reached the google provider during tofu test: with the real provider it would need credentials or the API. The tests must mock the provider (mock_provider \"google\" {}).", rpc, typeName))
}

func errorDiag(summary, detail string) []*tfprotov6.Diagnostic {
	return []*tfprotov6.Diagnostic{{
		Severity: tfprotov6.DiagnosticSeverityError,
		Summary:  summary,
		Detail:   detail,
	}}
}

func (s *server) capabilities() *tfprotov6.ServerCapabilities {
	return &tfprotov6.ServerCapabilities{PlanDestroy: true}
}

func (s *server) GetMetadata(context.Context, *tfprotov6.GetMetadataRequest) (*tfprotov6.GetMetadataResponse, error) {
	resp := &tfprotov6.GetMetadataResponse{ServerCapabilities: s.capabilities()}
	for _, name := range sortedKeys(s.schema.Resources) {
		resp.Resources = append(resp.Resources, tfprotov6.ResourceMetadata{TypeName: name})
	}
	for _, name := range sortedKeys(s.schema.DataSources) {
		resp.DataSources = append(resp.DataSources, tfprotov6.DataSourceMetadata{TypeName: name})
	}
	for _, name := range sortedKeys(s.schema.EphemeralResources) {
		resp.EphemeralResources = append(resp.EphemeralResources, tfprotov6.EphemeralResourceMetadata{TypeName: name})
	}
	return resp, nil
}

func (s *server) GetProviderSchema(context.Context, *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	return &tfprotov6.GetProviderSchemaResponse{
		ServerCapabilities:       s.capabilities(),
		Provider:                 s.schema.Provider,
		ResourceSchemas:          s.schema.Resources,
		DataSourceSchemas:        s.schema.DataSources,
		EphemeralResourceSchemas: s.schema.EphemeralResources,
		Functions:                map[string]*tfprotov6.Function{},
	}, nil
}

func (s *server) GetResourceIdentitySchemas(context.Context, *tfprotov6.GetResourceIdentitySchemasRequest) (*tfprotov6.GetResourceIdentitySchemasResponse, error) {
	return &tfprotov6.GetResourceIdentitySchemasResponse{IdentitySchemas: map[string]*tfprotov6.ResourceIdentitySchema{}}, nil
}

func (s *server) ValidateProviderConfig(_ context.Context, req *tfprotov6.ValidateProviderConfigRequest) (*tfprotov6.ValidateProviderConfigResponse, error) {
	return &tfprotov6.ValidateProviderConfigResponse{PreparedConfig: req.Config}, nil
}

func (s *server) ConfigureProvider(context.Context, *tfprotov6.ConfigureProviderRequest) (*tfprotov6.ConfigureProviderResponse, error) {
	return &tfprotov6.ConfigureProviderResponse{Diagnostics: s.refused("ConfigureProvider", "provider")}, nil
}

func (s *server) StopProvider(context.Context, *tfprotov6.StopProviderRequest) (*tfprotov6.StopProviderResponse, error) {
	return &tfprotov6.StopProviderResponse{}, nil
}

// Managed resources.

func (s *server) resourceSchema(name string) (*tfprotov6.Schema, []*tfprotov6.Diagnostic) {
	sch, ok := s.schema.Resources[name]
	if !ok {
		return nil, errorDiag("Unknown resource type", fmt.Sprintf("The schema has no resource type %q.", name))
	}
	return sch, nil
}

func (s *server) ValidateResourceConfig(_ context.Context, req *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	_, diags := s.resourceSchema(req.TypeName)
	return &tfprotov6.ValidateResourceConfigResponse{Diagnostics: diags}, nil
}

func (s *server) UpgradeResourceState(_ context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	sch, diags := s.resourceSchema(req.TypeName)
	if diags != nil {
		return &tfprotov6.UpgradeResourceStateResponse{Diagnostics: diags}, nil
	}
	typ := sch.ValueType()
	v, err := req.RawState.UnmarshalWithOpts(typ, tfprotov6.UnmarshalOpts{
		ValueFromJSONOpts: tftypes.ValueFromJSONOpts{IgnoreUndefinedAttributes: true},
	})
	if err != nil {
		return &tfprotov6.UpgradeResourceStateResponse{Diagnostics: errorDiag("Cannot read prior state", err.Error())}, nil
	}
	dv, err := tfprotov6.NewDynamicValue(typ, v)
	if err != nil {
		return nil, err
	}
	return &tfprotov6.UpgradeResourceStateResponse{UpgradedState: &dv}, nil
}

func (s *server) ReadResource(_ context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	if d := s.refused("ReadResource", req.TypeName); d != nil {
		return &tfprotov6.ReadResourceResponse{Diagnostics: d}, nil
	}
	return &tfprotov6.ReadResourceResponse{NewState: req.CurrentState, Private: req.Private, NewIdentity: req.CurrentIdentity}, nil
}

func (s *server) PlanResourceChange(_ context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	if d := s.refused("PlanResourceChange", req.TypeName); d != nil {
		return &tfprotov6.PlanResourceChangeResponse{Diagnostics: d}, nil
	}
	sch, diags := s.resourceSchema(req.TypeName)
	if diags != nil {
		return &tfprotov6.PlanResourceChangeResponse{Diagnostics: diags}, nil
	}
	typ := sch.ValueType()
	proposed, err := req.ProposedNewState.Unmarshal(typ)
	if err != nil {
		return nil, fmt.Errorf("decoding proposed state: %w", err)
	}
	prior, err := req.PriorState.Unmarshal(typ)
	if err != nil {
		return nil, fmt.Errorf("decoding prior state: %w", err)
	}
	planned, err := planBlock(sch.Block, proposed, prior.IsNull())
	if err != nil {
		return nil, err
	}
	dv, err := tfprotov6.NewDynamicValue(typ, planned)
	if err != nil {
		return nil, err
	}
	return &tfprotov6.PlanResourceChangeResponse{PlannedState: &dv, PlannedPrivate: req.PriorPrivate}, nil
}

func (s *server) ApplyResourceChange(_ context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	return &tfprotov6.ApplyResourceChangeResponse{
		Diagnostics: errorDiag("Apply refused by the stand-in google provider", fmt.Sprintf("%s (resource type %s)", refusal, req.TypeName)),
	}, nil
}

func (s *server) ImportResourceState(_ context.Context, req *tfprotov6.ImportResourceStateRequest) (*tfprotov6.ImportResourceStateResponse, error) {
	return &tfprotov6.ImportResourceStateResponse{
		Diagnostics: errorDiag("Import refused by the stand-in google provider", refusal),
	}, nil
}

func (s *server) MoveResourceState(context.Context, *tfprotov6.MoveResourceStateRequest) (*tfprotov6.MoveResourceStateResponse, error) {
	return &tfprotov6.MoveResourceStateResponse{
		Diagnostics: errorDiag("Moving state is not supported by the stand-in google provider", refusal),
	}, nil
}

func (s *server) UpgradeResourceIdentity(context.Context, *tfprotov6.UpgradeResourceIdentityRequest) (*tfprotov6.UpgradeResourceIdentityResponse, error) {
	return &tfprotov6.UpgradeResourceIdentityResponse{
		Diagnostics: errorDiag("Resource identities are not supported by the stand-in google provider", refusal),
	}, nil
}

func (s *server) GenerateResourceConfig(context.Context, *tfprotov6.GenerateResourceConfigRequest) (*tfprotov6.GenerateResourceConfigResponse, error) {
	return &tfprotov6.GenerateResourceConfigResponse{
		Diagnostics: errorDiag("Generating configuration is not supported by the stand-in google provider", refusal),
	}, nil
}

// Data sources: reading one would need the API, so it is refused.

func (s *server) ValidateDataResourceConfig(_ context.Context, req *tfprotov6.ValidateDataResourceConfigRequest) (*tfprotov6.ValidateDataResourceConfigResponse, error) {
	if _, ok := s.schema.DataSources[req.TypeName]; !ok {
		return &tfprotov6.ValidateDataResourceConfigResponse{Diagnostics: errorDiag("Unknown data source", req.TypeName)}, nil
	}
	return &tfprotov6.ValidateDataResourceConfigResponse{}, nil
}

func (s *server) ReadDataSource(_ context.Context, req *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	return &tfprotov6.ReadDataSourceResponse{
		Diagnostics: errorDiag("Data source read refused by the stand-in google provider", fmt.Sprintf("%s (data source %s)", refusal, req.TypeName)),
	}, nil
}

// Ephemeral resources: opened with placeholder values for everything the
// real provider would fetch, so plans that feed them into write-only
// attributes can run. The placeholders never leave the plan: write-only
// attributes are not stored in plans or state.

func (s *server) ValidateEphemeralResourceConfig(_ context.Context, req *tfprotov6.ValidateEphemeralResourceConfigRequest) (*tfprotov6.ValidateEphemeralResourceConfigResponse, error) {
	if _, ok := s.schema.EphemeralResources[req.TypeName]; !ok {
		return &tfprotov6.ValidateEphemeralResourceConfigResponse{Diagnostics: errorDiag("Unknown ephemeral resource", req.TypeName)}, nil
	}
	return &tfprotov6.ValidateEphemeralResourceConfigResponse{}, nil
}

func (s *server) OpenEphemeralResource(_ context.Context, req *tfprotov6.OpenEphemeralResourceRequest) (*tfprotov6.OpenEphemeralResourceResponse, error) {
	if d := s.refused("OpenEphemeralResource", req.TypeName); d != nil {
		return &tfprotov6.OpenEphemeralResourceResponse{Diagnostics: d}, nil
	}
	sch, ok := s.schema.EphemeralResources[req.TypeName]
	if !ok {
		return &tfprotov6.OpenEphemeralResourceResponse{Diagnostics: errorDiag("Unknown ephemeral resource", req.TypeName)}, nil
	}
	typ := sch.ValueType()
	cfg, err := req.Config.Unmarshal(typ)
	if err != nil {
		return nil, fmt.Errorf("decoding config: %w", err)
	}
	result, err := fillComputed(sch.Block, cfg)
	if err != nil {
		return nil, err
	}
	dv, err := tfprotov6.NewDynamicValue(typ, result)
	if err != nil {
		return nil, err
	}
	return &tfprotov6.OpenEphemeralResourceResponse{Result: &dv}, nil
}

func (s *server) RenewEphemeralResource(_ context.Context, req *tfprotov6.RenewEphemeralResourceRequest) (*tfprotov6.RenewEphemeralResourceResponse, error) {
	return &tfprotov6.RenewEphemeralResourceResponse{Private: req.Private}, nil
}

func (s *server) CloseEphemeralResource(context.Context, *tfprotov6.CloseEphemeralResourceRequest) (*tfprotov6.CloseEphemeralResourceResponse, error) {
	return &tfprotov6.CloseEphemeralResourceResponse{}, nil
}

// Provider functions are not served.

func (s *server) GetFunctions(context.Context, *tfprotov6.GetFunctionsRequest) (*tfprotov6.GetFunctionsResponse, error) {
	return &tfprotov6.GetFunctionsResponse{Functions: map[string]*tfprotov6.Function{}}, nil
}

func (s *server) CallFunction(_ context.Context, req *tfprotov6.CallFunctionRequest) (*tfprotov6.CallFunctionResponse, error) {
	return &tfprotov6.CallFunctionResponse{
		Error: &tfprotov6.FunctionError{Text: fmt.Sprintf("the stand-in google provider serves no functions (%s)", req.Name)},
	}, nil
}
