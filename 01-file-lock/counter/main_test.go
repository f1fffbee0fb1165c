package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]uint64{
		"":                       0,
		"0\n":                    0,
		"41\n":                   41,
		"7":                      7,
		"1\n35\n":                1, // stray bytes an unlocked race can leave after the number
		"18446744073709551615\n": 1<<64 - 1,
	} {
		got, err := parse([]byte(in))
		if assert.NoError(t, err, "%q", in) {
			assert.Equal(t, want, got, "%q", in)
		}
	}
	for _, in := range []string{"not a number\n", "\n", " 5\n", "-1\n", "5\r\n", "18446744073709551616\n", "0000000000000000000000000000000"} {
		_, err := parse([]byte(in))
		assert.ErrorContains(t, err, "does not hold a counter", "%q", in)
	}
}
