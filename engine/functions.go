package engine

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Functions returns the functions available to runbook expressions:
// go-cty's standard library under Terraform's names, try and can, a few
// Terraform string and encoding functions, and file and templatefile
// relative to dir.
func Functions(dir string) map[string]function.Function {
	fns := map[string]function.Function{
		"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "floor": stdlib.FloorFunc,
		"log": stdlib.LogFunc, "max": stdlib.MaxFunc, "min": stdlib.MinFunc,
		"parseint": stdlib.ParseIntFunc, "pow": stdlib.PowFunc, "signum": stdlib.SignumFunc,
		"chomp": stdlib.ChompFunc, "format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc,
		"indent": stdlib.IndentFunc, "join": stdlib.JoinFunc, "lower": stdlib.LowerFunc,
		"regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc, "regex_replace": stdlib.RegexReplaceFunc,
		"replace": stdlib.ReplaceFunc, "split": stdlib.SplitFunc, "strrev": stdlib.ReverseFunc,
		"substr": stdlib.SubstrFunc, "title": stdlib.TitleFunc, "trim": stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc, "trimsuffix": stdlib.TrimSuffixFunc,
		"trimspace": stdlib.TrimSpaceFunc, "upper": stdlib.UpperFunc,
		"chunklist": stdlib.ChunklistFunc, "coalesce": stdlib.CoalesceFunc,
		"coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc,
		"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "distinct": stdlib.DistinctFunc,
		"element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc, "index": stdlib.IndexFunc,
		"keys": stdlib.KeysFunc, "length": lengthFunc, "lookup": stdlib.LookupFunc,
		"merge": stdlib.MergeFunc, "range": stdlib.RangeFunc, "reverse": stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc, "setproduct": stdlib.SetProductFunc,
		"setsubtract": stdlib.SetSubtractFunc, "setunion": stdlib.SetUnionFunc,
		"slice": stdlib.SliceFunc, "sort": stdlib.SortFunc, "values": stdlib.ValuesFunc,
		"zipmap": stdlib.ZipmapFunc, "csvdecode": stdlib.CSVDecodeFunc,
		"jsondecode": stdlib.JSONDecodeFunc, "jsonencode": stdlib.JSONEncodeFunc,
		"formatdate": stdlib.FormatDateFunc, "timeadd": stdlib.TimeAddFunc,
		"try": tryfunc.TryFunc, "can": tryfunc.CanFunc,
		"startswith": startsWithFunc, "endswith": endsWithFunc, "strcontains": strContainsFunc,
		"base64encode": base64EncodeFunc, "base64decode": base64DecodeFunc,
		"urlencode": urlEncodeFunc,
		"sha256":    sha256Func, "timestamp": timestampFunc,
		"alltrue": allTrueFunc, "anytrue": anyTrueFunc, "sum": sumFunc,
		"tostring": toFunc(cty.String), "tonumber": toFunc(cty.Number), "tobool": toFunc(cty.Bool),
		"tolist": toFunc(cty.List(cty.DynamicPseudoType)), "toset": toFunc(cty.Set(cty.DynamicPseudoType)),
		"tomap":    toFunc(cty.Map(cty.DynamicPseudoType)),
		"basename": pathFunc(filepath.Base), "dirname": pathFunc(filepath.Dir),
	}
	fns["file"] = fileFunc(dir)
	fns["fileexists"] = fileExistsFunc(dir)
	fns["templatefile"] = templateFileFunc(dir, fns)
	return fns
}

func stringPredicate(f func(s, sub string) bool, names ...string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{
			{Name: names[0], Type: cty.String},
			{Name: names[1], Type: cty.String},
		},
		Type: function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(f(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

var (
	startsWithFunc  = stringPredicate(strings.HasPrefix, "str", "prefix")
	endsWithFunc    = stringPredicate(strings.HasSuffix, "str", "suffix")
	strContainsFunc = stringPredicate(strings.Contains, "str", "substr")
)

func stringFunc(f func(string) (string, error)) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			s, err := f(args[0].AsString())
			if err != nil {
				return cty.UnknownVal(cty.String), err
			}
			return cty.StringVal(s), nil
		},
	})
}

var (
	base64EncodeFunc = stringFunc(func(s string) (string, error) {
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	})
	// urlencode escapes a string for a URL query, as Terraform's does.
	urlEncodeFunc = stringFunc(func(s string) (string, error) {
		return url.QueryEscape(s), nil
	})
	base64DecodeFunc = stringFunc(func(s string) (string, error) {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return "", fmt.Errorf("invalid base64: %w", err)
		}
		return string(b), nil
	})
	sha256Func = stringFunc(func(s string) (string, error) {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:]), nil
	})
)

func pathFunc(f func(string) string) function.Function {
	return stringFunc(func(s string) (string, error) { return f(s), nil })
}

var timestampFunc = function.New(&function.Spec{
	Type: function.StaticReturnType(cty.String),
	Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
		return cty.StringVal(time.Now().UTC().Format(time.RFC3339)), nil
	},
})

func boolReduce(any bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			for it := args[0].ElementIterator(); it.Next(); {
				_, v := it.Element()
				if !v.IsKnown() {
					return cty.UnknownVal(cty.Bool), nil
				}
				if v.IsNull() {
					continue
				}
				if v.True() == any {
					return cty.BoolVal(any), nil
				}
			}
			return cty.BoolVal(!any), nil
		},
	})
}

var (
	allTrueFunc = boolReduce(false)
	anyTrueFunc = boolReduce(true)
)

var sumFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Number)}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		total := new(big.Float)
		for it := args[0].ElementIterator(); it.Next(); {
			_, v := it.Element()
			if v.IsNull() {
				return cty.NilVal, fmt.Errorf("sum: list contains null")
			}
			total.Add(total, v.AsBigFloat())
		}
		return cty.NumberVal(total), nil
	},
})

func toFunc(ty cty.Type) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType, AllowNull: true, AllowDynamicType: true}},
		Type: func(args []cty.Value) (cty.Type, error) {
			got := args[0].Type()
			if got.Equals(cty.DynamicPseudoType) {
				return ty, nil
			}
			conv := convert.GetConversionUnsafe(got, ty)
			if conv == nil {
				return cty.NilType, fmt.Errorf("cannot convert %s to %s", got.FriendlyName(), ty.FriendlyNameForConstraint())
			}
			if ty.HasDynamicTypes() {
				v, err := convert.Convert(cty.UnknownVal(got), ty)
				if err != nil {
					return cty.NilType, err
				}
				return v.Type(), nil
			}
			return ty, nil
		},
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			v, err := convert.Convert(args[0], retType)
			if err != nil {
				return cty.NilVal, fmt.Errorf("cannot convert %s to %s: %w", args[0].Type().FriendlyName(), retType.FriendlyNameForConstraint(), err)
			}
			return v, nil
		},
	})
}

func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func fileFunc(dir string) function.Function {
	return stringFunc(func(p string) (string, error) {
		data, err := os.ReadFile(resolvePath(dir, p))
		if err != nil {
			return "", fmt.Errorf("read file %q: %w", p, err)
		}
		return string(data), nil
	})
}

func fileExistsFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			_, err := os.Stat(resolvePath(dir, args[0].AsString()))
			return cty.BoolVal(err == nil), nil
		},
	})
}

// templateFileFunc renders a file as an HCL template with the given
// variables, like Terraform's templatefile. The template may use every
// function but templatefile itself.
func templateFileFunc(dir string, fns map[string]function.Function) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
			{Name: "vars", Type: cty.DynamicPseudoType},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			src, err := os.ReadFile(resolvePath(dir, p))
			if err != nil {
				return cty.NilVal, fmt.Errorf("read template %q: %w", p, err)
			}
			expr, diags := hclsyntax.ParseTemplate(src, p, hcl.Pos{Line: 1, Column: 1, Byte: 0})
			if diags.HasErrors() {
				return cty.NilVal, fmt.Errorf("parse template %q: %s", p, diags.Error())
			}
			vars := args[1]
			if !vars.Type().IsObjectType() && !vars.Type().IsMapType() {
				return cty.NilVal, fmt.Errorf("templatefile vars must be an object or map")
			}
			ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: map[string]function.Function{}}
			for it := vars.ElementIterator(); it.Next(); {
				k, v := it.Element()
				ctx.Variables[k.AsString()] = v
			}
			for n, f := range fns {
				if n != "templatefile" {
					ctx.Functions[n] = f
				}
			}
			val, diags := expr.Value(ctx)
			if diags.HasErrors() {
				return cty.NilVal, fmt.Errorf("render template %q: %s", p, diags.Error())
			}
			val, err = convert.Convert(val, cty.String)
			if err != nil || val.IsNull() {
				return cty.NilVal, fmt.Errorf("template %q did not produce a string", p)
			}
			return val, nil
		},
	})
}

// lengthFunc is Terraform's length: of a collection, or of a string in
// characters.
var lengthFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true, AllowUnknown: true, AllowMarked: true}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].Type() == cty.String {
			return stdlib.Strlen(args[0])
		}
		return stdlib.Length(args[0])
	},
})
