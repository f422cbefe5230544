package gen

import (
	"github.com/segmentd/segmentd/internal/jsonenc"
	"strconv"
)

// Append helpers: the renderers build JSON by appending to a reused buffer, never
// through encoding/json, so that a record costs a few hundred nanoseconds.

// appendStr appends s as a JSON string, escaped as encoding/json does.
func appendStr(b []byte, s string) []byte { return jsonenc.AppendString(b, s) }

const hexDigits = "0123456789abcdef"

// appendMoney appends cents as a decimal with two fraction digits, unquoted: 12990 →
// 129.90. cents must not be negative.
func appendMoney(b []byte, cents int64) []byte {
	b = strconv.AppendInt(b, cents/100, 10)
	c := cents % 100
	return append(b, '.', byte('0'+c/10), byte('0'+c%10))
}

// appendMoneyStr appends cents as a JSON string, as Shopify writes prices: "129.90".
func appendMoneyStr(b []byte, cents int64) []byte {
	b = append(b, '"')
	b = appendMoney(b, cents)
	return append(b, '"')
}

// appendMoneySet appends a Shopify money set: shop money in currency shop, presentment
// money converted to the currency of cc.
func appendMoneySet(b []byte, cents int64, shop string, cc *country) []byte {
	b = append(b, `{"shop_money":{"amount":`...)
	b = appendMoneyStr(b, cents)
	b = append(b, `,"currency_code":"`...)
	b = append(b, shop...)
	b = append(b, `"},"presentment_money":{"amount":`...)
	b = appendMoneyStr(b, cc.present(cents))
	b = append(b, `,"currency_code":"`...)
	b = append(b, cc.currency...)
	return append(b, `"}}`...)
}

// appendInt appends v in decimal.
func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// appendUUID appends a random version 4 UUID, unquoted.
func appendUUID(b []byte, r *rng) []byte {
	hi, lo := r.u64(), r.u64()
	hi = hi&^(0xf<<12) | 4<<12   // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // variant 10
	var buf [36]byte
	const dash = 1<<8 | 1<<13 | 1<<18 | 1<<23
	v := [2]uint64{hi, lo}
	n := 0
	for i := 0; i < 36; i++ {
		if dash>>i&1 == 1 {
			buf[i] = '-'
			continue
		}
		w := v[n/16]
		buf[i] = hexDigits[w>>(60-4*(n%16))&0xf]
		n++
	}
	return append(b, buf[:]...)
}

// appendHex appends n random lower-case hex digits (n <= 16).
func appendHex(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, hexDigits[v>>(4*i)&0xf])
	}
	return b
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz"

// appendToken appends n random characters of alnum[:alphabet].
func appendToken(b []byte, r *rng, n, alphabet int) []byte {
	v := r.u64()
	for i := 0; i < n; i++ {
		if i%10 == 9 {
			v = r.u64()
		}
		b = append(b, alnum[int(v%uint64(alphabet))])
		v /= uint64(alphabet)
	}
	return b
}

// Time formats. Times are Unix nanoseconds throughout the package.
const (
	second = int64(1e9)
	minute = 60 * second
	hour   = 60 * minute
	day    = 24 * hour
)

// appendTime appends the RFC 3339 form of the instant ns (Unix nanoseconds) at UTC
// offset off (seconds), with frac fraction digits (0–9), unquoted. A zero offset is
// written "Z" when z is set, else "+00:00".
func appendTime(b []byte, ns int64, off int, frac int, z bool) []byte {
	sec := floorDiv(ns, second)
	nsec := ns - sec*second
	local := sec + int64(off)
	days := floorDiv(local, 86400)
	rem := local - days*86400
	y, m, d := civil(days)
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, int(rem/3600))
	b = append(b, ':')
	b = append2(b, int(rem/60%60))
	b = append(b, ':')
	b = append2(b, int(rem%60))
	if frac > 0 {
		b = append(b, '.')
		div := int64(1e8)
		for i := 0; i < frac; i++ {
			b = append(b, byte('0'+nsec/div%10))
			div /= 10
		}
	}
	if off == 0 && z {
		return append(b, 'Z')
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, sign)
	b = append2(b, off/3600)
	b = append(b, ':')
	return append2(b, off/60%60)
}

// appendTimeStr is appendTime quoted.
func appendTimeStr(b []byte, ns int64, off int, frac int, z bool) []byte {
	b = append(b, '"')
	b = appendTime(b, ns, off, frac, z)
	return append(b, '"')
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000%10), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
// days_from_civil inverse).
func civil(days int64) (year, month, dayOfMonth int) {
	z := days + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}
