package msgqueue

import "golang.org/x/sys/unix"

// MsqidDs is struct msqid64_ds on linux/amd64, what msgctl(IPC_STAT) fills in and IPC_SET reads:
// 120 bytes. Its layout is arch/x86/include/uapi/asm/msgbuf.h's for x86-64:
//
//	struct msqid64_ds {
//		struct ipc64_perm msg_perm;	/* offset 0, 48 bytes: unix.SysvIpcPerm */
//		__kernel_long_t   msg_stime;	/* 48: last msgsnd time, 0 until the first */
//		__kernel_long_t   msg_rtime;	/* 56: last msgrcv time, 0 until the first */
//		__kernel_long_t   msg_ctime;	/* 64: last change time (msgget, IPC_SET) */
//		__kernel_ulong_t  msg_cbytes;	/* 72: bytes of text in the queue now */
//		__kernel_ulong_t  msg_qnum;	/* 80: messages in the queue now */
//		__kernel_ulong_t  msg_qbytes;	/* 88: most bytes of text the queue holds */
//		__kernel_pid_t    msg_lspid;	/* 96: pid of the last msgsnd */
//		__kernel_pid_t    msg_lrpid;	/* 100: pid of the last msgrcv */
//		__kernel_ulong_t  __unused4;	/* 104 */
//		__kernel_ulong_t  __unused5;	/* 112 */
//	};
//
// linux/arm64 uses include/uapi/asm-generic/msgbuf.h instead (msqid_arm64.go), which for a
// 64-bit long comes to the same offsets. (Not so for semaphores: 04-semaphore-mutex's
// semid64_ds differs between the two.) On 32-bit x86 the times are split in two halves.
type MsqidDs struct {
	Perm   unix.SysvIpcPerm
	Stime  int64
	Rtime  int64
	Ctime  int64
	Cbytes uint64
	Qnum   uint64
	Qbytes uint64
	Lspid  int32
	Lrpid  int32
	_      uint64
	_      uint64
}
