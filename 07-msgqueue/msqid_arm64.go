package msgqueue

import "golang.org/x/sys/unix"

// MsqidDs is struct msqid64_ds on linux/arm64, what msgctl(IPC_STAT) fills in and IPC_SET reads:
// 120 bytes. Its layout is include/uapi/asm-generic/msgbuf.h's for a 64-bit long:
//
//	struct msqid64_ds {
//		struct ipc64_perm msg_perm;	/* offset 0, 48 bytes: unix.SysvIpcPerm */
//		long              msg_stime;	/* 48: last msgsnd time, 0 until the first */
//		long              msg_rtime;	/* 56: last msgrcv time, 0 until the first */
//		long              msg_ctime;	/* 64: last change time (msgget, IPC_SET) */
//		unsigned long     msg_cbytes;	/* 72: bytes of text in the queue now */
//		unsigned long     msg_qnum;	/* 80: messages in the queue now */
//		unsigned long     msg_qbytes;	/* 88: most bytes of text the queue holds */
//		__kernel_pid_t    msg_lspid;	/* 96: pid of the last msgsnd */
//		__kernel_pid_t    msg_lrpid;	/* 100: pid of the last msgrcv */
//		unsigned long     __unused4;	/* 104 */
//		unsigned long     __unused5;	/* 112 */
//	};
//
// linux/amd64 has its own header, arch/x86/include/uapi/asm/msgbuf.h (msqid_amd64.go), with the
// same offsets on x86-64: the two files are kept apart because the headers are, and a third
// architecture must be checked against its own before it gets one.
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
