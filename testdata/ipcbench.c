/*
 * ipcbench: the C reference of the cookbook's benchmarks.
 *
 * It measures one IPC mechanism between two processes, a parent and the peer it forks, with
 * the loops, sizes and objects of the Go benchmarks (each module's bench_test.go, and the
 * frame they share, benchkit_test.go), on blocking system calls. `go run ./bench -c`, at the
 * root of the workspace, builds it with `cc -O2 -o ipcbench testdata/ipcbench.c`, runs it
 * for each mechanism between the Go benchmarks, and reads its one line of output to put C's
 * numbers beside Go's.
 *
 * Usage:
 *
 *     ipcbench MECH rtt|throughput N PARENT_CPU PEER_CPU
 *
 *     MECH        flock shmsem shmfutex sem pipe fifo msg mq unix tcp (sem: rtt only)
 *     N           round trips, or messages streamed (at least 1)
 *     PARENT_CPU  the CPU of the parent and of the peer (sched_setaffinity); -1: not pinned
 *     PEER_CPU
 *
 *     ipcbench pipe rtt 100000 0 0
 *
 * Output: one line on stdout (MB: 10^6 bytes; nanoseconds and counts are integers):
 *
 *     rtt n=N ns_op=MEAN p50_ns=P50 p99_ns=P99
 *     throughput n=N ns_op=MEAN mb_s=MBPS
 *
 * ns_op is the time of the whole loop over N, as go test's ns/op; p50 and p99 are the
 * nearest-rank percentiles of the round trips, each timed with CLOCK_MONOTONIC; a throughput
 * run is timed from the first send until the peer's "done" arrives. Exit status: 0 done; 1 a
 * call failed (one line on stderr names the mechanism and the call); 2 bad usage.
 *
 * The parent creates every object (private: mode 0600, IPC_PRIVATE for System V), forks the
 * peer, waits for the peer's "ready" (a byte on a pipe, as the Go peer's "ready" line: the
 * start-up is not timed), runs the loop, reaps the peer, and removes every object, also when
 * something fails or a signal (SIGINT, SIGTERM, SIGHUP) ends it. The peer removes nothing.
 *
 * Sizes: a round trip's message is 64 bytes; a throughput message 65536 bytes, except for the
 * message queues (msg, mq): 8192 bytes, the default msgmax of System V and msgsize_max of
 * POSIX, the largest message that the default limits allow.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG_SIZE 64          /* bytes of a round trip's message */
#define CHUNK_SIZE 65536     /* bytes of a throughput message */
#define QUEUE_MSG_SIZE 8192  /* bytes of a throughput message on a message queue */

/* What the command line asked for. */
static const char *mech; /* flock, shmsem, ... */
static int rtt;          /* 1: round trips; 0: throughput */
static long n;           /* round trips, or messages streamed */
static int parent_cpu, peer_cpu;

/* The two processes. */
static int is_peer;            /* 1 in the peer */
static pid_t peer_pid;         /* in the parent: the peer, until it is reaped */
static int peer_status = -1;   /* the peer's wait status, once reaped */
static int ready_fd[2];        /* the peer writes a byte on [1] once it has set up */
static cpu_set_t start_cpus;   /* the CPUs this process could use when it started */

/* The parent's signals: set by on_signal. */
static volatile sig_atomic_t peer_exited; /* SIGCHLD came */
static volatile sig_atomic_t stop_signal; /* SIGINT, SIGTERM or SIGHUP came */

/*
 * The data. Not static: the compiler must not drop a copy into a buffer that this file never
 * reads afterwards (the peer's copy out of shared memory), as it may for a buffer only this
 * file can see.
 */
char msg[MSG_SIZE];
char chunk[CHUNK_SIZE];
struct { long mtype; char mtext[QUEUE_MSG_SIZE]; } qmsg; /* a System V message */

/* The results, printed once the objects are removed. */
static int64_t *rtts;   /* rtt: each round trip, in ns */
static int64_t elapsed; /* the whole loop, in ns */

/* The objects the parent made, to remove when it ends, however it ends. */
static struct {
	char dir[PATH_MAX];     /* a temporary directory (flock, fifo, unix), or "" */
	char file[2][PATH_MAX]; /* in it: flock's file, the two FIFOs, the socket; or "" */
	int semid, shmid, msqid; /* System V: -1 if none */
	char shm_name[64];      /* POSIX shared memory, or "" */
	char mq_name[2][64];    /* POSIX message queues, or "" */
} obj = { .semid = -1, .shmid = -1, .msqid = -1 };

static void fail(const char *call);
static void failx(const char *call, const char *what);

/* ---- Processes, signals, errors ---------------------------------------------------------- */

/*
 * on_signal notes a signal for the parent's next interrupted call (no SA_RESTART: a blocking
 * call returns EINTR). It also asks for a SIGALRM a second later, and again after that: a
 * signal that comes just before the parent enters a blocking call interrupts nothing, and the
 * alarm makes sure that the call does not wait for ever for a peer that has gone.
 */
static void on_signal(int sig)
{
	if (sig == SIGCHLD)
		peer_exited = 1;
	else if (sig != SIGALRM)
		stop_signal = sig;
	alarm(1);
}

/*
 * peer_failed says whether the peer has exited other than with 0. It looks without reaping
 * (WNOWAIT): reap_peer does that.
 */
static int peer_failed(void)
{
	siginfo_t si;

	if (!peer_exited)
		return 0;
	memset(&si, 0, sizeof si);
	if (waitid(P_PID, peer_pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return 1;
	return si.si_pid != 0 && !(si.si_code == CLD_EXITED && si.si_status == 0);
}

/*
 * again says whether a call that failed should be made again: a signal interrupted it (EINTR),
 * and the signal is no reason to stop. SIGINT, SIGTERM and SIGHUP are; so is the SIGCHLD of a
 * peer that failed. A peer that exited 0 is not: it sent everything before it exited, so the
 * call, made again, finds what it waits for. (A read of a Unix socket, for one, can return
 * EINTR when the peer's last message and its SIGCHLD come together.) The peer keeps the
 * default actions of the signals: only a stop (SIGSTOP, then SIGCONT) interrupts its calls.
 */
static int again(void)
{
	return errno == EINTR && !stop_signal && !peer_failed();
}

/*
 * check_stop fails if the parent should stop waiting: the peer exited (the caller has looked,
 * and what it waits for is not there), or a signal came.
 */
static void check_stop(const char *call)
{
	if (peer_exited || stop_signal) {
		errno = EINTR;
		fail(call);
	}
}

/* reap_peer waits for the peer to exit, and returns its wait status. */
static int reap_peer(void)
{
	while (waitpid(peer_pid, &peer_status, 0) < 0 && errno == EINTR)
		;
	peer_pid = 0;
	return peer_status;
}

/*
 * remove_objects removes what the parent made, each object once, and returns the first call
 * that failed (errno says why), or NULL.
 */
static const char *remove_objects(void)
{
	const char *failed = NULL;
	int err = 0;

	for (int i = 0; i < 2; i++) {
		if (obj.file[i][0] && unlink(obj.file[i]) < 0 && !failed)
			failed = "unlink", err = errno;
		obj.file[i][0] = '\0';
	}
	if (obj.dir[0] && rmdir(obj.dir) < 0 && !failed)
		failed = "rmdir", err = errno;
	obj.dir[0] = '\0';
	if (obj.semid >= 0 && semctl(obj.semid, 0, IPC_RMID) < 0 && !failed)
		failed = "semctl IPC_RMID", err = errno;
	obj.semid = -1;
	if (obj.shmid >= 0 && shmctl(obj.shmid, IPC_RMID, NULL) < 0 && !failed)
		failed = "shmctl IPC_RMID", err = errno;
	obj.shmid = -1;
	if (obj.msqid >= 0 && msgctl(obj.msqid, IPC_RMID, NULL) < 0 && !failed)
		failed = "msgctl IPC_RMID", err = errno;
	obj.msqid = -1;
	if (obj.shm_name[0] && shm_unlink(obj.shm_name) < 0 && !failed)
		failed = "shm_unlink", err = errno;
	obj.shm_name[0] = '\0';
	for (int i = 0; i < 2; i++) {
		if (obj.mq_name[i][0] && mq_unlink(obj.mq_name[i]) < 0 && !failed)
			failed = "mq_unlink", err = errno;
		obj.mq_name[i][0] = '\0';
	}
	errno = err;
	return failed;
}

/*
 * failx ends the program because call failed, what saying why. The peer says so and exits 1.
 * The parent kills and reaps the peer, removes the objects, and says so, unless the peer
 * exited 1 on its own: then the peer has said what failed, and one line is enough. After a
 * SIGINT, SIGTERM or SIGHUP, the parent ends by that signal, as the shell expects.
 */
static void failx(const char *call, const char *what)
{
	if (is_peer) {
		fprintf(stderr, "ipcbench: %s peer: %s: %s\n", mech, call, what);
		_exit(1);
	}
	if (peer_pid > 0) {
		kill(peer_pid, SIGKILL);
		reap_peer();
	}
	remove_objects();
	if (stop_signal) {
		fprintf(stderr, "ipcbench: %s: interrupted\n", mech);
		signal(stop_signal, SIG_DFL);
		raise(stop_signal);
	}
	if (!(peer_status != -1 && WIFEXITED(peer_status) && WEXITSTATUS(peer_status) == 1))
		fprintf(stderr, "ipcbench: %s: %s: %s\n", mech, call, what);
	exit(1);
}

/* fail is failx with errno saying why. */
static void fail(const char *call)
{
	if (errno == EINTR && peer_exited)
		failx(call, "the peer exited");
	failx(call, strerror(errno));
}

/* on returns "call object", for fail: the call and what it was called on. */
static const char *on(const char *call, const char *object)
{
	static char text[PATH_MAX + 64];

	snprintf(text, sizeof text, "%s %s", call, object);
	return text;
}

/* pin puts this process on cpu; -1: on the CPUs it could use when it started. */
static void pin(int cpu)
{
	cpu_set_t set = start_cpus;
	char call[64];

	if (cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
	}
	snprintf(call, sizeof call, "sched_setaffinity CPU %d", cpu);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		fail(call);
}

/*
 * start_peer forks the peer, which pins itself, runs side (its half of the protocol, which
 * ends by calling peer_ready and then runs its loop), and exits 0; or exits 1 having said
 * what failed. The parent returns, and goes on with its half.
 */
static void start_peer(void (*side)(void))
{
	pid_t parent = getpid();
	pid_t pid;

	if (pipe(ready_fd) < 0)
		fail("pipe");
	pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid == 0) {
		is_peer = 1;
		peer_exited = stop_signal = 0;
		signal(SIGCHLD, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		/* Die with the parent, which may die before this line (then getppid changes). */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			fail("prctl PR_SET_PDEATHSIG");
		if (getppid() != parent)
			_exit(1);
		close(ready_fd[0]);
		pin(peer_cpu);
		side();
		_exit(0);
	}
	peer_pid = pid;
	close(ready_fd[1]);
}

/* peer_ready tells the parent that the peer has set up and waits for the first message. */
static void peer_ready(void)
{
	while (write(ready_fd[1], "r", 1) < 0)
		if (!again())
			fail("write (ready)");
	close(ready_fd[1]);
}

/* wait_ready waits for the peer's ready: only then does the timing start. */
static void wait_ready(void)
{
	char c;
	ssize_t got;

	while ((got = read(ready_fd[0], &c, 1)) < 0)
		if (!again())
			fail("read (ready)");
	if (got == 0)
		failx("read (ready)", "the peer exited before it was ready");
	close(ready_fd[0]);
}

/* make_dir makes a fresh private directory under base for the objects that have a path. */
static void make_dir(const char *base)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof dir, "%s/ipcbench-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		fail(on("mkdtemp", dir));
	strcpy(obj.dir, dir);
}

/* in_dir returns the path of name in the temporary directory, in path. */
static char *in_dir(char *path, const char *name)
{
	if ((size_t)snprintf(path, PATH_MAX, "%s/%s", obj.dir, name) >= PATH_MAX)
		failx("snprintf", "path too long");
	return path;
}

/* tmpdir is $TMPDIR, or /tmp. */
static const char *tmpdir(void)
{
	const char *dir = getenv("TMPDIR");

	return dir && dir[0] ? dir : "/tmp";
}

/* unique_name returns a POSIX IPC name of this run's own: /ipcbench-PID-NS, NS the clock's. */
static void unique_name(char *name, size_t size, const char *suffix)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(name, size, "/ipcbench-%d-%lld%09ld%s", (int)getpid(), (long long)ts.tv_sec,
		 ts.tv_nsec, suffix);
}

/* ---- Timing (roundTrips and throughput in benchkit_test.go) ------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * check_signal ends the run if SIGINT, SIGTERM or SIGHUP came: once per step of a timed loop,
 * since a signal that comes while the parent runs, rather than waits, interrupts no call.
 */
static void check_signal(void)
{
	if (stop_signal)
		failx("signal", "interrupted");
}

/* time_round_trips runs round_trip n times, timing each, and the whole loop. */
static void time_round_trips(void (*round_trip)(void))
{
	rtts = malloc(n * sizeof *rtts);
	if (rtts == NULL)
		fail("malloc");
	memset(rtts, 0, n * sizeof *rtts); /* its pages faulted in now, not in the loop */
	int64_t start = now_ns();
	for (long i = 0; i < n; i++) {
		int64_t t = now_ns();
		round_trip();
		rtts[i] = now_ns() - t;
		check_signal();
	}
	elapsed = now_ns() - start;
}

/* time_throughput runs send n times, then done, which waits for the peer's "done". */
static void time_throughput(void (*send)(void), void (*done)(void))
{
	int64_t start = now_ns();
	for (long i = 0; i < n; i++) {
		send();
		check_signal();
	}
	done();
	elapsed = now_ns() - start;
}

static int compare_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* percentile returns the p-th percentile of the sorted rtts by the nearest rank. */
static int64_t percentile(long p)
{
	long rank = (n * p + 99) / 100;

	return rtts[(rank < 1 ? 1 : rank) - 1];
}

/* report prints the one line of results. */
static void report(void)
{
	long long ns_op = elapsed / n;

	if (rtt) {
		qsort(rtts, n, sizeof *rtts, compare_int64);
		printf("rtt n=%ld ns_op=%lld p50_ns=%lld p99_ns=%lld\n", n, ns_op,
		       (long long)percentile(50), (long long)percentile(99));
	} else {
		int bytes = strcmp(mech, "msg") == 0 || strcmp(mech, "mq") == 0 ? QUEUE_MSG_SIZE
										  : CHUNK_SIZE;
		printf("throughput n=%ld ns_op=%lld mb_s=%.2f\n", n, ns_op,
		       (double)bytes * n * 1e3 / (double)elapsed);
	}
	if (fflush(stdout) != 0)
		fail("write (stdout)");
}

/* ---- Byte streams: pipe, fifo, unix, tcp (the stream loops of benchkit_test.go) ---------- */

static int out_fd, in_fd; /* this process's ends: it writes out_fd and reads in_fd */

static void write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t k = write(fd, p, len);
		if (k < 0) {
			if (again())
				continue;
			fail("write");
		}
		p += k;
		len -= k;
	}
}

static void read_full(int fd, char *p, size_t len)
{
	while (len > 0) {
		ssize_t k = read(fd, p, len);
		if (k < 0) {
			if (again())
				continue;
			fail("read");
		}
		if (k == 0)
			failx("read", "unexpected end of file");
		p += k;
		len -= k;
	}
}

/* A round trip: 64 bytes out, 64 bytes back. */
static void stream_round_trip(void)
{
	write_all(out_fd, msg, MSG_SIZE);
	read_full(in_fd, msg, MSG_SIZE);
}

/* A throughput message: one write of 64 KiB, whole. */
static void stream_send(void)
{
	write_all(out_fd, chunk, CHUNK_SIZE);
}

/* The peer's done: one byte back. */
static void stream_done(void)
{
	read_full(in_fd, chunk, 1);
}

/* stream_parent is the parent's loop on a byte stream. */
static void stream_parent(void)
{
	if (rtt)
		time_round_trips(stream_round_trip);
	else
		time_throughput(stream_send, stream_done);
}

/*
 * stream_peer is the peer's loop: echo n messages of 64 bytes; or read n*65536 bytes as they
 * come, in reads of at most 65536, then write one byte back.
 */
static void stream_peer(void)
{
	if (rtt) {
		for (long i = 0; i < n; i++) {
			read_full(in_fd, msg, MSG_SIZE);
			write_all(out_fd, msg, MSG_SIZE);
		}
		return;
	}
	for (long long left = (long long)n * CHUNK_SIZE; left > 0;) {
		ssize_t k = read(in_fd, chunk, left < CHUNK_SIZE ? left : CHUNK_SIZE);
		if (k < 0) {
			if (again())
				continue;
			fail("read");
		}
		if (k == 0)
			failx("read", "unexpected end of file");
		left -= k;
	}
	write_all(out_fd, chunk, 1);
}

/* ---- flock: a file, its byte 0 the turn, its data at offset 1 ---------------------------- */

static int flock_fd; /* this process's own open file description of the file */

static void flock_lock(void)
{
	while (flock(flock_fd, LOCK_EX) < 0)
		if (!again())
			fail("flock LOCK_EX");
}

static void flock_unlock(void)
{
	if (flock(flock_fd, LOCK_UN) < 0)
		fail("flock LOCK_UN");
}

static void flock_pread(void *buf, size_t len, off_t off)
{
	ssize_t k;

	while ((k = pread(flock_fd, buf, len, off)) < 0)
		if (!again())
			fail("pread");
	if ((size_t)k != len)
		failx("pread", "short read");
}

static void flock_pwrite(const void *buf, size_t len, off_t off)
{
	ssize_t k;

	while ((k = pwrite(flock_fd, buf, len, off)) < 0)
		if (!again())
			fail("pwrite");
	if ((size_t)k != len)
		failx("pwrite", "short write");
}

static void flock_set_turn(char turn)
{
	flock_pwrite(&turn, 1, 0);
}

/*
 * flock_poll_for is the "poll for turn": lock, look at byte 0, and return holding the lock
 * if it is turn; else unlock, yield the CPU to the other side, and look again. The caller
 * does its step and unlocks.
 */
static void flock_poll_for(char turn)
{
	for (;;) {
		char now;

		flock_lock();
		flock_pread(&now, 1, 0);
		if (now == turn)
			return;
		flock_unlock();
		check_stop("flock");
		sched_yield();
	}
}

/* rtt: write the message and give the turn to the peer (1); wait for 2; read the answer. */
static void flock_round_trip(void)
{
	flock_lock();
	flock_pwrite(msg, MSG_SIZE, 1);
	flock_set_turn(1);
	flock_unlock();
	flock_poll_for(2);
	flock_pread(msg, MSG_SIZE, 1);
	flock_unlock();
}

/* throughput: wait for the turn 0, write a chunk, give the turn to the peer (1). */
static void flock_send(void)
{
	flock_poll_for(0);
	flock_pwrite(chunk, CHUNK_SIZE, 1);
	flock_set_turn(1);
	flock_unlock();
}

/* done: the turn 0 once more, once the peer has read the last chunk. */
static void flock_done(void)
{
	flock_poll_for(0);
	flock_unlock();
}

static void flock_peer(void)
{
	/*
	 * A lock belongs to an open file description, and the descriptor inherited from the
	 * parent shares the parent's: close it, and open the file anew.
	 */
	close(flock_fd);
	while ((flock_fd = open(obj.file[0], O_RDWR)) < 0)
		if (!again())
			fail(on("open", obj.file[0]));
	peer_ready();
	for (long i = 0; i < n; i++) {
		flock_poll_for(1);
		if (rtt) {
			flock_pread(msg, MSG_SIZE, 1);
			flock_pwrite(msg, MSG_SIZE, 1);
			flock_set_turn(2);
		} else {
			flock_pread(chunk, CHUNK_SIZE, 1);
			flock_set_turn(0);
		}
		flock_unlock();
	}
}

static void flock_parent(void)
{
	char path[PATH_MAX];

	/* The file: 1+65536 bytes of zeros, so the turn is 0 (the parent's) at first. */
	make_dir(tmpdir());
	if ((flock_fd = open(in_dir(path, "f"), O_RDWR | O_CREAT | O_EXCL, 0600)) < 0)
		fail(on("open", path));
	strcpy(obj.file[0], path);
	if (ftruncate(flock_fd, 1 + CHUNK_SIZE) < 0)
		fail("ftruncate");
	start_peer(flock_peer);
	wait_ready();
	if (rtt)
		time_round_trips(flock_round_trip);
	else
		time_throughput(flock_send, flock_done);
	close(flock_fd);
}

/* ---- shmsem and sem: System V shared memory and semaphores ------------------------------- */

#define FULL 0  /* shmsem throughput: the semaphore of a chunk to read (0 at first) */
#define EMPTY 1 /* ... and of room to write one (1 at first) */

union semun { /* semctl's fourth argument, which the caller defines */
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static char *seg; /* the shared memory segment, attached */

/* sem_op adds op to semaphore num of the set: +1 posts, -1 waits for it to be positive. */
static void sem_op(unsigned short num, short op)
{
	struct sembuf sb = { .sem_num = num, .sem_op = op, .sem_flg = 0 }; /* no SEM_UNDO */

	while (semop(obj.semid, &sb, 1) < 0)
		if (!again())
			fail(op > 0 ? "semop +1" : "semop -1");
}

/* rtt: the message in, post 0, wait on 1, the answer out. */
static void shmsem_round_trip(void)
{
	memcpy(seg, msg, MSG_SIZE);
	sem_op(0, +1);
	sem_op(1, -1);
	memcpy(msg, seg, MSG_SIZE);
}

/* throughput: wait for room, a chunk in, post it. */
static void shmsem_send(void)
{
	sem_op(EMPTY, -1);
	memcpy(seg, chunk, CHUNK_SIZE);
	sem_op(FULL, +1);
}

/* done: room once more, once the peer has read the last chunk. */
static void shmsem_done(void)
{
	sem_op(EMPTY, -1);
}

static void shmsem_peer(void)
{
	/* It attaches the segment itself, as the Go peer does with the id it is given. */
	if ((seg = shmat(obj.shmid, NULL, 0)) == (void *)-1)
		fail("shmat");
	peer_ready();
	for (long i = 0; i < n; i++) {
		if (rtt) {
			sem_op(0, -1);
			memcpy(msg, seg, MSG_SIZE);
			memcpy(seg, msg, MSG_SIZE);
			sem_op(1, +1);
		} else {
			sem_op(FULL, -1);
			memcpy(chunk, seg, CHUNK_SIZE);
			sem_op(EMPTY, +1);
		}
	}
}

static void shmsem_parent(void)
{
	/* A segment of 64 KiB and a set of two semaphores, both 0 (rtt); throughput: EMPTY 1. */
	if ((obj.shmid = shmget(IPC_PRIVATE, CHUNK_SIZE, 0600)) < 0)
		fail("shmget");
	if ((obj.semid = semget(IPC_PRIVATE, 2, 0600)) < 0)
		fail("semget");
	if (!rtt && semctl(obj.semid, EMPTY, SETVAL, (union semun){ .val = 1 }) < 0)
		fail("semctl SETVAL");
	start_peer(shmsem_peer);
	if ((seg = shmat(obj.shmid, NULL, 0)) == (void *)-1)
		fail("shmat");
	wait_ready();
	if (rtt)
		time_round_trips(shmsem_round_trip);
	else
		time_throughput(shmsem_send, shmsem_done);
}

/* sem: a round trip with no data: post 0, wait on 1; the peer waits on 0, posts 1. */
static void sem_round_trip(void)
{
	sem_op(0, +1);
	sem_op(1, -1);
}

static void sem_peer(void)
{
	peer_ready();
	for (long i = 0; i < n; i++) {
		sem_op(0, -1);
		sem_op(1, +1);
	}
}

static void sem_parent(void)
{
	if ((obj.semid = semget(IPC_PRIVATE, 2, 0600)) < 0)
		fail("semget");
	start_peer(sem_peer);
	wait_ready();
	time_round_trips(sem_round_trip);
}

/* ---- shmfutex: POSIX shared memory, a futex word at 0, the data at 64 ------------------- */

#define SHM_SIZE (64 + CHUNK_SIZE)

static int shm_fd;
static _Atomic uint32_t *state; /* the futex word: whose turn it is (0: the parent's) */
static char *data;              /* the data, at offset 64 */

/* shm_map maps the object shm_fd in, and closes shm_fd. */
static void shm_map(void)
{
	char *p = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);

	if (p == MAP_FAILED)
		fail("mmap");
	close(shm_fd);
	state = (_Atomic uint32_t *)p;
	data = p + 64;
}

/*
 * futex_wait_for waits until the word is v: while it is not, FUTEX_WAIT for as long as it
 * holds the value just loaded (the kernel checks that, and returns EAGAIN if it changed).
 * No FUTEX_PRIVATE_FLAG: the two sides are two processes.
 */
static void futex_wait_for(uint32_t v)
{
	for (;;) {
		uint32_t now = atomic_load(state);
		if (now == v)
			return;
		check_stop("futex FUTEX_WAIT");
		if (syscall(SYS_futex, (uint32_t *)state, FUTEX_WAIT, now, NULL, NULL, 0) < 0 &&
		    errno != EAGAIN && errno != EINTR)
			fail("futex FUTEX_WAIT");
	}
}

/* futex_set sets the word to v, and wakes one waiter, always (no "someone waits" bit). */
static void futex_set(uint32_t v)
{
	atomic_store(state, v);
	if (syscall(SYS_futex, (uint32_t *)state, FUTEX_WAKE, 1, NULL, NULL, 0) < 0)
		fail("futex FUTEX_WAKE");
}

/* rtt: the message in, the turn to the peer (1), wait for 0, the answer out. */
static void shmfutex_round_trip(void)
{
	memcpy(data, msg, MSG_SIZE);
	futex_set(1);
	futex_wait_for(0);
	memcpy(msg, data, MSG_SIZE);
}

/* throughput: wait for the turn 0, a chunk in, the turn to the peer (1). */
static void shmfutex_send(void)
{
	futex_wait_for(0);
	memcpy(data, chunk, CHUNK_SIZE);
	futex_set(1);
}

/* done: the turn 0 once more, once the peer has read the last chunk. */
static void shmfutex_done(void)
{
	futex_wait_for(0);
}

static void shmfutex_peer(void)
{
	/* It opens the object by name and maps it itself; the inherited descriptor goes. */
	close(shm_fd);
	if ((shm_fd = shm_open(obj.shm_name, O_RDWR, 0)) < 0)
		fail(on("shm_open", obj.shm_name));
	shm_map();
	peer_ready();
	for (long i = 0; i < n; i++) {
		futex_wait_for(1);
		if (rtt) {
			memcpy(msg, data, MSG_SIZE);
			memcpy(data, msg, MSG_SIZE);
		} else {
			memcpy(chunk, data, CHUNK_SIZE);
		}
		futex_set(0);
	}
}

static void shmfutex_parent(void)
{
	char name[64];

	/* The object: 64+65536 bytes of zeros, so the word is 0 (the parent's turn) at first. */
	unique_name(name, sizeof name, "");
	if ((shm_fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600)) < 0)
		fail(on("shm_open", name));
	strcpy(obj.shm_name, name);
	if (ftruncate(shm_fd, SHM_SIZE) < 0)
		fail("ftruncate");
	start_peer(shmfutex_peer);
	shm_map();
	wait_ready();
	/* Both have it mapped: the name has done its job. */
	if (shm_unlink(obj.shm_name) < 0)
		fail(on("shm_unlink", obj.shm_name));
	obj.shm_name[0] = '\0';
	if (rtt)
		time_round_trips(shmfutex_round_trip);
	else
		time_throughput(shmfutex_send, shmfutex_done);
}

/* ---- pipe and fifo ----------------------------------------------------------------------- */

static int to[2], from[2]; /* pipe: "to" the parent writes, "from" the peer writes */

static void pipe_peer(void)
{
	close(to[1]); /* the parent's ends */
	close(from[0]);
	in_fd = to[0];
	out_fd = from[1];
	peer_ready();
	stream_peer();
}

static void pipe_parent(void)
{
	if (pipe(to) < 0 || pipe(from) < 0)
		fail("pipe");
	start_peer(pipe_peer);
	close(to[0]); /* the peer's ends: closed here, so that an end of file can come */
	close(from[1]);
	out_fd = to[1];
	in_fd = from[0];
	wait_ready();
	stream_parent();
	close(out_fd);
	close(in_fd);
}

/* open_path opens path, again if a signal interrupts a FIFO's wait for its other end. */
static int open_path(const char *path, int flags)
{
	int fd;

	while ((fd = open(path, flags)) < 0)
		if (!again())
			fail(on("open", path));
	return fd;
}

static void fifo_peer(void)
{
	/* "to" for reading, then "from" for writing: the order the parent opens them in. */
	in_fd = open_path(obj.file[0], O_RDONLY);
	out_fd = open_path(obj.file[1], O_WRONLY);
	peer_ready();
	stream_peer();
}

static void fifo_parent(void)
{
	char path[PATH_MAX];

	make_dir(tmpdir());
	if (mkfifo(in_dir(path, "to"), 0600) < 0)
		fail(on("mkfifo", path));
	strcpy(obj.file[0], path);
	if (mkfifo(in_dir(path, "from"), 0600) < 0)
		fail(on("mkfifo", path));
	strcpy(obj.file[1], path);
	start_peer(fifo_peer);
	/* Each open waits for the peer's open of the other end. */
	out_fd = open_path(obj.file[0], O_WRONLY);
	in_fd = open_path(obj.file[1], O_RDONLY);
	wait_ready();
	stream_parent();
	close(out_fd);
	close(in_fd);
}

/* ---- msg: one System V message queue, type 1 to the peer, type 2 back --------------------- */

static void msg_send(long type, size_t len)
{
	qmsg.mtype = type;
	while (msgsnd(obj.msqid, &qmsg, len, 0) < 0)
		if (!again())
			fail("msgsnd");
}

static void msg_receive(long type, size_t len)
{
	ssize_t got;

	while ((got = msgrcv(obj.msqid, &qmsg, QUEUE_MSG_SIZE, type, 0)) < 0)
		if (!again())
			fail("msgrcv");
	if ((size_t)got != len)
		failx("msgrcv", "a message of the wrong size");
}

static void msg_round_trip(void)
{
	msg_send(1, MSG_SIZE);
	msg_receive(2, MSG_SIZE);
}

static void msg_throughput_send(void)
{
	msg_send(1, QUEUE_MSG_SIZE);
}

static void msg_done(void)
{
	msg_receive(2, 1);
}

static void msg_peer(void)
{
	peer_ready();
	for (long i = 0; i < n; i++) {
		if (rtt) {
			msg_receive(1, MSG_SIZE);
			msg_send(2, MSG_SIZE);
		} else {
			msg_receive(1, QUEUE_MSG_SIZE);
		}
	}
	if (!rtt)
		msg_send(2, 1); /* done */
}

static void msg_parent(void)
{
	if ((obj.msqid = msgget(IPC_PRIVATE, 0600)) < 0)
		fail("msgget");
	start_peer(msg_peer);
	wait_ready();
	if (rtt)
		time_round_trips(msg_round_trip);
	else
		time_throughput(msg_throughput_send, msg_done);
}

/* ---- mq: two POSIX message queues, "to" the peer and "from" it ---------------------------- */

static mqd_t mq_to, mq_from;
static char *mq_buf; /* the message sent and received: msg (rtt) or chunk (throughput) */
static long mq_size; /* the queues' mq_msgsize: 64 (rtt) or 8192 (throughput) */

static void mq_send_one(mqd_t q, size_t len)
{
	while (mq_send(q, mq_buf, len, 0) < 0)
		if (!again())
			fail("mq_send");
}

static void mq_receive_one(mqd_t q, size_t len)
{
	ssize_t got;

	while ((got = mq_receive(q, mq_buf, mq_size, NULL)) < 0)
		if (!again())
			fail("mq_receive");
	if ((size_t)got != len)
		failx("mq_receive", "a message of the wrong size");
}

static void mq_round_trip(void)
{
	mq_send_one(mq_to, MSG_SIZE);
	mq_receive_one(mq_from, MSG_SIZE);
}

static void mq_throughput_send(void)
{
	mq_send_one(mq_to, QUEUE_MSG_SIZE);
}

static void mq_done(void)
{
	mq_receive_one(mq_from, 1);
}

static void mq_peer(void)
{
	/* It opens the queues by name itself; the inherited descriptors go. */
	mq_close(mq_to);
	mq_close(mq_from);
	if ((mq_to = mq_open(obj.mq_name[0], O_RDONLY)) == (mqd_t)-1)
		fail(on("mq_open", obj.mq_name[0]));
	if ((mq_from = mq_open(obj.mq_name[1], O_WRONLY)) == (mqd_t)-1)
		fail(on("mq_open", obj.mq_name[1]));
	peer_ready();
	for (long i = 0; i < n; i++) {
		if (rtt) {
			mq_receive_one(mq_to, MSG_SIZE);
			mq_send_one(mq_from, MSG_SIZE);
		} else {
			mq_receive_one(mq_to, QUEUE_MSG_SIZE);
		}
	}
	if (!rtt)
		mq_send_one(mq_from, 1); /* done */
}

static void mq_parent(void)
{
	struct mq_attr attr = { .mq_maxmsg = 10 };
	char name[64];

	mq_size = attr.mq_msgsize = rtt ? MSG_SIZE : QUEUE_MSG_SIZE;
	mq_buf = rtt ? msg : chunk;
	unique_name(name, sizeof name, "-to");
	if ((mq_to = mq_open(name, O_WRONLY | O_CREAT | O_EXCL, 0600, &attr)) == (mqd_t)-1)
		fail(on("mq_open", name));
	strcpy(obj.mq_name[0], name);
	unique_name(name, sizeof name, "-from");
	if ((mq_from = mq_open(name, O_RDONLY | O_CREAT | O_EXCL, 0600, &attr)) == (mqd_t)-1)
		fail(on("mq_open", name));
	strcpy(obj.mq_name[1], name);
	start_peer(mq_peer);
	wait_ready();
	/* Both have them open: the names have done their job. */
	for (int i = 0; i < 2; i++) {
		if (mq_unlink(obj.mq_name[i]) < 0)
			fail(on("mq_unlink", obj.mq_name[i]));
		obj.mq_name[i][0] = '\0';
	}
	if (rtt)
		time_round_trips(mq_round_trip);
	else
		time_throughput(mq_throughput_send, mq_done);
}

/* ---- unix and tcp: one stream connection, the peer connecting -------------------------- */

static int listen_fd;
static struct sockaddr_un unix_addr;
static struct sockaddr_in tcp_addr;

/* accept_peer accepts the peer's connection, made before it said ready. */
static int accept_peer(void)
{
	int fd;

	while ((fd = accept(listen_fd, NULL, NULL)) < 0)
		if (!again())
			fail("accept");
	return fd;
}

/* no_delay sets TCP_NODELAY: each write goes out at once, as Go's net sets by default. */
static void no_delay(int fd)
{
	int on = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) < 0)
		fail("setsockopt TCP_NODELAY");
}

static void unix_peer(void)
{
	int fd;

	close(listen_fd); /* the parent's */
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		fail("socket");
	if (connect(fd, (struct sockaddr *)&unix_addr, sizeof unix_addr) < 0)
		fail(on("connect", unix_addr.sun_path));
	in_fd = out_fd = fd;
	peer_ready();
	stream_peer();
}

static void unix_parent(void)
{
	char path[PATH_MAX];

	/* /tmp, not $TMPDIR, which may be too long for sun_path (108 bytes with its NUL). */
	make_dir("/tmp");
	in_dir(path, "s");
	if (strlen(path) >= sizeof unix_addr.sun_path)
		failx(on("bind", path), "socket path too long");
	unix_addr.sun_family = AF_UNIX;
	strcpy(unix_addr.sun_path, path);
	if ((listen_fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		fail("socket");
	if (bind(listen_fd, (struct sockaddr *)&unix_addr, sizeof unix_addr) < 0)
		fail(on("bind", path));
	strcpy(obj.file[0], path);
	if (listen(listen_fd, 1) < 0)
		fail("listen");
	start_peer(unix_peer);
	wait_ready();
	in_fd = out_fd = accept_peer();
	stream_parent();
	close(in_fd);
	close(listen_fd);
}

static void tcp_peer(void)
{
	int fd;

	close(listen_fd); /* the parent's */
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		fail("socket");
	no_delay(fd);
	if (connect(fd, (struct sockaddr *)&tcp_addr, sizeof tcp_addr) < 0)
		fail("connect 127.0.0.1");
	in_fd = out_fd = fd;
	peer_ready();
	stream_peer();
}

static void tcp_parent(void)
{
	socklen_t len = sizeof tcp_addr;

	/* 127.0.0.1, port 0: the kernel picks a free port, which the peer reads in tcp_addr. */
	tcp_addr.sin_family = AF_INET;
	tcp_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((listen_fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		fail("socket");
	if (bind(listen_fd, (struct sockaddr *)&tcp_addr, sizeof tcp_addr) < 0)
		fail("bind 127.0.0.1:0");
	if (listen(listen_fd, 1) < 0)
		fail("listen");
	if (getsockname(listen_fd, (struct sockaddr *)&tcp_addr, &len) < 0)
		fail("getsockname");
	start_peer(tcp_peer);
	wait_ready();
	in_fd = out_fd = accept_peer();
	no_delay(in_fd);
	stream_parent();
	close(in_fd);
	close(listen_fd);
}

/* ---- main -------------------------------------------------------------------------------- */

static const struct {
	const char *name;
	void (*parent)(void);
} mechs[] = {
	{ "flock", flock_parent }, { "shmsem", shmsem_parent }, { "shmfutex", shmfutex_parent },
	{ "sem", sem_parent },     { "pipe", pipe_parent },     { "fifo", fifo_parent },
	{ "msg", msg_parent },     { "mq", mq_parent },         { "unix", unix_parent },
	{ "tcp", tcp_parent },
};

static void usage(void)
{
	fprintf(stderr, "usage: ipcbench flock|shmsem|shmfutex|sem|pipe|fifo|msg|mq|unix|tcp "
			"rtt|throughput N PARENT_CPU PEER_CPU (a CPU of -1: not pinned)\n");
	exit(2);
}

/* number parses s, a whole number from min to max, or ends in a usage error. */
static long number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	void (*parent)(void) = NULL;
	struct sigaction sa;
	const char *call;
	int status;

	if (argc != 6)
		usage();
	mech = argv[1];
	for (size_t i = 0; i < sizeof mechs / sizeof mechs[0]; i++)
		if (strcmp(mech, mechs[i].name) == 0)
			parent = mechs[i].parent;
	if (parent == NULL)
		usage();
	if (strcmp(argv[2], "rtt") == 0)
		rtt = 1;
	else if (strcmp(argv[2], "throughput") != 0)
		usage();
	if (!rtt && strcmp(mech, "sem") == 0) {
		fprintf(stderr, "ipcbench: sem has no data to stream: rtt only\n");
		exit(2);
	}
	n = number(argv[3], 1, LONG_MAX / CHUNK_SIZE);
	parent_cpu = number(argv[4], -1, CPU_SETSIZE - 1);
	peer_cpu = number(argv[5], -1, CPU_SETSIZE - 1);

	/*
	 * Signals: a write to a gone reader fails with EPIPE rather than killing the parent
	 * (which would leave its objects); SIGCHLD (the peer exited: no SIGCHLD for a stop),
	 * SIGINT, SIGTERM and SIGHUP interrupt the parent's blocking calls, with no SA_RESTART,
	 * so that it can remove its objects and end.
	 */
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);

	if (sched_getaffinity(0, sizeof start_cpus, &start_cpus) < 0)
		fail("sched_getaffinity");
	pin(parent_cpu);

	/* Create, start the peer, wait for its ready, run the timed loop. */
	parent();

	/* The peer must have exited 0, having received everything. */
	status = reap_peer();
	signal(SIGALRM, SIG_IGN);
	alarm(0);
	if (WIFSIGNALED(status))
		failx("waitpid", strsignal(WTERMSIG(status)));
	if (WEXITSTATUS(status) != 0)
		failx("waitpid", "the peer failed");
	if (stop_signal)
		failx("waitpid", "interrupted");

	/* Remove every object, then print the results. */
	if ((call = remove_objects()) != NULL)
		fail(call);
	report();
	return 0;
}
