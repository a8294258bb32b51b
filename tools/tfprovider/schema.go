package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// The structs below mirror the output of `terraform providers schema -json`
// (and `tofu providers schema -json`), which is how the google provider's
// schema is shipped to this stand-in.

type jsonSchemas struct {
	FormatVersion   string                         `json:"format_version"`
	ProviderSchemas map[string]*jsonProviderSchema `json:"provider_schemas"`
}

type jsonProviderSchema struct {
	Provider                 *jsonSchema            `json:"provider"`
	ResourceSchemas          map[string]*jsonSchema `json:"resource_schemas"`
	DataSourceSchemas        map[string]*jsonSchema `json:"data_source_schemas"`
	EphemeralResourceSchemas map[string]*jsonSchema `json:"ephemeral_resource_schemas"`
}

type jsonSchema struct {
	Version int64      `json:"version"`
	Block   *jsonBlock `json:"block"`
}

type jsonBlock struct {
	Attributes      map[string]*jsonAttribute `json:"attributes"`
	BlockTypes      map[string]*jsonBlockType `json:"block_types"`
	Description     string                    `json:"description"`
	DescriptionKind string                    `json:"description_kind"`
	Deprecated      bool                      `json:"deprecated"`
}

type jsonAttribute struct {
	Type            json.RawMessage `json:"type"`
	NestedType      *jsonNestedType `json:"nested_type"`
	Description     string          `json:"description"`
	DescriptionKind string          `json:"description_kind"`
	Required        bool            `json:"required"`
	Optional        bool            `json:"optional"`
	Computed        bool            `json:"computed"`
	Sensitive       bool            `json:"sensitive"`
	Deprecated      bool            `json:"deprecated"`
	WriteOnly       bool            `json:"write_only"`
}

type jsonNestedType struct {
	Attributes  map[string]*jsonAttribute `json:"attributes"`
	NestingMode string                    `json:"nesting_mode"`
}

type jsonBlockType struct {
	NestingMode string     `json:"nesting_mode"`
	Block       *jsonBlock `json:"block"`
	MinItems    int64      `json:"min_items"`
	MaxItems    int64      `json:"max_items"`
}

// providerSchema is the converted schema the server answers with.
type providerSchema struct {
	Provider           *tfprotov6.Schema
	Resources          map[string]*tfprotov6.Schema
	DataSources        map[string]*tfprotov6.Schema
	EphemeralResources map[string]*tfprotov6.Schema
}

// loadSchema reads a provider schema JSON file and converts the one provider
// whose address ends in providerName (e.g. "hashicorp/google").
func loadSchema(path, providerName string) (*providerSchema, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading schema: %w", err)
	}
	var all jsonSchemas
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, fmt.Errorf("decoding schema %s: %w", path, err)
	}
	var js *jsonProviderSchema
	for addr, s := range all.ProviderSchemas {
		if addr == providerName || hasSuffix(addr, "/"+providerName) {
			js = s
		}
	}
	if js == nil {
		return nil, fmt.Errorf("schema %s has no provider %q", path, providerName)
	}
	ps := &providerSchema{
		Resources:          map[string]*tfprotov6.Schema{},
		DataSources:        map[string]*tfprotov6.Schema{},
		EphemeralResources: map[string]*tfprotov6.Schema{},
	}
	if ps.Provider, err = convertSchema(js.Provider); err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	for _, group := range []struct {
		in  map[string]*jsonSchema
		out map[string]*tfprotov6.Schema
	}{
		{js.ResourceSchemas, ps.Resources},
		{js.DataSourceSchemas, ps.DataSources},
		{js.EphemeralResourceSchemas, ps.EphemeralResources},
	} {
		for name, s := range group.in {
			c, err := convertSchema(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			group.out[name] = c
		}
	}
	return ps, nil
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

func convertSchema(s *jsonSchema) (*tfprotov6.Schema, error) {
	if s == nil {
		return &tfprotov6.Schema{Block: &tfprotov6.SchemaBlock{}}, nil
	}
	b, err := convertBlock(s.Block)
	if err != nil {
		return nil, err
	}
	return &tfprotov6.Schema{Version: s.Version, Block: b}, nil
}

func convertBlock(b *jsonBlock) (*tfprotov6.SchemaBlock, error) {
	out := &tfprotov6.SchemaBlock{}
	if b == nil {
		return out, nil
	}
	out.Description = b.Description
	out.DescriptionKind = stringKind(b.DescriptionKind)
	out.Deprecated = b.Deprecated
	attrs, err := convertAttributes(b.Attributes)
	if err != nil {
		return nil, err
	}
	out.Attributes = attrs
	for _, name := range sortedKeys(b.BlockTypes) {
		bt := b.BlockTypes[name]
		inner, err := convertBlock(bt.Block)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", name, err)
		}
		mode, err := blockNesting(bt.NestingMode)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", name, err)
		}
		out.BlockTypes = append(out.BlockTypes, &tfprotov6.SchemaNestedBlock{
			TypeName: name,
			Block:    inner,
			Nesting:  mode,
			MinItems: bt.MinItems,
			MaxItems: bt.MaxItems,
		})
	}
	return out, nil
}

func convertAttributes(in map[string]*jsonAttribute) ([]*tfprotov6.SchemaAttribute, error) {
	var out []*tfprotov6.SchemaAttribute
	for _, name := range sortedKeys(in) {
		a := in[name]
		sa := &tfprotov6.SchemaAttribute{
			Name:            name,
			Description:     a.Description,
			DescriptionKind: stringKind(a.DescriptionKind),
			Required:        a.Required,
			Optional:        a.Optional,
			Computed:        a.Computed,
			Sensitive:       a.Sensitive,
			Deprecated:      a.Deprecated,
			WriteOnly:       a.WriteOnly,
		}
		switch {
		case a.NestedType != nil:
			nested, err := convertAttributes(a.NestedType.Attributes)
			if err != nil {
				return nil, fmt.Errorf("attribute %s: %w", name, err)
			}
			mode, err := objectNesting(a.NestedType.NestingMode)
			if err != nil {
				return nil, fmt.Errorf("attribute %s: %w", name, err)
			}
			sa.NestedType = &tfprotov6.SchemaObject{Attributes: nested, Nesting: mode}
		case len(a.Type) > 0:
			//nolint:staticcheck // the JSON type format is Terraform's own.
			t, err := tftypes.ParseJSONType(a.Type)
			if err != nil {
				return nil, fmt.Errorf("attribute %s: %w", name, err)
			}
			sa.Type = t
		default:
			return nil, fmt.Errorf("attribute %s has neither type nor nested_type", name)
		}
		out = append(out, sa)
	}
	return out, nil
}

func blockNesting(s string) (tfprotov6.SchemaNestedBlockNestingMode, error) {
	switch s {
	case "single":
		return tfprotov6.SchemaNestedBlockNestingModeSingle, nil
	case "group":
		return tfprotov6.SchemaNestedBlockNestingModeGroup, nil
	case "list":
		return tfprotov6.SchemaNestedBlockNestingModeList, nil
	case "set":
		return tfprotov6.SchemaNestedBlockNestingModeSet, nil
	case "map":
		return tfprotov6.SchemaNestedBlockNestingModeMap, nil
	}
	return tfprotov6.SchemaNestedBlockNestingModeInvalid, fmt.Errorf("unknown block nesting mode %q", s)
}

func objectNesting(s string) (tfprotov6.SchemaObjectNestingMode, error) {
	switch s {
	case "single":
		return tfprotov6.SchemaObjectNestingModeSingle, nil
	case "list":
		return tfprotov6.SchemaObjectNestingModeList, nil
	case "set":
		return tfprotov6.SchemaObjectNestingModeSet, nil
	case "map":
		return tfprotov6.SchemaObjectNestingModeMap, nil
	}
	return tfprotov6.SchemaObjectNestingModeInvalid, fmt.Errorf("unknown attribute nesting mode %q", s)
}

func stringKind(s string) tfprotov6.StringKind {
	if s == "markdown" {
		return tfprotov6.StringKindMarkdown
	}
	return tfprotov6.StringKindPlain
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
