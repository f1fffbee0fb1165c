package semmutex

import "golang.org/x/sys/unix"

// SemidDs is struct semid64_ds on linux/arm64, what semctl(IPC_STAT) fills in: 88 bytes. Its
// layout is include/uapi/asm-generic/sembuf.h's for a 64-bit long:
//
//	struct semid64_ds {
//		struct ipc64_perm sem_perm;	/* offset 0, 48 bytes: unix.SysvIpcPerm */
//		long              sem_otime;	/* 48: last semop time, 0 until the first semop */
//		long              sem_ctime;	/* 56: last change time (semget, SETVAL, SETALL, IPC_SET) */
//		unsigned long     sem_nsems;	/* 64: number of semaphores in the set */
//		unsigned long     __unused3;	/* 72 */
//		unsigned long     __unused4;	/* 80 */
//	};
//
// linux/amd64 has unused words after each time (semid_amd64.go): the two are not the same
// struct.
type SemidDs struct {
	Perm  unix.SysvIpcPerm
	Otime int64
	Ctime int64
	Nsems uint64
	_     uint64
	_     uint64
}
