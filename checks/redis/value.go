package redis

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// numberPrecision is the precision HCL gives number literals, so a value
// from Redis equals the literal that spells it (0.1 == 0.1).
const numberPrecision = 512

// pairCommands reply, in RESP2, with a flat list of field, value pairs;
// they become objects as they are in RESP3.
var pairCommands = map[string]bool{"HGETALL": true, "CONFIG GET": true}

// reply2cty converts a reply to the command cmd.
func reply2cty(cmd []string, reply any) cty.Value {
	name := strings.ToUpper(cmd[0])
	if len(cmd) > 1 {
		if sub := name + " " + strings.ToUpper(cmd[1]); pairCommands[sub] {
			name = sub
		}
	}
	if s, ok := reply.(string); ok && name == "INFO" {
		return parseInfo(s)
	}
	if list, ok := reply.([]any); ok && pairCommands[name] && len(list)%2 == 0 {
		m := make(map[any]any, len(list)/2)
		for i := 0; i < len(list); i += 2 {
			m[list[i]] = list[i+1]
		}
		return toCty(m)
	}
	return toCty(reply)
}

// toCty converts a decoded RESP2 or RESP3 value.
func toCty(v any) cty.Value {
	switch x := v.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType)
	case string:
		return cty.StringVal(x)
	case int64:
		return cty.NumberIntVal(x)
	case bool:
		return cty.BoolVal(x)
	case float64:
		switch {
		case math.IsNaN(x):
			return cty.StringVal("nan")
		case math.IsInf(x, 1):
			return cty.StringVal("inf")
		case math.IsInf(x, -1):
			return cty.StringVal("-inf")
		}
		return decimal(strconv.FormatFloat(x, 'g', -1, 64))
	case *big.Int:
		return decimal(x.String())
	case []any:
		if len(x) == 0 {
			return cty.EmptyTupleVal
		}
		elems := make([]cty.Value, len(x))
		for i, e := range x {
			elems[i] = toCty(e)
		}
		return cty.TupleVal(elems)
	case map[any]any:
		if len(x) == 0 {
			return cty.EmptyObjectVal
		}
		attrs := make(map[string]cty.Value, len(x))
		for k, e := range x {
			attrs[fmt.Sprint(k)] = toCty(e)
		}
		return cty.ObjectVal(attrs)
	case map[string]any:
		m := make(map[any]any, len(x))
		for k, e := range x {
			m[k] = e
		}
		return toCty(m)
	case error:
		// An error inside an array, such as one command's failure in EXEC.
		return cty.StringVal(x.Error())
	}
	return cty.StringVal(fmt.Sprint(v))
}

// decimal parses a decimal string into a cty number at HCL's precision.
func decimal(s string) cty.Value {
	f, _, err := big.ParseFloat(s, 10, numberPrecision, big.ToNearestEven)
	if err != nil {
		return cty.StringVal(s)
	}
	return cty.NumberVal(f)
}

var (
	// numeric matches numbers as INFO prints them; a leading zero (a
	// hash such as "00000000") keeps a value a string.
	numeric = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)
	// keyValues matches INFO values that are lists of key=value, such as
	// db0:keys=1,expires=0 or cmdstat_get:calls=2,usec=5.
	keyValues = regexp.MustCompile(`^[a-z_0-9]+=[^,]*(,[a-z_0-9]+=[^,]*)*$`)
)

// parseInfo parses INFO's text into an object of sections ("# Memory"
// becomes memory; an empty section is an empty object) of fields. Numbers become numbers, and key=value lists
// (keyspace, commandstats, replicas) become objects of their own.
func parseInfo(text string) cty.Value {
	sections := map[string]map[string]cty.Value{}
	section := "default"
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if name, ok := strings.CutPrefix(line, "#"); ok {
			section = strings.ToLower(strings.TrimSpace(name))
			if sections[section] == nil {
				sections[section] = map[string]cty.Value{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if sections[section] == nil {
			sections[section] = map[string]cty.Value{}
		}
		sections[section][k] = infoValue(v)
	}
	if len(sections) == 0 {
		return cty.EmptyObjectVal
	}
	out := make(map[string]cty.Value, len(sections))
	for name, fields := range sections {
		if len(fields) == 0 {
			out[name] = cty.EmptyObjectVal
			continue
		}
		out[name] = cty.ObjectVal(fields)
	}
	return cty.ObjectVal(out)
}

func infoValue(v string) cty.Value {
	if keyValues.MatchString(v) {
		fields := map[string]cty.Value{}
		for _, kv := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(kv, "=")
			fields[k] = infoScalar(val)
		}
		return cty.ObjectVal(fields)
	}
	return infoScalar(v)
}

func infoScalar(v string) cty.Value {
	if numeric.MatchString(v) {
		return decimal(v)
	}
	return cty.StringVal(v)
}
