package market

import (
	"math"
	"sort"
)

// Small statistics helpers for the model tests.

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func stddev(xs []float64) float64 {
	m := mean(xs)
	var s float64
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(xs)))
}

// excessKurtosis returns the sample excess kurtosis (0 for a normal).
func excessKurtosis(xs []float64) float64 {
	m := mean(xs)
	var m2, m4 float64
	for _, x := range xs {
		d := (x - m) * (x - m)
		m2 += d
		m4 += d * d
	}
	n := float64(len(xs))
	m2, m4 = m2/n, m4/n
	return m4/(m2*m2) - 3
}

// autocorr returns the lag-k sample autocorrelation of xs.
func autocorr(xs []float64, k int) float64 {
	m := mean(xs)
	var num, den float64
	for i, x := range xs {
		d := x - m
		den += d * d
		if i >= k {
			num += d * (xs[i-k] - m)
		}
	}
	return num / den
}

// correlation returns Pearson's correlation of equally long xs and ys.
func correlation(xs, ys []float64) float64 {
	mx, my := mean(xs), mean(ys)
	var sxy, sxx, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	return sxy / math.Sqrt(sxx*syy)
}

func logRatio(a, b float64) float64 { return math.Log(a / b) }

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
