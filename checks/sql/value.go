package sql

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/zclconf/go-cty/cty"

	"github.com/runbookhq/runbook/checks"
)

// numberPrecision is the precision HCL gives number literals, so a value
// read from the database equals the literal that spells it (0.1 == 0.1).
const numberPrecision = 512

// converter turns one column's value, as it came over the wire, into cty.
// raw is nil for NULL.
type converter func(raw []byte) (cty.Value, error)

// converterFor picks the conversion of a result column once per query.
// json and jsonb are decoded from the raw text so their numbers keep full
// precision; arrays are scanned from the raw value, as pgx's generic
// decoding flattens multi-dimensional ones; integers, floats, bools and
// text are read straight from their wire form; everything else is decoded
// by pgx and goes through toCty.
func converterFor(m *pgtype.Map, fd pgconn.FieldDescription) converter {
	oid, format := fd.DataTypeOID, fd.Format
	t, known := m.TypeForOID(oid)
	decode := func(raw []byte) (cty.Value, error) {
		if raw == nil {
			return cty.NullVal(cty.DynamicPseudoType), nil
		}
		v, err := decodeValue(m, t, known, oid, format, raw)
		if err != nil {
			return cty.NilVal, err
		}
		return toCty(m, oid, v), nil
	}
	switch {
	case oid == pgtype.JSONOID || oid == pgtype.JSONBOID:
		binary := oid == pgtype.JSONBOID && format == pgtype.BinaryFormatCode
		return func(raw []byte) (cty.Value, error) {
			if raw == nil {
				return cty.NullVal(cty.DynamicPseudoType), nil
			}
			doc := raw
			if binary && len(doc) > 0 {
				doc = doc[1:] // jsonb's binary form is a version byte and the text
			}
			if val, err := checks.FromJSON(doc); err == nil {
				return val, nil
			}
			return cty.StringVal(string(doc)), nil
		}
	case elementOID(m, oid) != 0:
		elem := elementOID(m, oid)
		return func(raw []byte) (cty.Value, error) {
			if raw == nil {
				return cty.NullVal(cty.DynamicPseudoType), nil
			}
			var a pgtype.Array[any]
			if err := m.Scan(oid, format, raw, &a); err != nil {
				return decode(raw)
			}
			dims := make([]int, len(a.Dims))
			for i, d := range a.Dims {
				dims[i] = int(d.Length)
			}
			return nested(m, elem, a.Elements, dims), nil
		}
	case !known:
		return decode
	}
	if wire := wireConverter(t.Codec, format); wire != nil {
		return func(raw []byte) (cty.Value, error) {
			if raw == nil {
				return cty.NullVal(cty.DynamicPseudoType), nil
			}
			if v, ok := wire(raw); ok {
				return v, nil
			}
			return decode(raw) // a malformed value: let pgx name the problem
		}
	}
	return decode
}

// wireConverter returns a conversion straight from the wire form for the
// commonest column types (what pgx would decode, then toCty convert, with
// nothing in between), or nil. It reports false for a value of the wrong
// length.
func wireConverter(codec pgtype.Codec, format int16) func(raw []byte) (cty.Value, bool) {
	if c, ok := codec.(*pgtype.TextFormatOnlyCodec); ok && format == pgtype.TextFormatCode {
		codec = c.Codec
	}
	if _, ok := codec.(pgtype.TextCodec); ok {
		// The text types' binary form is their text.
		return func(raw []byte) (cty.Value, bool) { return cty.StringVal(string(raw)), true }
	}
	if format != pgtype.BinaryFormatCode {
		return nil
	}
	switch codec.(type) {
	case pgtype.Int2Codec:
		return func(raw []byte) (cty.Value, bool) {
			if len(raw) != 2 {
				return cty.NilVal, false
			}
			return intVal(int64(int16(binary.BigEndian.Uint16(raw)))), true
		}
	case pgtype.Int4Codec:
		return func(raw []byte) (cty.Value, bool) {
			if len(raw) != 4 {
				return cty.NilVal, false
			}
			return intVal(int64(int32(binary.BigEndian.Uint32(raw)))), true
		}
	case pgtype.Int8Codec:
		return func(raw []byte) (cty.Value, bool) {
			if len(raw) != 8 {
				return cty.NilVal, false
			}
			return intVal(int64(binary.BigEndian.Uint64(raw))), true
		}
	case pgtype.BoolCodec:
		return func(raw []byte) (cty.Value, bool) {
			if len(raw) != 1 {
				return cty.NilVal, false
			}
			return cty.BoolVal(raw[0] == 1), true
		}
	case pgtype.Float4Codec:
		return func(raw []byte) (cty.Value, bool) {
			if len(raw) != 4 {
				return cty.NilVal, false
			}
			return floatValue(float64(math.Float32frombits(binary.BigEndian.Uint32(raw))), 32), true
		}
	case pgtype.Float8Codec:
		return func(raw []byte) (cty.Value, bool) {
			if len(raw) != 8 {
				return cty.NilVal, false
			}
			return floatValue(math.Float64frombits(binary.BigEndian.Uint64(raw)), 64), true
		}
	}
	return nil
}

// decodeValue decodes one non-NULL value as pgx's Rows.Values does: with
// the type's codec, or as text or bytes for a type pgx does not know.
func decodeValue(m *pgtype.Map, t *pgtype.Type, known bool, oid uint32, format int16, raw []byte) (any, error) {
	if known {
		return t.Codec.DecodeValue(m, oid, format, raw)
	}
	if format == pgtype.TextFormatCode {
		return string(raw), nil
	}
	return append([]byte(nil), raw...), nil
}

// nested shapes the flat elements of an array with dimensions dims into
// lists of lists.
func nested(m *pgtype.Map, elem uint32, elems []any, dims []int) cty.Value {
	if len(dims) == 0 || len(elems) == 0 {
		return cty.EmptyTupleVal
	}
	out := make([]cty.Value, dims[0])
	if len(dims) == 1 {
		for i := range out {
			out[i] = toCty(m, elem, elems[i])
		}
		return cty.TupleVal(out)
	}
	step := len(elems) / dims[0]
	for i := range out {
		out[i] = nested(m, elem, elems[i*step:(i+1)*step], dims[1:])
	}
	return cty.TupleVal(out)
}

// textTypes are the types pgx would decode into Go structs with no
// natural cty form (intervals, network addresses, geometry, ranges …).
// Connections read them, and arrays of them, in PostgreSQL's own text
// form instead.
var textTypes = []string{
	"interval", "time", "inet", "cidr", "macaddr", "macaddr8",
	"bit", "varbit", "box", "circle", "line", "lseg", "path", "point", "polygon",
	"tid", "tsvector", "xml",
	"int4range", "int8range", "numrange", "daterange", "tsrange", "tstzrange",
	"int4multirange", "int8multirange", "nummultirange", "datemultirange", "tsmultirange", "tstzmultirange",
}

// readAsText registers textTypes on a connection's type map as text.
func readAsText(m *pgtype.Map) {
	for _, name := range textTypes {
		t, ok := m.TypeForName(name)
		if !ok {
			continue
		}
		text := &pgtype.Type{Name: name, OID: t.OID, Codec: &pgtype.TextFormatOnlyCodec{Codec: pgtype.TextCodec{}}}
		m.RegisterType(text)
		if at, ok := m.TypeForName("_" + name); ok {
			m.RegisterType(&pgtype.Type{Name: at.Name, OID: at.OID, Codec: &pgtype.ArrayCodec{ElementType: text}})
		}
	}
}

// toCty converts a value decoded by pgx for a column (or array element) of
// type oid. Numbers keep their precision, times become RFC 3339 strings,
// arrays become lists and types without a natural cty form become their
// PostgreSQL text form.
func toCty(m *pgtype.Map, oid uint32, v any) cty.Value {
	switch x := v.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType)
	case int16:
		return intVal(int64(x))
	case int32:
		return intVal(int64(x))
	case int64:
		return intVal(x)
	case bool, string, uint32, uint64:
		return checks.FromGo(x)
	case float32:
		return floatValue(float64(x), 32)
	case float64:
		return floatValue(x, 64)
	case pgtype.Numeric:
		return numericValue(x)
	case time.Time:
		if oid == pgtype.DateOID {
			return cty.StringVal(x.Format(time.DateOnly))
		}
		return cty.StringVal(x.Format(time.RFC3339Nano))
	case pgtype.InfinityModifier:
		return cty.StringVal(x.String())
	case [16]byte:
		if oid == pgtype.UUIDOID {
			return cty.StringVal(uuidString(x))
		}
	case []byte:
		return cty.StringVal(`\x` + hex.EncodeToString(x))
	case []any:
		elem := elementOID(m, oid)
		if len(x) == 0 {
			return cty.EmptyTupleVal
		}
		elems := make([]cty.Value, len(x))
		for i, e := range x {
			elems[i] = toCty(m, elem, e)
		}
		return cty.TupleVal(elems)
	case map[string]any:
		// A json element of an array, decoded by pgx.
		return checks.FromGo(jsonNumbers(x))
	}
	if oid != 0 {
		if buf, err := m.Encode(oid, pgtype.TextFormatCode, v, nil); err == nil && buf != nil {
			return cty.StringVal(string(buf))
		}
	}
	if s, ok := v.(fmt.Stringer); ok {
		return cty.StringVal(s.String())
	}
	return cty.StringVal(fmt.Sprintf("%v", v))
}

// smallInts holds the cty numbers 0 to 1023, made once: counts and small
// integers are most of what checks read, and a cty number costs
// allocations. Numbers are immutable, so sharing them is safe.
var smallInts = sync.OnceValue(func() []cty.Value {
	vals := make([]cty.Value, 1024)
	for i := range vals {
		vals[i] = cty.NumberIntVal(int64(i))
	}
	return vals
})

// intVal returns n as a cty number.
func intVal(n int64) cty.Value {
	if n >= 0 && n < 1024 {
		return smallInts()[n]
	}
	return cty.NumberIntVal(n)
}

// floatValue converts through the shortest decimal that round-trips, as
// PostgreSQL prints it, so 0.1::float8 equals the literal 0.1. NaN and the
// infinities, which cty numbers cannot hold, become their text form.
func floatValue(f float64, bits int) cty.Value {
	switch {
	case math.IsNaN(f):
		return cty.StringVal("NaN")
	case math.IsInf(f, 1):
		return cty.StringVal("Infinity")
	case math.IsInf(f, -1):
		return cty.StringVal("-Infinity")
	}
	return decimal(strconv.FormatFloat(f, 'g', -1, bits))
}

// numericValue converts an arbitrary-precision numeric exactly: at HCL's
// literal precision, or more when the number has more digits than that
// holds.
func numericValue(n pgtype.Numeric) cty.Value {
	switch {
	case !n.Valid:
		return cty.NullVal(cty.DynamicPseudoType)
	case n.NaN:
		return cty.StringVal("NaN")
	case n.InfinityModifier == pgtype.Infinity:
		return cty.StringVal("Infinity")
	case n.InfinityModifier == pgtype.NegativeInfinity:
		return cty.StringVal("-Infinity")
	case n.Int == nil:
		return cty.Zero
	}
	return decimal(n.Int.String() + "e" + strconv.Itoa(int(n.Exp)))
}

// decimal parses a decimal string into a cty number.
func decimal(s string) cty.Value {
	prec := uint(numberPrecision)
	if need := uint(len(s))*4 + 64; need > prec {
		prec = need
	}
	f, _, err := big.ParseFloat(s, 10, prec, big.ToNearestEven)
	if err != nil {
		return cty.StringVal(s)
	}
	return cty.NumberVal(f)
}

// jsonNumbers walks a value pgx decoded from json and rewrites its float64
// numbers through their shortest decimal form.
func jsonNumbers(v any) any {
	switch x := v.(type) {
	case float64:
		return floatValue(x, 64)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonNumbers(e)
		}
		return out
	}
	return v
}

// elementOID returns the element type of an array type, or 0.
func elementOID(m *pgtype.Map, oid uint32) uint32 {
	if t, ok := m.TypeForOID(oid); ok {
		if ac, ok := t.Codec.(*pgtype.ArrayCodec); ok && ac.ElementType != nil {
			return ac.ElementType.OID
		}
	}
	return 0
}

func uuidString(b [16]byte) string {
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// argValue converts one element of `args` into a Go value pgx can bind:
// strings, bools, integers (int64) and other numbers (their exact decimal
// text), lists (arrays, for `= ANY($1)`), and objects (JSON text, for json
// and jsonb parameters).
func argValue(v cty.Value) (any, error) {
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsKnown() {
		return nil, fmt.Errorf("value is not known")
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString(), nil
	case t == cty.Bool:
		return v.True(), nil
	case t == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact {
				return i, nil
			}
		}
		return bf.Text('f', -1), nil
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		out := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			a, err := argValue(e)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		return out, nil
	case t.IsObjectType() || t.IsMapType():
		return jsonText(v)
	}
	return nil, fmt.Errorf("values of type %s cannot be bound", t.FriendlyName())
}
