package semmutex_test

import (
	"encoding/binary"
	"strconv"
	"testing"

	semmutex "example.com/ipc/04-semaphore-mutex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Items go through the ring in order, around it several times, and the end marker comes out as
// one; the indices stay within the ring.
func TestRingRoundTrip(t *testing.T) {
	seg := make([]byte, semmutex.SegSize) // a new segment is all zeros: an empty ring
	for i := 0; i < 3*semmutex.Slots; i++ {
		require.NoError(t, semmutex.PutItem(seg, []byte("item "+strconv.Itoa(i)), false))
		item, end, err := semmutex.TakeItem(seg)
		require.NoError(t, err)
		assert.False(t, end)
		assert.Equal(t, "item "+strconv.Itoa(i), string(item))
	}
	// A full ring: Slots items in, then out in order; an empty item and one of ItemSize bytes.
	long := make([]byte, semmutex.ItemSize)
	for i := range long {
		long[i] = 'x'
	}
	want := [][]byte{{}, long}
	for i := 2; i < semmutex.Slots-1; i++ {
		want = append(want, []byte{byte('a' + i)})
	}
	for _, it := range want {
		require.NoError(t, semmutex.PutItem(seg, it, false))
	}
	require.NoError(t, semmutex.PutItem(seg, nil, true))
	for _, it := range want {
		item, end, err := semmutex.TakeItem(seg)
		require.NoError(t, err)
		assert.False(t, end)
		assert.Equal(t, string(it), string(item))
	}
	_, end, err := semmutex.TakeItem(seg)
	require.NoError(t, err)
	assert.True(t, end)

	assert.Error(t, semmutex.PutItem(seg, append(long, 'y'), false), "one byte more than a slot")
}

// A segment that is not a ring of ours (indices or a length out of range) is an error, never an
// index out of range.
func TestRingRefusesGarbage(t *testing.T) {
	seg := make([]byte, semmutex.SegSize)
	binary.NativeEndian.PutUint32(seg[0:], semmutex.Slots) // head
	_, _, err := semmutex.TakeItem(seg)
	assert.ErrorContains(t, err, "the ring's head is 8")
	binary.NativeEndian.PutUint32(seg[4:], 99) // tail
	assert.ErrorContains(t, semmutex.PutItem(seg, nil, false), "the ring's tail is 99")

	seg = make([]byte, semmutex.SegSize)
	binary.NativeEndian.PutUint32(seg[8:], semmutex.ItemSize+1) // slot 0's length
	_, _, err = semmutex.TakeItem(seg)
	assert.ErrorContains(t, err, "holds a length of 257")
}
