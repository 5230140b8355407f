//go:build linux

package main

import (
	"math"
	"math/bits"
	"slices"
	"sort"
	"sync/atomic"
	"time"
)

// Histogram is a concurrent log-linear histogram of non-negative int64
// values (nanoseconds here). Values below 512 are exact; above, each power of
// two is split into 256 buckets, so a reported quantile is within 0.4% of the
// true one. Min, max, count and sum are exact. Recording is one atomic add
// per field, so every connection goroutine can record into one histogram.
type Histogram struct {
	counts   [histBuckets]atomic.Uint64
	n        atomic.Uint64
	sum      atomic.Int64
	max      atomic.Int64
	min      atomic.Int64 // stored as min+1 so that 0 means "unset"
	negative atomic.Uint64
}

const (
	histSubBits = 9
	histSub     = 1 << histSubBits // 512
	histHalf    = histSub / 2      // buckets per power of two
	histBuckets = (64-histSubBits)*histHalf + histSub
)

func histIndex(v int64) int {
	u := uint64(v)
	if u < histSub {
		return int(u)
	}
	l := bits.Len64(u) // >= 10
	shift := l - histSubBits
	top := u >> uint(shift) // in [256, 511]
	return shift*histHalf + int(top)
}

// histBounds returns the smallest and largest value of bucket i.
func histBounds(i int) (lo, hi int64) {
	if i < histSub {
		return int64(i), int64(i)
	}
	shift := i/histHalf - 1
	top := uint64(i - shift*histHalf)
	return int64(top << uint(shift)), int64((top+1)<<uint(shift)) - 1
}

// Record adds one value; negative values (a clock step) count as 0 and are
// counted apart.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		h.negative.Add(1)
		v = 0
	}
	h.counts[histIndex(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
	for {
		m := h.min.Load()
		if (m != 0 && v+1 >= m) || h.min.CompareAndSwap(m, v+1) {
			break
		}
	}
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Max is the largest recorded value (0 when empty).
func (h *Histogram) Max() int64 { return h.max.Load() }

// Min is the smallest recorded value (0 when empty).
func (h *Histogram) Min() int64 {
	if m := h.min.Load(); m > 0 {
		return m - 1
	}
	return 0
}

// Mean is the exact mean (0 when empty).
func (h *Histogram) Mean() float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}

// Quantile returns the nearest-rank q-quantile (0 < q <= 1): the middle of
// the bucket holding the ceil(q*n)-th smallest value, clamped to [min, max].
// It must not race with Record for a meaningful answer.
func (h *Histogram) Quantile(q float64) int64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := nearestRank(q, int(n))
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= uint64(rank) {
			lo, hi := histBounds(i)
			v := lo + (hi-lo)/2
			return min(max(v, h.Min()), h.Max())
		}
	}
	return h.Max()
}

// nearestRank is the 1-based rank of the q-quantile of n values.
func nearestRank(q float64, n int) int {
	r := int(math.Ceil(q * float64(n)))
	return min(max(r, 1), n)
}

// Percentile returns the exact nearest-rank q-quantile of sorted values.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[nearestRank(q, len(sorted))-1]
}

// SortDurations sorts in place and returns its argument.
func SortDurations(d []time.Duration) []time.Duration {
	slices.Sort(d)
	return d
}

// span is a closed range of sequence numbers.
type span struct{ lo, hi uint64 }

// SeqTracker follows one connection's sequence numbers on one stream
// (1, 2, 3, ...), in O(1) per in-order message and without per-message
// memory: it keeps the highest number seen and the holes below it.
//
//   - a number above max+1 opens a hole (max+1 .. n-1);
//   - a number inside a hole is out of order: delivered late, not lost;
//   - a number at or below max that is in no hole is a duplicate.
//
// Lost messages are the holes left at the end plus everything above max
// that the stream was expected to carry.
type SeqTracker struct {
	max        uint64
	distinct   uint64
	dups       uint64
	outOfOrder uint64
	holes      []span // sorted, disjoint
}

// Add records one received sequence number (>= 1) and reports whether it was
// new (not a duplicate).
func (t *SeqTracker) Add(seq uint64) bool {
	switch {
	case seq == 0:
		t.dups++ // not a valid number: count it as a duplicate of nothing
		return false
	case seq == t.max+1:
		t.max = seq
	case seq > t.max+1:
		t.holes = append(t.holes, span{t.max + 1, seq - 1})
		t.max = seq
	default:
		i := sort.Search(len(t.holes), func(i int) bool { return t.holes[i].hi >= seq })
		if i == len(t.holes) || t.holes[i].lo > seq {
			t.dups++
			return false
		}
		t.outOfOrder++
		h := t.holes[i]
		switch {
		case h.lo == h.hi:
			t.holes = slices.Delete(t.holes, i, i+1)
		case seq == h.lo:
			t.holes[i].lo++
		case seq == h.hi:
			t.holes[i].hi--
		default:
			t.holes[i].hi = seq - 1
			t.holes = slices.Insert(t.holes, i+1, span{seq + 1, h.hi})
		}
	}
	t.distinct++
	return true
}

// Distinct is the number of different sequence numbers received.
func (t *SeqTracker) Distinct() uint64 { return t.distinct }

// Duplicates is the number of receptions of an already received number.
func (t *SeqTracker) Duplicates() uint64 { return t.dups }

// OutOfOrder is the number of receptions that came after a higher number.
func (t *SeqTracker) OutOfOrder() uint64 { return t.outOfOrder }

// Max is the highest number received.
func (t *SeqTracker) Max() uint64 { return t.max }

// Received reports whether seq was received.
func (t *SeqTracker) Received(seq uint64) bool {
	if seq == 0 || seq > t.max {
		return false
	}
	i := sort.Search(len(t.holes), func(i int) bool { return t.holes[i].hi >= seq })
	return i == len(t.holes) || t.holes[i].lo > seq
}

// Lost counts the numbers 1..expected that were not received, leaving out
// those for which skip returns true (publications that failed, so that no
// delivery was owed). Numbers above expected that were received are not
// counted here.
func (t *SeqTracker) Lost(expected uint64, skip []uint64) uint64 {
	var lost uint64
	for _, h := range t.holes {
		if h.lo > expected {
			break
		}
		lost += min(h.hi, expected) - h.lo + 1
	}
	if expected > t.max {
		lost += expected - t.max
	}
	for _, s := range skip {
		if s >= 1 && s <= expected && !t.Received(s) {
			lost--
		}
	}
	return lost
}
