package semmutex

// The bounded buffer that producer and consumer share: a ring of Slots slots in one System V
// segment, and the set of three semaphores that guards it. This is the part of the "header"
// that both programs must agree on byte for byte.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The ring's layout in the segment, in the machine's byte order, as this C struct:
//
//	struct ring {
//		uint32_t head;                 /* next slot to take, 0..SLOTS-1 */
//		uint32_t tail;                 /* next slot to put, 0..SLOTS-1 */
//		struct {
//			uint32_t len;          /* bytes of data used, or END */
//			char     data[ITEM_SIZE];
//		} slot[SLOTS];
//	};
//
// head and tail are read and written only with the mutex held; which slots hold items is told
// by the counting semaphores, not by the indices.
const (
	Slots    = 8                  // slots in the ring: far fewer than the items that go through it
	ItemSize = 256                // the largest item, in bytes
	slotSize = 4 + ItemSize       // a slot: its length word, then its data
	SegSize  = 8 + Slots*slotSize // the segment: head, tail, the slots
	End      = ^uint32(0)         // the length word of the end marker
	headOff  = 0                  // offset of head
	tailOff  = 4                  // offset of tail
	slotsOff = 8                  // offset of slot 0
)

// The semaphores of the set, by number, and their first values.
const (
	SemMutex = 0 // 1: the mutex for head and tail, taken and released with SEM_UNDO
	SemEmpty = 1 // Slots: free slots; the producer takes one, the consumer gives one back
	SemFull  = 2 // 0: slots with an item; the consumer takes one, the producer gives one
)

// InitialValues are the values the creator of the set gives it.
var InitialValues = []uint16{SemMutex: 1, SemEmpty: Slots, SemFull: 0}

// PutItem writes item (or the end marker, if end) in the slot at tail and advances tail. Call it
// with the mutex held, after taking an empty slot.
func PutItem(seg []byte, item []byte, end bool) error {
	if len(item) > ItemSize {
		return fmt.Errorf("an item is %d bytes, more than %d", len(item), ItemSize)
	}
	tail := binary.NativeEndian.Uint32(seg[tailOff:])
	if tail >= Slots {
		return fmt.Errorf("the ring's tail is %d, not 0 to %d: the segment is not a ring of this program", tail, Slots-1)
	}
	slot := seg[slotsOff+int(tail)*slotSize:][:slotSize]
	n := uint32(len(item))
	if end {
		n = End
	}
	binary.NativeEndian.PutUint32(slot, n)
	copy(slot[4:], item)
	binary.NativeEndian.PutUint32(seg[tailOff:], (tail+1)%Slots)
	return nil
}

// TakeItem copies the item of the slot at head and advances head; end says it was the end
// marker. Call it with the mutex held, after taking a full slot.
func TakeItem(seg []byte) (item []byte, end bool, err error) {
	head := binary.NativeEndian.Uint32(seg[headOff:])
	if head >= Slots {
		return nil, false, fmt.Errorf("the ring's head is %d, not 0 to %d: the segment is not a ring of this program", head, Slots-1)
	}
	slot := seg[slotsOff+int(head)*slotSize:][:slotSize]
	n := binary.NativeEndian.Uint32(slot)
	binary.NativeEndian.PutUint32(seg[headOff:], (head+1)%Slots)
	if n == End {
		return nil, true, nil
	}
	if n > ItemSize {
		return nil, false, fmt.Errorf("slot %d holds a length of %d, more than %d: the segment is not a ring of this program", head, n, ItemSize)
	}
	return append([]byte(nil), slot[4:4+n]...), false, nil
}

// OpenSegment returns the id of the ring's segment at key, and whether it created it. It creates
// it with IPC_CREAT|IPC_EXCL and Mode (a new segment is all zeros: head = tail = 0, an empty
// ring), or finds the one there and refuses it unless it is ours alone (the same three checks as
// CheckOwner: our uid, our cuid, nothing for group or others) and large enough.
func OpenSegment(key uint32) (id int, created bool, err error) {
	for {
		id, err = unix.SysvShmGet(SemKey(key), SegSize, unix.IPC_CREAT|unix.IPC_EXCL|Mode)
		if err == nil {
			return id, true, nil
		}
		if !errors.Is(err, unix.EEXIST) {
			return -1, false, fmt.Errorf("shmget key 0x%08x: %w", key, err)
		}
		id, err = unix.SysvShmGet(SemKey(key), 0, 0)
		if errors.Is(err, unix.ENOENT) {
			continue // removed between the two calls: try to create it again
		}
		if err != nil {
			return -1, false, fmt.Errorf("shmget key 0x%08x: %w", key, err)
		}
		var ds unix.SysvShmDesc
		if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); errors.Is(err, unix.EACCES) {
			return -1, false, fmt.Errorf("shmctl IPC_STAT key 0x%08x (shmid %d): %w: the segment is another user's, and not ours to use (see ipcs -m; pass another -key or -path/-proj)", key, id, err)
		} else if err != nil {
			return -1, false, fmt.Errorf("shmctl IPC_STAT key 0x%08x (shmid %d): %w", key, id, err)
		}
		perm := &ds.Perm
		euid := os.Geteuid()
		switch {
		case int(perm.Uid) != euid:
			return -1, false, fmt.Errorf("segment key 0x%08x (shmid %d) belongs to uid %d, not to you (uid %d); refusing to use it (pass another -key or -path/-proj)", key, id, perm.Uid, euid)
		case int(perm.Cuid) != euid:
			return -1, false, fmt.Errorf("segment key 0x%08x (shmid %d) was created by uid %d, not by you (uid %d), and its creator may change its owner and mode at any time; refusing to use it (pass another -key or -path/-proj)", key, id, perm.Cuid, euid)
		case perm.Mode&0o077 != 0:
			return -1, false, fmt.Errorf("segment key 0x%08x (shmid %d) has mode %04o, which lets group or others use it; refusing to use it (remove it: ipcrm -m %d, or pass another -key or -path/-proj)", key, id, perm.Mode&0o777, id)
		case ds.Segsz < SegSize:
			return -1, false, fmt.Errorf("segment key 0x%08x (shmid %d) is %d bytes, smaller than a ring (%d); it is not one of ours (remove it: ipcrm -m %d, or pass another -key or -path/-proj)", key, id, ds.Segsz, SegSize, id)
		}
		return id, false, nil
	}
}
