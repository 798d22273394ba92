package population

import "math/bits"

// permuter is a keyed bijection of [0, n). It turns counters into numbers
// that look random but never repeat, so phones, e-mail addresses and
// channel user ids of different people never collide by accident (a
// collision would merge two people the truth file keeps apart).
type permuter struct {
	n      uint64 // 0 means the whole 2^bits
	bits   uint
	mask   uint64
	k1, k2 uint64
}

// newPermuter returns a bijection of [0, n) keyed by key; n = 0 means
// [0, 2^64).
func newPermuter(n, key uint64) permuter {
	b := uint(64)
	if n != 0 {
		b = uint(bits.Len64(n - 1))
	}
	b = max(b, 2)
	mask := ^uint64(0)
	if b < 64 {
		mask = 1<<b - 1
	}
	return permuter{n: n, bits: b, mask: mask, k1: splitmix(key), k2: splitmix(key + 1)}
}

// at returns the image of x, which must be below n. Cycle walking keeps the
// result in [0, n): mix is a bijection of [0, 2^bits), so following it from
// x until it lands in [0, n) again is a bijection of [0, n).
func (p permuter) at(x uint64) uint64 {
	for {
		x = p.mix(x)
		if p.n == 0 || x < p.n {
			return x
		}
	}
}

// mix is a bijection of [0, 2^bits): adding a key, multiplying by an odd
// constant and x ^= x>>h (h ≥ 1) are each invertible modulo 2^bits.
func (p permuter) mix(x uint64) uint64 {
	h := max(p.bits/2, 1)
	x = (x + p.k1) & p.mask
	x = (x * 0x9e3779b97f4a7c15) & p.mask
	x ^= x >> h
	x = (x * 0xbf58476d1ce4e5b9) & p.mask
	x ^= x >> h
	x = (x + p.k2) & p.mask
	x = (x * 0x94d049bb133111eb) & p.mask
	x ^= x >> h
	return x
}

// splitmix is the SplitMix64 finalizer, used to derive keys from the seed.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
