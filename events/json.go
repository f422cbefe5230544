package events

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds the JSON machinery of the decoders. A record value is first checked
// in full by checkJSONTop (strict RFC 8259 grammar, bounded nesting, UTF-8 inside
// strings), which also records its structural index (see index); everything after that
// reads spans of the already-checked value in place: members and elements walk an object
// or an array without copying it, skipping nested ones through the index, and only the
// values a decoder uses become Go values.
// Nothing builds a map[string]any of a payload and numbers are never read through a
// float64, so ids keep their exact digits.
//
// The readers are defensive nonetheless: given a span that is not valid JSON they stop
// early or return zero values, and they never index out of range.

// maxDepth bounds the nesting of arrays and objects in a record value.
const maxDepth = 512

// jsonSyntaxError is where and why checkJSON rejected a value.
type jsonSyntaxError struct {
	off     int
	msg     string
	badUTF8 bool // off is the first byte that is not valid UTF-8 (checkJSONTop only)
}

// checkJSON reports whether b holds exactly one JSON value, surrounded by optional
// whitespace. UTF-8 is checked separately (the grammar here lets any byte ≥ 0x20 through
// inside strings).
func checkJSON(b []byte) *jsonSyntaxError {
	c := checker{b: b}
	return c.check()
}

// checkJSONTop is checkJSON that also, if b is an object, hands its members to top as
// the check goes: Decode recognizes an envelope without a pass of its own. It also
// checks UTF-8 inside strings: a value that passes the grammar has no byte ≥ 0x80
// outside its strings, so a value it accepts is valid UTF-8. The first byte that is not
// UTF-8 ends the check with an error marked badUTF8; the bytes before it are ASCII or
// whole runes, so it is the first bad byte of b as a sequential decode would find it.
//
// If tape is not nil, the check also records the structural index of b (see index),
// in tape's array while it has room; the index is returned if b is valid.
func checkJSONTop(b []byte, top *envelopeSpans, tape []tapeEntry) (index, *jsonSyntaxError) {
	c := checker{b: b, top: top, utf8: true}
	if tape != nil && len(b) <= maxIndexed {
		c.tape, c.indexing = tape[:cap(tape)], true
	}
	if err := c.check(); err != nil {
		return index{}, err
	}
	if !c.indexing {
		return index{}, nil
	}
	return index{base: b, tape: c.tape[:c.n]}, nil
}

// check checks c.b.
func (c *checker) check() *jsonSyntaxError {
	if err := c.value(); err != nil {
		return err
	}
	c.skipWS()
	if c.i != len(c.b) {
		return c.fail("unexpected data after the top-level value")
	}
	return nil
}

// open records a container that opens at c.i and returns its tape position, -1 if
// the check does not index.
func (c *checker) open() int {
	if !c.indexing {
		return -1
	}
	if c.n == len(c.tape) {
		// Copied, never appended to: the caller's array may live on its stack.
		grown := make([]tapeEntry, 2*len(c.tape)+32)
		copy(grown, c.tape)
		c.tape = grown
	}
	c.tape[c.n] = tapeEntry{start: int32(c.i)}
	c.n++
	return c.n - 1
}

// maxIndexed bounds the values checkJSONTop indexes: offsets are int32.
const maxIndexed = 1<<31 - 1

type checker struct {
	b     []byte
	i     int
	depth int
	top   *envelopeSpans // if not nil, receives the members of a top-level object
	utf8  bool           // check UTF-8 inside strings

	indexing bool        // record the containers in tape
	tape     []tapeEntry // tape[:n]: the containers seen so far, in the order they open
	n        int
}

func (c *checker) fail(msg string) *jsonSyntaxError { return &jsonSyntaxError{off: c.i, msg: msg} }

func (c *checker) eof() *jsonSyntaxError { return c.fail("unexpected end of input") }

func (c *checker) skipWS() {
	for c.i < len(c.b) {
		if ch := c.b[c.i]; ch > ' ' || (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
			return
		}
		c.i++
	}
}

func (c *checker) value() *jsonSyntaxError {
	c.skipWS()
	if c.i >= len(c.b) {
		return c.eof()
	}
	switch ch := c.b[c.i]; {
	case ch == '{':
		return c.object()
	case ch == '[':
		return c.array()
	case ch == '"':
		return c.str()
	case ch == 't':
		return c.literal("true")
	case ch == 'f':
		return c.literal("false")
	case ch == 'n':
		return c.literal("null")
	case ch == '-' || isDigit(ch):
		return c.number()
	default:
		return c.fail(fmt.Sprintf("unexpected character %q", ch))
	}
}

func (c *checker) object() *jsonSyntaxError {
	if c.depth++; c.depth > maxDepth {
		return c.fail(fmt.Sprintf("nested deeper than %d levels", maxDepth))
	}
	t := c.open()
	c.i++ // '{'
	c.skipWS()
	if c.i < len(c.b) && c.b[c.i] == '}' {
		c.i++
		c.depth--
		c.closed(t)
		return nil
	}
	for {
		c.skipWS()
		if c.i >= len(c.b) {
			return c.eof()
		}
		if c.b[c.i] != '"' {
			return c.fail("expected a member name")
		}
		nameStart := c.i + 1
		if err := c.str(); err != nil {
			return err
		}
		nameEnd := c.i - 1
		c.skipWS()
		if c.i >= len(c.b) {
			return c.eof()
		}
		if c.b[c.i] != ':' {
			return c.fail("expected ':' after a member name")
		}
		c.i++
		c.skipWS()
		valueStart := c.i
		if err := c.value(); err != nil {
			return err
		}
		if c.depth == 1 && c.top != nil {
			c.top.member(c.b[nameStart:nameEnd], valueStart, c.i)
		}
		c.skipWS()
		if c.i >= len(c.b) {
			return c.eof()
		}
		switch c.b[c.i] {
		case ',':
			c.i++
		case '}':
			c.i++
			c.depth--
			c.closed(t)
			return nil
		default:
			return c.fail("expected ',' or '}' after an object member")
		}
	}
}

// closed completes tape entry t (-1: none) of the container that ends just before c.i.
func (c *checker) closed(t int) {
	if t >= 0 {
		c.tape[t].end, c.tape[t].next = int32(c.i), int32(c.n)
	}
}

func (c *checker) array() *jsonSyntaxError {
	if c.depth++; c.depth > maxDepth {
		return c.fail(fmt.Sprintf("nested deeper than %d levels", maxDepth))
	}
	t := c.open()
	c.i++ // '['
	c.skipWS()
	if c.i < len(c.b) && c.b[c.i] == ']' {
		c.i++
		c.depth--
		c.closed(t)
		return nil
	}
	for {
		if err := c.value(); err != nil {
			return err
		}
		c.skipWS()
		if c.i >= len(c.b) {
			return c.eof()
		}
		switch c.b[c.i] {
		case ',':
			c.i++
		case ']':
			c.i++
			c.depth--
			c.closed(t)
			return nil
		default:
			return c.fail("expected ',' or ']' after an array element")
		}
	}
}

// strSpecial marks the bytes that end a run of plain string content: the quote, the
// backslash, control characters and the bytes of multi-byte UTF-8 sequences. Never
// modified.
var strSpecial = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// SWAR constants: a byte repeated in every lane of a uint64.
const (
	lanes01 = 0x0101010101010101
	lanes20 = 0x2020202020202020
	lanes80 = 0x8080808080808080
	lanesQu = 0x2222222222222222 // '"'
	lanesBs = 0x5c5c5c5c5c5c5c5c // '\\'
)

// specialLanes returns, for the 8 bytes of w (little-endian), a mask with the high bit
// of a lane set where the byte is special in strings: a quote, a backslash, a control
// character or a byte ≥ 0x80. In a lane below 0x80, x-lanes01 has its high bit set
// where x is zero and w-lanes20 where w is below 0x20; a borrow only carries out of such
// a lane, so it can flag only lanes above a special one, and the lowest flagged lane is
// the first special byte.
func specialLanes(w uint64) uint64 {
	return (w | (w - lanes20) | (w ^ lanesQu - lanes01) | (w ^ lanesBs - lanes01)) & lanes80
}

func (c *checker) str() *jsonSyntaxError {
	b := c.b
	i := c.i + 1 // opening quote
	for {
		for i+8 <= len(b) {
			if m := specialLanes(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(b) && !strSpecial[b[i]] {
			i++
		}
		if i >= len(b) {
			c.i = i
			return c.eof()
		}
		switch ch := b[i]; {
		case ch == '"':
			c.i = i + 1
			return nil
		case ch == '\\':
			i++
			if i >= len(b) {
				c.i = i
				return c.eof()
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				for k := 1; k <= 4; k++ {
					if i+k >= len(b) {
						c.i = i
						return c.eof()
					}
					if !isHex(b[i+k]) {
						c.i = i + k
						return c.fail("invalid \\u escape in string")
					}
				}
				i += 5
			default:
				c.i = i
				return c.fail(fmt.Sprintf("invalid escape %q in string", b[i]))
			}
		case ch < 0x20:
			c.i = i
			return c.fail("control character in string")
		default: // the first byte of a multi-byte sequence, or not UTF-8
			if !c.utf8 {
				i++
				continue
			}
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				c.i = i
				return &jsonSyntaxError{off: i, badUTF8: true}
			}
			i += n
		}
	}
}

func (c *checker) literal(lit string) *jsonSyntaxError {
	if !bytes.HasPrefix(c.b[c.i:], []byte(lit)) {
		if len(c.b)-c.i < len(lit) && bytes.HasPrefix([]byte(lit), c.b[c.i:]) {
			c.i = len(c.b)
			return c.eof()
		}
		return c.fail("invalid literal")
	}
	c.i += len(lit)
	return nil
}

func (c *checker) number() *jsonSyntaxError {
	if c.b[c.i] == '-' {
		c.i++
	}
	if c.i >= len(c.b) {
		return c.eof()
	}
	switch {
	case c.b[c.i] == '0':
		c.i++
	case isDigit(c.b[c.i]):
		for c.i < len(c.b) && isDigit(c.b[c.i]) {
			c.i++
		}
	default:
		return c.fail("invalid number")
	}
	if c.i < len(c.b) && c.b[c.i] == '.' {
		c.i++
		if c.i >= len(c.b) {
			return c.eof()
		}
		if !isDigit(c.b[c.i]) {
			return c.fail("invalid number: no digit after the decimal point")
		}
		for c.i < len(c.b) && isDigit(c.b[c.i]) {
			c.i++
		}
	}
	if c.i < len(c.b) && (c.b[c.i] == 'e' || c.b[c.i] == 'E') {
		c.i++
		if c.i < len(c.b) && (c.b[c.i] == '+' || c.b[c.i] == '-') {
			c.i++
		}
		if c.i >= len(c.b) {
			return c.eof()
		}
		if !isDigit(c.b[c.i]) {
			return c.fail("invalid number: no digit in the exponent")
		}
		for c.i < len(c.b) && isDigit(c.b[c.i]) {
			c.i++
		}
	}
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// jsonKind is the type of a JSON value.
type jsonKind uint8

const (
	jsonInvalid jsonKind = iota
	jsonNull
	jsonBool
	jsonNumber
	jsonString
	jsonObject
	jsonArray
)

// kindOf returns the type of the checked JSON value v (no surrounding whitespace).
func kindOf(v []byte) jsonKind {
	if len(v) == 0 {
		return jsonInvalid
	}
	switch c := v[0]; {
	case c == 'n':
		return jsonNull
	case c == 't' || c == 'f':
		return jsonBool
	case c == '"':
		return jsonString
	case c == '{':
		return jsonObject
	case c == '[':
		return jsonArray
	case c == '-' || isDigit(c):
		return jsonNumber
	}
	return jsonInvalid
}

// String names the kind for error details: "got an array".
func (k jsonKind) String() string {
	switch k {
	case jsonNull:
		return "null"
	case jsonBool:
		return "a boolean"
	case jsonNumber:
		return "a number"
	case jsonString:
		return "a string"
	case jsonObject:
		return "an object"
	case jsonArray:
		return "an array"
	}
	return "nothing"
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// trimWS returns b without surrounding JSON whitespace.
func trimWS(b []byte) []byte {
	b = b[skipWS(b, 0):]
	for len(b) > 0 {
		switch b[len(b)-1] {
		case ' ', '\t', '\n', '\r':
			b = b[:len(b)-1]
		default:
			return b
		}
	}
	return b
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	i++
	for {
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			// As in specialLanes: the lowest flagged lane is the first quote or backslash.
			if m := ((w ^ lanesQu - lanes01) | (w ^ lanesBs - lanes01)) &^ w & lanes80; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(b) && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) {
			return len(b)
		}
		if b[i] == '"' {
			return i + 1
		}
		i += 2 // an escape: the byte after the backslash is not a quote that ends the string
	}
}

// containerSpecial marks the bytes skipValue stops at inside an object or array.
// Never modified.
var containerSpecial = func() (t [256]bool) {
	for _, c := range `"{}[]` {
		t[c] = true
	}
	return t
}()

// skipValue returns the index just past the checked JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			for i < len(b) && !containerSpecial[b[i]] {
				i++
			}
			if i >= len(b) {
				break
			}
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			default: // '}', ']'
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default: // number or literal
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// index is the structural index of a checked value, recorded by checkJSONTop: for every
// object and array, in the order they open, where it starts and ends. The readers skip a
// nested object or array with one look-up instead of a scan of its bytes, so that each
// byte of a value is read about once however deep the decoders go. A nil *index, or a
// span that is not part of the indexed value, falls back to scanning.
type index struct {
	base []byte      // the indexed value; nil if none
	tape []tapeEntry // its containers in the order they open (so by start)
}

// tapeEntry is one object or array of an indexed value: the offsets of its opening
// bracket and just past its closing one, and the tape position after its descendants.
type tapeEntry struct {
	start, end, next int32
}

// find returns the tape position of the object or array v, a span of ix.base; ok is
// false if v is not one.
func (ix *index) find(v []byte) (int, bool) {
	if ix == nil || len(v) == 0 || len(ix.base) == 0 {
		return 0, false
	}
	off := cap(ix.base) - cap(v) // v = ix.base[off:...] shares ix.base's array
	if off < 0 || off >= len(ix.base) || &ix.base[off] != &v[0] {
		return 0, false
	}
	tape := ix.tape
	lo, hi := 0, len(tape)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if int(tape[mid].start) < off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(tape) && int(tape[lo].start) == off && int(tape[lo].end)-off == len(v) {
		return lo, true
	}
	return 0, false
}

// cursor skips the values of one object or array: through the tape when it has one,
// else by scanning.
type cursor struct {
	tape  []tapeEntry // nil: scan
	t     int         // tape position of the next nested container
	delta int         // offset of the walked span in the indexed value
}

func (ix *index) cursor(v []byte) cursor {
	t, ok := ix.find(v)
	if !ok {
		return cursor{}
	}
	return cursor{tape: ix.tape, t: t + 1, delta: int(ix.tape[t].start)}
}

// skip returns the index just past the value starting at b[i], b being the walked span.
func (c *cursor) skip(b []byte, i int) int {
	if c.tape != nil && i < len(b) && (b[i] == '{' || b[i] == '[') && c.t < len(c.tape) {
		if e := c.tape[c.t]; int(e.start) == c.delta+i && int(e.end)-c.delta <= len(b) {
			c.t = int(e.next)
			return int(e.end) - c.delta
		}
		c.tape = nil // out of step: scan from here on
	}
	return skipValue(b, i)
}

// members walks the members of a checked JSON object:
//
//	for m := newMembers(obj); m.next(); { switch string(m.key()) { ... } }
//
// It holds offsets rather than slices of obj, so that walking stores no pointer into the
// value: the cursor's tape can then stay on Decode's stack.
type members struct {
	b      []byte
	i      int
	ks, ke int    // the current member's name: b[ks:ke], raw
	vs, ve int    // and value: b[vs:ve]
	ukey   []byte // the name unescaped, if it has escapes
	c      cursor
}

// key returns the current member's name, unescaped.
func (m *members) key() []byte {
	if m.ukey != nil {
		return m.ukey
	}
	return m.b[m.ks:m.ke]
}

// val returns the current member's raw value.
func (m *members) val() []byte { return m.b[m.vs:m.ve] }

func newMembers(obj []byte) members { return (*index)(nil).members(obj) }

// members is newMembers that skips nested values through ix.
func (ix *index) members(obj []byte) members {
	if kindOf(obj) != jsonObject {
		return members{}
	}
	return members{b: obj, i: 1, c: ix.cursor(obj)}
}

func (m *members) next() bool {
	b := m.b
	i := skipWS(b, m.i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		m.i = len(b)
		return false
	}
	end := skipString(b, i)
	if end-1 <= i {
		m.i = len(b)
		return false
	}
	m.ks, m.ke, m.ukey = i+1, end-1, nil
	if bytes.IndexByte(b[i+1:end-1], '\\') >= 0 {
		m.ukey = unescape(b[i+1 : end-1])
	}
	i = skipWS(b, end)
	if i >= len(b) || b[i] != ':' {
		m.i = len(b)
		return false
	}
	i = skipWS(b, i+1)
	vend := m.c.skip(b, i)
	m.vs, m.ve, m.i = i, vend, vend
	return vend > i
}

// elements walks the elements of a checked JSON array:
//
//	for e := newElements(arr); e.next(); { use(e.n, e.val()) }
type elements struct {
	b      []byte
	i      int
	n      int // index of the current element, from 0
	vs, ve int // the current element: b[vs:ve]
	c      cursor
}

// val returns the current element.
func (e *elements) val() []byte { return e.b[e.vs:e.ve] }

func newElements(arr []byte) elements { return (*index)(nil).elements(arr) }

// elements is newElements that skips nested values through ix.
func (ix *index) elements(arr []byte) elements {
	if kindOf(arr) != jsonArray {
		return elements{}
	}
	return elements{b: arr, i: 1, n: -1, c: ix.cursor(arr)}
}

func (e *elements) next() bool {
	b := e.b
	i := skipWS(b, e.i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] == ']' {
		e.i = len(b)
		return false
	}
	end := e.c.skip(b, i)
	e.vs, e.ve, e.i = i, end, end
	e.n++
	return end > i
}

// count returns the number of elements of the checked JSON array arr.
func count(arr []byte) int {
	n := 0
	for e := newElements(arr); e.next(); {
		n++
	}
	return n
}

// unquote returns the string value of the checked JSON string v (with its quotes).
func unquote(v []byte) string {
	if len(v) < 2 {
		return ""
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s)
	}
	return string(unescape(s))
}

// unescape decodes the escapes of the inside of a JSON string. Lone surrogates become
// U+FFFD, as encoding/json does.
func unescape(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(s) {
			break
		}
		switch s[i+1] {
		case '"', '\\', '/':
			out = append(out, s[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				return out
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(-1), false
				if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2, ok2 = hex4(s, i+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
					i += 6
					r = dec
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		}
		i += 2
	}
	return out
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case isDigit(c):
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// quoteForDetail renders a raw JSON value for an error detail, shortened to a readable
// length.
func quoteForDetail(v []byte) string {
	const max = 64
	if len(v) <= max {
		return string(v)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return string(v[:cut]) + "…"
}
