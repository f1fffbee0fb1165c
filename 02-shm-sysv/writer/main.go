// Writer puts a message in a System V shared memory segment and exits, leaving the segment for
// the reader: a segment is kernel-persistent, so it outlives the process that made it.
//
// It demonstrates shmget(2) with IPC_CREAT|IPC_EXCL and mode 0600, shmctl(2) IPC_STAT to check
// a segment that already exists (its owner, creator, mode and size), shmat(2), a plain memory
// write, and shmdt(2).
//
// Usage:
//
//	writer [-key K | -path FILE -proj N] [-size BYTES] [message ...]
//
// The message is the arguments joined by spaces or, with none, all of standard input up to end
// of file, less its final newline (the reader prints one). The writer stores it at offset 0
// followed by a NUL byte. The key is -key, or ftok(3) of -path and -proj (by default the
// temporary directory and 'M'). Run the writer first, then the reader, in two terminals:
//
//	terminal 1: go run ./writer hello, shared memory
//	            ipcs -m          (the segment is there, with nobody attached)
//	terminal 2: go run ./reader
//
// The writer creates the segment (mode 0600, -size bytes) or reuses the one that has the key if
// it is ours alone (our uid, our cuid, mode 0600 or narrower: see shmsysv.CheckOwner) and large
// enough; it refuses any other, and leaves it untouched. The reader removes the segment (unless
// it is run with -keep); so may `ipcrm -M KEY`.
//
// The writer's only wait is for standard input. Ctrl-C or SIGTERM ends it: nothing is created,
// and the writer dies of the signal (status 130 or 143), as the shell expects. After that the
// writer does not wait, and finishes its job: the segment holds the whole message, or, if a step
// fails, the segment it created is removed. A closed stderr (writer 2>&1 | head -1) does not
// stop it: SIGPIPE is caught, and the lost line ignored (see exit.go).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"strings"

	shmsysv "example.com/ipc/02-shm-sysv"
	"golang.org/x/sys/unix"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("writer: ")
	keyFlag := flag.String("key", "", "the segment's `key`, decimal or 0x hex (default: ftok of -path and -proj)")
	path := flag.String("path", shmsysv.DefaultPath, "an existing `file` that ftok turns into the key, with -proj")
	proj := flag.Int("proj", shmsysv.DefaultProj, "the ftok project `id`, 1 to 255")
	size := flag.Int("size", shmsysv.DefaultSize, "the size of the segment in `bytes`; the message may be one byte less")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: writer [-key K | -path FILE -proj N] [-size BYTES] [message ...]

Writer stores the message (the arguments joined by spaces, or else standard input less its
final newline) and a NUL byte at offset 0 of the System V shared memory segment with the key,
creating the segment if there is none, and exits. The segment stays until a reader removes it.

Examples, then run the reader in another terminal:
  writer hello, shared memory
  date | writer

Default key: %s

Flags:
`, defaultKey())
		flag.PrintDefaults()
	}
	shmsysv.ParseFlags("writer")
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["key"] && (set["path"] || set["proj"]) {
		log.Print("-key and -path/-proj are two ways to give the key: pass one or the other")
		os.Exit(2)
	}
	var key uint32
	var err error
	if set["key"] {
		key, err = shmsysv.ParseKey(*keyFlag)
	} else {
		err = shmsysv.CheckProj(*proj)
	}
	if err != nil {
		log.Print(err)
		os.Exit(2)
	}
	if *size < 1 {
		log.Printf("-size %d: want 1 byte or more", *size)
		os.Exit(2)
	}
	if !set["key"] {
		if key, err = shmsysv.Ftok(*path, *proj); err != nil {
			log.Printf("%v (ftok needs a file that exists: create it, or pass another -path, or -key)", err)
			os.Exit(1)
		}
	}
	ctx := shmsysv.CatchSignals()

	// The message: the arguments joined by spaces, or else all of standard input but its final
	// newline, so that what the reader prints (the message and a newline) is what came in.
	msg := []byte(strings.Join(flag.Args(), " "))
	if flag.NArg() == 0 {
		if msg, err = readMessage(ctx, *size); err != nil {
			shmsysv.Exit(ctx, err)
		}
		if len(msg) > *size {
			log.Printf("the message on standard input is at least %d bytes; with its NUL it needs at least %d, more than -size %d (pass a larger -size, or a shorter message)", *size, *size+1, *size)
			os.Exit(2)
		}
		msg = bytes.TrimSuffix(msg, []byte("\n"))
	}
	if i := bytes.IndexByte(msg, 0); i >= 0 {
		log.Printf("the message holds a NUL byte at offset %d, where a C reader would stop (pass a message without one)", i)
		os.Exit(2)
	}
	if len(msg)+1 > *size {
		log.Printf("the message is %d bytes; with its NUL it needs %d, more than -size %d (pass -size %d or more, or a shorter message)", len(msg), len(msg)+1, *size, len(msg)+1)
		os.Exit(2)
	}
	err = run(ctx, key, *size, msg)
	shmsysv.Exit(ctx, err)
}

func run(ctx context.Context, key uint32, size int, msg []byte) (err error) {
	// Nothing below waits, so nothing below checks for a signal: the writer finishes its job.
	// But if one has come already (while standard input was read), do nothing.
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted; nothing written")
	}

	// 1. Create the segment, or find the one that already has the key. IPC_EXCL makes the
	// creation fail with EEXIST instead of silently returning an existing segment, so we know
	// which happened. shmget(key, 0, 0) then finds the existing one: size 0 asks for no
	// particular size, and flags 0 for no particular permission (we check both next). If the
	// segment is removed between the two calls, try again.
	var id int
	created := false
	for {
		id, err = unix.SysvShmGet(shmsysv.ShmKey(key), size, unix.IPC_CREAT|unix.IPC_EXCL|shmsysv.Mode)
		if err == nil {
			created = true
			break
		}
		if !errors.Is(err, unix.EEXIST) {
			return shmgetError(key, size, err)
		}
		if id, err = unix.SysvShmGet(shmsysv.ShmKey(key), 0, 0); !errors.Is(err, unix.ENOENT) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("shmget key 0x%08x: %w", key, err)
	}

	// 2. If a later step fails, remove the segment we created, so that a reader does not find
	// an empty one. A segment that existed before is not ours to remove.
	if created {
		defer func() {
			if err != nil {
				unix.SysvShmCtl(id, unix.IPC_RMID, nil)
			}
		}()
		log.Printf("created segment key 0x%08x (shmid %d, %d bytes, mode %04o)", key, id, size, shmsysv.Mode)
	} else {
		// 3. A segment that was there already may be anyone's: IPC_STAT tells its owner, its
		// creator, its mode and its size. Refuse it, before we attach it, if it is not ours
		// alone (CheckOwner says why the creator and the mode count too) or is too small for
		// -size.
		var ds unix.SysvShmDesc
		if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); errors.Is(err, unix.EACCES) {
			return fmt.Errorf("shmctl IPC_STAT key 0x%08x (shmid %d): permission denied (the segment belongs to another user; pass another -key or -path/-proj)", key, id)
		} else if err != nil {
			return fmt.Errorf("shmctl IPC_STAT key 0x%08x (shmid %d): %w", key, id, err)
		}
		if err := shmsysv.CheckOwner(key, id, &ds, os.Geteuid()); err != nil {
			return err
		}
		if ds.Segsz < uint64(size) {
			return fmt.Errorf("segment key 0x%08x (shmid %d) is %d bytes, smaller than -size %d (pass -size %d or less, or remove it: ipcrm -m %d)", key, id, ds.Segsz, size, ds.Segsz, id)
		}
		log.Printf("reusing segment key 0x%08x (shmid %d, %d bytes, mode %04o)", key, id, ds.Segsz, ds.Perm.Mode&0o777)
	}

	// 4. Attach: shmat maps the segment into our address space, and seg is its bytes (all of
	// them: an existing segment may be larger than -size).
	seg, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return fmt.Errorf("shmat key 0x%08x (shmid %d): %w", key, id, err)
	}

	// 5. Write the message and its NUL at offset 0. This is a plain memory write, no system
	// call: every process attached to the segment sees the bytes as they land.
	err = shmsysv.Put(seg, msg)

	// 6. Detach. The segment stays, with nobody attached, until someone removes it.
	if derr := unix.SysvShmDetach(seg); err == nil && derr != nil {
		err = fmt.Errorf("shmdt key 0x%08x (shmid %d): %w", key, id, derr)
	}
	if err != nil {
		return err
	}
	log.Printf("wrote %d bytes and a NUL at offset 0, and detached; the segment stays until a reader removes it", len(msg))
	return nil
}

// readMessage reads standard input up to its end, but no more than size+1 bytes: one more than
// the segment holds, enough to know that the message (and a final newline) does not fit. The
// read waits, for a person to type or a pipe to be written, and a signal does not end a read(2)
// that the kernel restarts after it (SA_RESTART): so it runs in a goroutine, and Ctrl-C stops
// our wait for it.
func readMessage(ctx context.Context, size int) ([]byte, error) {
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		log.Print("reading the message from standard input (end it with Ctrl-D)...")
	}
	type result struct {
		msg []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		msg, err := io.ReadAll(io.LimitReader(os.Stdin, int64(min(size, math.MaxInt-1))+1))
		done <- result{msg, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("read standard input: %w", r.err)
		}
		return r.msg, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("interrupted while reading the message from standard input; nothing written")
	}
}

// shmgetError explains why shmget could not create a segment.
func shmgetError(key uint32, size int, err error) error {
	switch err {
	case unix.EINVAL:
		return fmt.Errorf("shmget key 0x%08x: invalid argument (-size %d is more than the kernel allows: see /proc/sys/kernel/shmmax)", key, size)
	case unix.ENOMEM:
		return fmt.Errorf("shmget key 0x%08x: cannot allocate memory (-size %d is more memory than the kernel can promise: pass a smaller -size)", key, size)
	case unix.ENOSPC:
		return fmt.Errorf("shmget key 0x%08x: no space left on device (a system-wide limit on shared memory is reached: see /proc/sys/kernel/shmmni and shmall, and ipcs -m for the segments)", key)
	}
	return fmt.Errorf("shmget key 0x%08x: %w", key, err)
}

// defaultKey describes the default key for -h.
func defaultKey() string {
	key, err := shmsysv.Ftok(shmsysv.DefaultPath, shmsysv.DefaultProj)
	if err != nil {
		return fmt.Sprintf("ftok(%q, %d) fails: %v", shmsysv.DefaultPath, shmsysv.DefaultProj, err)
	}
	return fmt.Sprintf("ftok(%q, %d) = 0x%08x", shmsysv.DefaultPath, shmsysv.DefaultProj, key)
}
