package gen

// profile is the stable personal data of a contact, drawn again from its seed
// whenever a record needs it, so that contacts cost a few words of memory.
type profile struct {
	home     *country // where the phone number is from
	first    *name
	last     *name
	email    []byte
	phone    []byte // nil: no phone
	phoneOK  bool   // phone carries a + calling code
	locale   string
	street   string
	number   int64
	interior int64 // 0: none
	cityIdx  int
	zip      []byte
	company  string
	note     string
	state    string
	verified bool
	addrID   int64
}

// phone styles, by share of contacts.
var phoneStyles = cumulative(
	620, // international with spaces: "+52 55 1234 5678"
	120, // compact E.164: "+525512345678"
	90,  // national, no calling code: "55 1234 5678" (CUSTOMER_IS_MISSING_CALLING_CODE)
	30,  // "00" international prefix: "0052 5512345678" (also missing the +)
	140, // no phone
)

const (
	phoneIntl = iota
	phoneCompact
	phoneNational
	phoneZeroZero
	phoneNone
)

// homeCountry is the first draw of a contact's profile: its home market.
func homeCountry(w *workspace, seed uint64) int {
	r := newRNG(derive(seed, 'f', 0))
	return r.pick(w.countryCum)
}

// profile fills p for c. Only the address follows c.country, which can change.
func (w *workspace) profile(c *contact, p *profile) {
	r := newRNG(derive(c.seed, 'f', 0))
	p.home = &countries[r.pick(w.countryCum)] // = homeCountry
	p.first = &firstNames[r.intn(len(firstNames))]
	p.last = &lastNames[r.intn(len(lastNames))]

	p.email = p.email[:0]
	switch r.intn(4) {
	case 0:
		p.email = append(p.email, p.first.ascii...)
		p.email = append(p.email, '.')
		p.email = append(p.email, p.last.ascii...)
	case 1:
		p.email = append(p.email, p.first.ascii...)
		p.email = append(p.email, '_')
		p.email = append(p.email, p.last.ascii...)
		p.email = appendInt(p.email, r.between(1, 99))
	case 2:
		p.email = append(p.email, p.first.ascii[0])
		p.email = append(p.email, p.last.ascii...)
		p.email = appendInt(p.email, r.between(1, 999))
	default:
		p.email = append(p.email, p.last.ascii...)
		p.email = append(p.email, '.')
		p.email = append(p.email, p.first.ascii...)
		p.email = appendInt(p.email, r.between(1960, 2006))
	}
	p.email = append(p.email, '@')
	p.email = append(p.email, p.home.emailDomain[r.intn(len(p.home.emailDomain))]...)

	digits := r.u64()
	p.phone = p.phone[:0]
	p.phoneOK = false
	switch r.pick(phoneStyles) {
	case phoneIntl:
		p.phone = fillDigits(p.phone, p.home.phoneIntl[r.intn(len(p.home.phoneIntl))], digits)
		p.phoneOK = true
	case phoneCompact:
		p.phone = fillDigits(p.phone, p.home.phoneIntl[0], digits)
		p.phone = compact(p.phone)
		p.phoneOK = true
	case phoneNational:
		p.phone = fillDigits(p.phone, p.home.phoneNat, digits)
	case phoneZeroZero:
		p.phone = fillDigits(p.phone, p.home.phoneIntl[0], digits)
		p.phone = compact(p.phone) // "+52…"
		p.phone = append(p.phone, 0)
		copy(p.phone[2:], p.phone[1:])
		p.phone[0], p.phone[1] = '0', '0' // "0052…"
	default:
		p.phone = nil
	}

	loc := r.intn(len(p.home.locales))
	p.locale = p.home.locales[loc]
	p.street = streets[r.intn(len(streets))]
	p.number = r.between(1, 2999)
	p.interior = 0
	if r.chance(0.35) {
		p.interior = r.between(1, 40)
	}
	p.cityIdx = r.intn(1 << 16)
	zipDigits := r.u64()
	p.company = companies[r.intn(len(companies))]
	p.note = notes[r.intn(len(notes))]
	switch x := r.intn(100); {
	case x < 70:
		p.state = "enabled"
	case x < 90:
		p.state = "disabled"
	default:
		p.state = "invited"
	}
	p.verified = r.chance(0.85)
	p.addrID = 9_100_000_000_000 + int64(r.u64()%1_000_000_000_000)
	cc := &countries[c.country]
	p.zip = fillDigits(p.zip[:0], cc.cities[p.cityIdx%len(cc.cities)].zipFmt, zipDigits)
}

// city returns the contact's city in its current country.
func (p *profile) city(cc *country) *city { return &cc.cities[p.cityIdx%len(cc.cities)] }

// fillDigits appends pattern with each '#' replaced by a digit of digits (the first one
// 2–9, as area codes are).
func fillDigits(b []byte, pattern string, digits uint64) []byte {
	first := true
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '#' {
			b = append(b, c)
			continue
		}
		d := byte(digits % 10)
		digits = digits/10 ^ digits<<59
		if first {
			d = 2 + d%8
			first = false
		}
		b = append(b, '0'+d)
	}
	return b
}

// compact removes everything but digits and '+' from b, in place.
func compact(b []byte) []byte {
	out := b[:0]
	for _, c := range b {
		if c == '+' || ('0' <= c && c <= '9') {
			out = append(out, c)
		}
	}
	return out
}
