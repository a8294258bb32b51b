package main

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// planBlock derives a planned value from OpenTofu's proposed new state the
// way a provider without defaults would: write-only attributes are nulled
// (they must never appear in a plan), and on create every computed attribute
// left null by the configuration becomes unknown, since only the API would
// know it. On update the proposed state already carries the prior computed
// values, which are kept.
func planBlock(b *tfprotov6.SchemaBlock, v tftypes.Value, create bool) (tftypes.Value, error) {
	return walkBlock(b, v, func(a *tfprotov6.SchemaAttribute, cur tftypes.Value) tftypes.Value {
		switch {
		case a.WriteOnly:
			return tftypes.NewValue(a.ValueType(), nil)
		case create && a.Computed && cur.IsNull():
			return tftypes.NewValue(a.ValueType(), tftypes.UnknownValue)
		}
		return cur
	})
}

// fillComputed gives every computed attribute left null a known placeholder,
// as an ephemeral resource's result must be wholly known.
func fillComputed(b *tfprotov6.SchemaBlock, v tftypes.Value) (tftypes.Value, error) {
	return walkBlock(b, v, func(a *tfprotov6.SchemaAttribute, cur tftypes.Value) tftypes.Value {
		if a.Computed && cur.IsNull() {
			return placeholder(a.ValueType())
		}
		return cur
	})
}

func placeholder(t tftypes.Type) tftypes.Value {
	switch {
	case t.Is(tftypes.String):
		return tftypes.NewValue(t, "stand-in")
	case t.Is(tftypes.Bool):
		return tftypes.NewValue(t, false)
	case t.Is(tftypes.Number):
		return tftypes.NewValue(t, 0)
	case t.Is(tftypes.List{}):
		return tftypes.NewValue(t, []tftypes.Value{})
	case t.Is(tftypes.Set{}):
		return tftypes.NewValue(t, []tftypes.Value{})
	case t.Is(tftypes.Map{}):
		return tftypes.NewValue(t, map[string]tftypes.Value{})
	}
	return tftypes.NewValue(t, nil)
}

type attrFunc func(a *tfprotov6.SchemaAttribute, cur tftypes.Value) tftypes.Value

// walkBlock rebuilds the object v of block b, passing each attribute through
// f and descending into nested blocks. Nested attribute types are not
// descended into: the google provider's schema has none.
func walkBlock(b *tfprotov6.SchemaBlock, v tftypes.Value, f attrFunc) (tftypes.Value, error) {
	if v.IsNull() || !v.IsKnown() {
		return v, nil
	}
	var m map[string]tftypes.Value
	if err := v.As(&m); err != nil {
		return v, fmt.Errorf("reading object: %w", err)
	}
	for _, a := range b.Attributes {
		cur, ok := m[a.Name]
		if !ok {
			continue
		}
		m[a.Name] = f(a, cur)
	}
	for _, nb := range b.BlockTypes {
		cur, ok := m[nb.TypeName]
		if !ok || cur.IsNull() || !cur.IsKnown() {
			continue
		}
		var err error
		switch nb.Nesting {
		case tfprotov6.SchemaNestedBlockNestingModeSingle, tfprotov6.SchemaNestedBlockNestingModeGroup:
			m[nb.TypeName], err = walkBlock(nb.Block, cur, f)
		case tfprotov6.SchemaNestedBlockNestingModeList, tfprotov6.SchemaNestedBlockNestingModeSet:
			var elems []tftypes.Value
			if err = cur.As(&elems); err != nil {
				break
			}
			for i := range elems {
				if elems[i], err = walkBlock(nb.Block, elems[i], f); err != nil {
					break
				}
			}
			m[nb.TypeName] = tftypes.NewValue(nb.ValueType(), elems)
		case tfprotov6.SchemaNestedBlockNestingModeMap:
			var elems map[string]tftypes.Value
			if err = cur.As(&elems); err != nil {
				break
			}
			for k := range elems {
				if elems[k], err = walkBlock(nb.Block, elems[k], f); err != nil {
					break
				}
			}
			m[nb.TypeName] = tftypes.NewValue(nb.ValueType(), elems)
		}
		if err != nil {
			return v, fmt.Errorf("block %s: %w", nb.TypeName, err)
		}
	}
	return tftypes.NewValue(b.ValueType(), m), nil
}
