package sql

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/zclconf/go-cty/cty"
)

// columnsKey is where a connection keeps its columns, by query text, in
// its pgconn CustomData.
const columnsKey = "runbook/checks/sql.columns"

// maxColumns bounds the queries whose columns a connection keeps.
const maxColumns = 256

// A result is kept for the next run of its query on its connection when
// it has at most memoRows rows and memoBytes bytes of values.
const (
	memoRows  = 16
	memoBytes = 4096
)

// nullLength is the length that marks NULL in a memo's wire.
const nullLength = math.MaxUint32

// columns is what reading a query's result columns takes on one
// connection: their names, as the result's `columns` list, how to convert
// each one, and the last result.
type columns struct {
	fds   []pgconn.FieldDescription // what names and convs were made for
	names cty.Value
	convs []converter
	last  *memo
}

// memo is a small result and the values it was built from, as they came
// over the wire. Conversion depends on nothing else (the columns and the
// connection's type map are fixed), so when a query sends the same values
// again, as a `watch` cycle or many checks of one query mostly do, the
// result is returned as it is: cty values are immutable. The next result
// reuses a memo's buffers.
type memo struct {
	maxRows  int
	maxBytes int
	wire     []byte // each value: its length (4 bytes, big-endian; nullLength for NULL), then its bytes
	ends     []int  // where each row ends in wire
	rows     []cty.Value
	result   cty.Value
}

// row returns the wire form of row i.
func (m *memo) row(i int) []byte { return m.wire[m.start(i):m.ends[i]] }

// start returns where row i starts in wire.
func (m *memo) start(i int) int {
	if i == 0 {
		return 0
	}
	return m.ends[i-1]
}

// truncate keeps the first n rows' values.
func (m *memo) truncate(n int) {
	m.wire, m.ends = m.wire[:m.start(n)], m.ends[:n]
}

// add appends a row's values, or reports false if that would make the memo
// too large.
func (m *memo) add(raws [][]byte) bool {
	size := len(m.wire)
	for _, raw := range raws {
		size += 4 + len(raw)
	}
	if len(m.ends) >= memoRows || size > memoBytes {
		return false
	}
	for _, raw := range raws {
		if raw == nil {
			m.wire = binary.BigEndian.AppendUint32(m.wire, nullLength)
			continue
		}
		m.wire = binary.BigEndian.AppendUint32(m.wire, uint32(len(raw)))
		m.wire = append(m.wire, raw...)
	}
	m.ends = append(m.ends, len(m.wire))
	return true
}

// holds reports whether row, in wire form, holds the values raws.
func holds(row []byte, raws [][]byte) bool {
	for _, raw := range raws {
		if len(row) < 4 {
			return false
		}
		n := binary.BigEndian.Uint32(row)
		row = row[4:]
		if raw == nil {
			if n != nullLength {
				return false
			}
			continue
		}
		if n == nullLength || int(n) != len(raw) || int(n) > len(row) || !bytes.Equal(row[:n], raw) {
			return false
		}
		row = row[n:]
	}
	return len(row) == 0
}

// collect reads the rows of query into the result object, keeping at
// most maxRows. A result equal to the last one of query on conn is the
// last one.
//
// Rows are kept while their text (as the server sent it) fits in maxBytes;
// a first row that alone is larger keeps its string cells cut to fit.
// Either marks the result truncated, and a truncated result is never
// reused.
func collect(conn *pgx.Conn, rows pgx.Rows, query string, maxRows, maxBytes int) (cty.Value, error) {
	defer rows.Close()
	fds := rows.FieldDescriptions()
	cols := columnsFor(conn, query, fds)
	m := cols.last
	cols.last = nil
	same := m != nil && m.maxRows == maxRows && m.maxBytes == maxBytes // every row so far is m's
	used, cut := 0, false
	if m == nil {
		m = &memo{}
	} else if !same {
		m.truncate(0)
	}
	record := len(fds) > 0
	var kept []cty.Value
	n := 0
	for rows.Next() {
		n++
		raws := rows.RawValues()
		if same {
			if n <= len(m.ends) && holds(m.row(n-1), raws) {
				continue
			}
			same = false
			kept = append(kept, m.rows[:n-1]...)
			used = m.start(n - 1)
			m.truncate(n - 1)
		}
		if len(kept) >= maxRows {
			continue
		}
		size := 0
		for _, raw := range raws {
			size += len(raw)
		}
		if len(kept) > 0 && used+size > maxBytes {
			cut = true
			continue
		}
		used += size
		obj := make(map[string]cty.Value, len(fds))
		for i, fd := range fds {
			v, err := cols.convs[i](raws[i])
			if err != nil {
				return cty.NilVal, fmt.Errorf("decode row %d, column %q: %w", n, fd.Name, err)
			}
			if size > maxBytes && v.Type() == cty.String && !v.IsNull() && len(v.AsString()) > maxBytes/len(fds) {
				v = cty.StringVal(strings.ToValidUTF8(v.AsString()[:maxBytes/len(fds)], ""))
				cut = true
			}
			obj[fd.Name] = v
		}
		kept = append(kept, cty.ObjectVal(obj))
		record = record && !cut && m.add(raws)
	}
	if err := rows.Err(); err != nil {
		return cty.NilVal, err
	}
	if same {
		if n == len(m.ends) {
			cols.last = m
			return m.result, nil
		}
		kept = m.rows[:n] // a shorter answer
		m.truncate(n)
	}
	count := int64(n)
	if len(fds) == 0 {
		count = rows.CommandTag().RowsAffected()
	}
	rowList := cty.EmptyTupleVal
	if len(kept) > 0 {
		rowList = cty.TupleVal(kept)
	}
	res := cty.ObjectVal(map[string]cty.Value{
		"rows":      rowList,
		"row_count": intVal(count),
		"columns":   cols.names,
		"truncated": cty.BoolVal(n > len(kept) || cut),
	})
	if record && !cut && n == len(kept) {
		m.maxRows, m.maxBytes, m.rows, m.result = maxRows, maxBytes, kept, res
		cols.last = m
	}
	return res, nil
}

// columnsFor returns the columns of fds, the result columns of query on
// conn. They are worked out once per query and connection (conversions
// depend on the connection's type map) and again when the query's result
// columns change.
func columnsFor(conn *pgx.Conn, query string, fds []pgconn.FieldDescription) *columns {
	data := conn.PgConn().CustomData()
	cache, _ := data[columnsKey].(map[string]*columns)
	if c, ok := cache[query]; ok && sameColumns(c.fds, fds) {
		return c
	}
	m := conn.TypeMap()
	c := &columns{
		fds:   slices.Clone(fds),
		names: cty.ListValEmpty(cty.String),
		convs: make([]converter, len(fds)),
	}
	if len(fds) > 0 {
		names := make([]cty.Value, len(fds))
		for i, fd := range fds {
			names[i] = cty.StringVal(fd.Name)
			c.convs[i] = converterFor(m, fd)
		}
		c.names = cty.ListVal(names)
	}
	if cache == nil || len(cache) >= maxColumns {
		cache = make(map[string]*columns)
		data[columnsKey] = cache
	}
	cache[query] = c
	return c
}

// sameColumns reports whether a and b have the same names, types and
// formats, in order.
func sameColumns(a, b []pgconn.FieldDescription) bool {
	return slices.EqualFunc(a, b, func(x, y pgconn.FieldDescription) bool {
		return x.Name == y.Name && x.DataTypeOID == y.DataTypeOID && x.Format == y.Format
	})
}
