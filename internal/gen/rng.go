package gen

// rng is a splitmix64 generator: tiny, fast, and good enough for synthetic data. Every
// random choice of the package draws from one; independent streams are derived with
// mix, so that a value (a contact's name, an order's line items) can be drawn again
// from its seed alone.
type rng struct{ s uint64 }

func newRNG(seed uint64) rng { return rng{s: seed} }

// u64 returns the next 64 random bits.
func (r *rng) u64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix(r.s)
}

// mix is the splitmix64 finalizer: a bijective scramble of x.
func mix(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// derive returns a seed for the sub-stream named by a and b of seed.
func derive(seed uint64, a, b uint64) uint64 {
	return mix(seed ^ mix(a+0x632be59bd9b4e019) ^ mix(b*0x9e3779b97f4a7c15+0x85157af5))
}

// intn returns a value in [0, n); n must be in (0, 2^32].
func (r *rng) intn(n int) int {
	return int((r.u64() >> 32 * uint64(n)) >> 32)
}

// int64n returns a value in [0, n); n > 0.
func (r *rng) int64n(n int64) int64 {
	return int64(r.u64() % uint64(n))
}

// between returns a value in [lo, hi]; lo <= hi.
func (r *rng) between(lo, hi int64) int64 {
	return lo + r.int64n(hi-lo+1)
}

// float returns a value in [0, 1).
func (r *rng) float() float64 {
	return float64(r.u64()>>11) / (1 << 53)
}

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// pick returns an index drawn from cumulative weights cum (strictly increasing, last
// element the total).
func (r *rng) pick(cum []uint32) int {
	x := uint32(r.intn(int(cum[len(cum)-1])))
	lo, hi := 0, len(cum)-1
	for lo < hi {
		m := (lo + hi) / 2
		if cum[m] > x {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// cumulative turns weights into the cumulative form pick takes.
func cumulative(w ...uint32) []uint32 {
	c := make([]uint32, len(w))
	var s uint32
	for i, x := range w {
		s += x
		c[i] = s
	}
	return c
}
