package semmutex

import "golang.org/x/sys/unix"

// SemidDs is struct semid64_ds on linux/amd64, what semctl(IPC_STAT) fills in: 104 bytes. Its
// layout is arch/x86/include/uapi/asm/sembuf.h's, which on x86-64 keeps an unused word after
// each time (room that 32-bit x86 uses for the high half of a 64-bit time):
//
//	struct semid64_ds {
//		struct ipc64_perm sem_perm;	/* offset 0, 48 bytes: unix.SysvIpcPerm */
//		__kernel_long_t   sem_otime;	/* 48: last semop time, 0 until the first semop */
//		__kernel_ulong_t  __unused1;	/* 56 */
//		__kernel_long_t   sem_ctime;	/* 64: last change time (semget, SETVAL, SETALL, IPC_SET) */
//		__kernel_ulong_t  __unused2;	/* 72 */
//		__kernel_ulong_t  sem_nsems;	/* 80: number of semaphores in the set */
//		__kernel_ulong_t  __unused3;	/* 88 */
//		__kernel_ulong_t  __unused4;	/* 96 */
//	};
//
// linux/arm64 uses include/uapi/asm-generic/sembuf.h instead, with no unused words between the
// times (semid_arm64.go): the two are not the same struct.
type SemidDs struct {
	Perm  unix.SysvIpcPerm
	Otime int64
	_     uint64
	Ctime int64
	_     uint64
	Nsems uint64
	_     uint64
	_     uint64
}
