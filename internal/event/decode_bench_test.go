package event

import "testing"

func BenchmarkDecodeUser(b *testing.B) {
	v := []byte(readTestdata(b, "user_v1.json"))
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := DecodeUser(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeAlert(b *testing.B) {
	v := []byte(readTestdata(b, "alert_v1.json"))
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := DecodeAlert(v); err != nil {
			b.Fatal(err)
		}
	}
}
