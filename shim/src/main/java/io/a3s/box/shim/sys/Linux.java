package io.a3s.box.shim.sys;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The few Linux system calls the shim needs that the JDK does not offer, bound with the FFM API
 * ({@code java.lang.foreign}). Every method throws {@link ErrnoException} carrying the errno on failure.
 *
 * <p>Threading: all methods are thread-safe. They are plain blocking downcalls: a call that can block
 * ({@link #poll}) pins a virtual thread's carrier, so call it from a platform thread.
 *
 * <p>The JVM must run with {@code --enable-native-access=ALL-UNNAMED} (or the module's name), or JDK 25
 * prints a warning on stderr the first time a downcall handle is made.
 */
public final class Linux {
    public static final int SIGKILL = 9;
    public static final int SIGTERM = 15;
    public static final int EINTR = 4;
    public static final int ESRCH = 3;
    public static final int EINVAL = 22;
    public static final int ENOENT = 2;
    public static final int EPERM = 1;
    public static final int ENOSYS = 38;
    public static final int EAGAIN = 11;
    public static final int SHUT_WR = 1;
    public static final int SHUT_RDWR = 2;

    /** {@code umount2} flag: detach now, finish when no longer busy. */
    public static final int MNT_DETACH = 2;
    /** {@code umount2} flag: do not follow a trailing symlink. */
    public static final int UMOUNT_NOFOLLOW = 8;
    public static final long MS_RDONLY = 1;
    public static final long MS_REMOUNT = 32;
    public static final long MS_BIND = 4096;
    public static final long MS_REC = 16384;
    public static final long MS_PRIVATE = 1L << 18;
    public static final long MS_SLAVE = 1L << 19;

    public static final short POLLIN = 0x1;
    public static final short POLLERR = 0x8;
    public static final short POLLHUP = 0x10;
    public static final short POLLNVAL = 0x20;

    // x86_64 and aarch64 share these numbers (the "new" unified syscall table).
    private static final long SYS_PIDFD_SEND_SIGNAL = 424;
    private static final long SYS_PIDFD_OPEN = 434;

    private static final int EFD_CLOEXEC = 0x80000;
    private static final int EFD_NONBLOCK = 0x800;

    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    // an offset rather than the layout's var handle: the daemons' native image has no layout var handles
    private static final long ERRNO_OFFSET = CALL_STATE.byteOffset(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");

    private static final MethodHandle SYSCALL2 = variadic("syscall",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_LONG));
    private static final MethodHandle SYSCALL4 = variadic("syscall",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle POLL = handle("poll",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_INT));
    private static final MethodHandle OPEN = variadicAt("open",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT), 2);
    private static final int O_PATH = 010000000;
    private static final int O_CLOEXEC = 02000000;
    private static final MethodHandle CLOSE = handle("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle EVENTFD = handle("eventfd",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle READ = handle("read",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_LONG));
    private static final MethodHandle WRITE = handle("write",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_LONG));
    private static final MethodHandle SETPRIORITY = handle("setpriority",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT));
    private static final int PRIO_PROCESS = 0;
    private static final MethodHandle KILL = handle("kill",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle UMOUNT2 = handle("umount2",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle MOUNT = handle("mount",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
    private static final MethodHandle SETNS = handle("setns",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle IOCTL_PTR = variadicAt("ioctl",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
                    ValueLayout.ADDRESS), 2);
    private static final MethodHandle SOCKET = handle("socket",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT));
    private static final MethodHandle CONNECT = handle("connect",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_INT));
    private static final MethodHandle SENDMSG = handle("sendmsg",
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_INT));
    private static final MethodHandle BIND = handle("bind",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.JAVA_INT));
    private static final MethodHandle LISTEN = handle("listen",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle GETSOCKNAME = handle("getsockname",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.ADDRESS));
    private static final MethodHandle ACCEPT4 = handle("accept4",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle GETSOCKOPT = handle("getsockopt",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    private static final MethodHandle SHUTDOWN = handle("shutdown",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final int AF_INET = 2;
    private static final int SOCKADDR_IN_SIZE = 16;
    private static final int SOL_IP = 0;
    private static final int SO_ORIGINAL_DST = 80;
    private static final int O_RDONLY = 0;
    private static final int O_RDWR = 2;
    private static final int CLONE_NEWNET = 0x40000000;
    private static final long TUNSETIFF = 0x400454caL;
    private static final long FIONREAD = 0x541bL;
    private static final short IFF_TAP = 0x0002;
    private static final short IFF_NO_PI = 0x1000;
    private static final int AF_UNIX = 1;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_CLOEXEC = 02000000;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final MethodHandle STRERROR = downcall("strerror",
            FunctionDescriptor.of(ValueLayout.ADDRESS.withTargetLayout(
                    MemoryLayout.sequenceLayout(256, ValueLayout.JAVA_BYTE)), ValueLayout.JAVA_INT));

    private Linux() {}

    /**
     * The handle of libc's {@code name}. The daemons' native image replaces this method (it has no FFM linker:
     * {@code shim/src/native}), which is why the linker is only reached from here.
     */
    private static MethodHandle downcall(String name, FunctionDescriptor fd, Linker.Option... options) {
        return Libc.LINKER.downcallHandle(Libc.LOOKUP.find(name).orElseThrow(() -> new UnsatisfiedLinkError(name)),
                fd, options);
    }

    private static final class Libc {
        static final Linker LINKER = Linker.nativeLinker();
        static final SymbolLookup LOOKUP = LINKER.defaultLookup();
    }

    private static int errno(MemorySegment state) {
        return state.get(ValueLayout.JAVA_INT, ERRNO_OFFSET);
    }

    private static MethodHandle handle(String name, FunctionDescriptor fd) {
        return downcall(name, fd, CAPTURE);
    }

    private static MethodHandle variadic(String name, FunctionDescriptor fd) {
        return variadicAt(name, fd, 1);
    }

    private static MethodHandle variadicAt(String name, FunctionDescriptor fd, int firstVariadic) {
        return downcall(name, fd, CAPTURE, Linker.Option.firstVariadicArg(firstVariadic));
    }

    /**
     * {@code open(path, O_PATH | O_CLOEXEC)}: a handle on the file itself that never blocks (not even on a FIFO
     * without a writer) and outlives the file's name. {@code /proc/self/fd/<fd>} reopens that same file, with
     * any mode, after its name was removed. Close it with {@link #close}.
     */
    public static int openPath(String path) throws ErrnoException {
        return open(path, O_PATH | O_CLOEXEC);
    }

    /**
     * {@code open(path, O_RDWR | O_CLOEXEC)}. On a FIFO this never waits for the other end, and the pipe stays
     * open (writes never fail with EPIPE) whoever else comes and goes.
     */
    public static int openReadWrite(String path) throws ErrnoException {
        return open(path, O_RDWR | O_CLOEXEC);
    }

    private static int open(String path, int flags) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int r = (int) OPEN.invokeExact(state, arena.allocateFrom(path), flags, 0);
            if (r < 0) {
                throw error(state, "open `" + path + "`");
            }
            return r;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code ioctl(fd, FIONREAD)}: on a pipe or FIFO, the bytes written and not read yet. */
    public static int unreadBytes(int fd) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment n = arena.allocate(ValueLayout.JAVA_INT);
            if ((int) IOCTL_PTR.invokeExact(state, fd, FIONREAD, n) < 0) {
                throw error(state, "FIONREAD on fd " + fd);
            }
            return n.get(ValueLayout.JAVA_INT, 0);
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code pidfd_open(2)}: a file descriptor that refers to the process itself, immune to pid reuse. */
    public static int pidfdOpen(long pid) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long r = (long) SYSCALL2.invokeExact(state, SYS_PIDFD_OPEN, pid, 0L);
            if (r < 0) {
                throw error(state, "pidfd_open " + pid);
            }
            return (int) r;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code pidfd_send_signal(2)}: signals exactly the process the pidfd refers to. */
    public static void pidfdSendSignal(int pidfd, int signal) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long r = (long) SYSCALL4.invokeExact(state, SYS_PIDFD_SEND_SIGNAL, (long) pidfd, (long) signal,
                    MemorySegment.NULL, 0L);
            if (r < 0) {
                throw error(state, "pidfd_send_signal " + signal);
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code setpriority(PRIO_PROCESS, tid, nice)}: the niceness of one thread (Linux: per thread). */
    public static void setThreadNice(long tid, int nice) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int r = (int) SETPRIORITY.invokeExact(state, PRIO_PROCESS, (int) tid, nice);
            if (r < 0) {
                throw error(state, "setpriority " + tid + " " + nice);
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code kill(2)}. */
    public static void kill(long pid, int signal) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int r = (int) KILL.invokeExact(state, (int) pid, signal);
            if (r < 0) {
                throw error(state, "kill " + pid + " " + signal);
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * {@code poll(2)} for readability (POLLIN, or POLLHUP/POLLERR/POLLNVAL) of {@code fds}. Returns, for each
     * fd, whether it is ready; EINTR is reported as "nothing ready". {@code timeoutMillis} &lt; 0 waits forever.
     */
    public static boolean[] poll(int[] fds, int timeoutMillis) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment pfds = arena.allocate(8L * fds.length, 4);
            for (int i = 0; i < fds.length; i++) {
                pfds.set(ValueLayout.JAVA_INT, 8L * i, fds[i]);
                pfds.set(ValueLayout.JAVA_SHORT, 8L * i + 4, POLLIN);
                pfds.set(ValueLayout.JAVA_SHORT, 8L * i + 6, (short) 0);
            }
            int r = (int) POLL.invokeExact(state, pfds, (long) fds.length, timeoutMillis);
            boolean[] ready = new boolean[fds.length];
            if (r < 0) {
                int errno = errno(state);
                if (errno == EINTR) {
                    return ready;
                }
                throw new ErrnoException("poll", errno, strerror(errno));
            }
            for (int i = 0; i < fds.length; i++) {
                short revents = pfds.get(ValueLayout.JAVA_SHORT, 8L * i + 6);
                ready[i] = (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0;
            }
            return ready;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code close(2)}; errors are ignored (Linux releases the fd whatever close returns). */
    public static void close(int fd) {
        if (fd < 0) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int ignored = (int) CLOSE.invokeExact(state, fd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** A non-blocking, close-on-exec {@code eventfd(2)}, used to wake a thread blocked in {@link #poll}. */
    public static int eventfd() throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int r = (int) EVENTFD.invokeExact(state, 0, EFD_CLOEXEC | EFD_NONBLOCK);
            if (r < 0) {
                throw error(state, "eventfd");
            }
            return r;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Adds 1 to an eventfd (wakes its poller). */
    public static void eventfdSignal(int efd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment one = arena.allocate(ValueLayout.JAVA_LONG);
            one.set(ValueLayout.JAVA_LONG, 0, 1L);
            long ignored = (long) WRITE.invokeExact(state, efd, one, 8L);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Resets an eventfd's counter (non-blocking: EAGAIN when it is already zero is fine). */
    public static void eventfdDrain(int efd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG);
            long ignored = (long) READ.invokeExact(state, efd, buf, 8L);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code umount2(2)}. */
    public static void umount2(String target, int flags) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int r = (int) UMOUNT2.invokeExact(state, arena.allocateFrom(target), flags);
            if (r < 0) {
                throw error(state, "umount2 `" + target + "`");
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** {@code mount(2)}; null strings are passed as NULL. */
    public static void mount(String source, String target, String fstype, long flags, String data)
            throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int r = (int) MOUNT.invokeExact(state, cstr(arena, source), arena.allocateFrom(target),
                    cstr(arena, fstype), flags, cstr(arena, data));
            if (r < 0) {
                throw error(state, "mount `" + source + "` on `" + target + "`");
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Bind-mounts {@code source} on {@code target} (both must exist), read-only if asked (a bind mount takes
     * MS_RDONLY only on a remount).
     */
    public static void bindMount(String source, String target, boolean readOnly) throws ErrnoException {
        mount(source, target, null, MS_BIND | MS_REC, null);
        if (readOnly) {
            try {
                mount(null, target, null, MS_BIND | MS_REMOUNT | MS_RDONLY, null);
            } catch (ErrnoException e) {
                try {
                    umount2(target, MNT_DETACH);
                } catch (ErrnoException ignored) {
                    // the bind mount stays; the caller's teardown unmounts it
                }
                throw e;
            }
        }
    }

    /** Work done on a thread inside a network namespace (see {@link #inNetns}). */
    @FunctionalInterface
    private interface NetnsWork<T> {
        T run(Arena arena, MemorySegment state) throws Throwable;
    }

    /**
     * Runs {@code work} on a platform thread of its own that enters the network namespace {@code netnsPath} and
     * ends there: setns changes only the calling thread, and a JVM thread that moved must not go back to running
     * other work. What it creates there (a tap, a socket) stays in that namespace and works from any thread.
     */
    private static <T> T inNetns(String netnsPath, String what, NetnsWork<T> work) throws ErrnoException {
        Object[] result = {null};
        ErrnoException[] failure = {null};
        Thread t = Thread.ofPlatform().name("a3s-netns-" + what).unstarted(() -> {
            int ns = -1;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment state = arena.allocate(CALL_STATE);
                ns = (int) OPEN.invokeExact(state, arena.allocateFrom(netnsPath), O_RDONLY | O_CLOEXEC, 0);
                if (ns < 0) {
                    throw error(state, "open network namespace `" + netnsPath + "`");
                }
                if ((int) SETNS.invokeExact(state, ns, CLONE_NEWNET) < 0) {
                    throw error(state, "setns `" + netnsPath + "`");
                }
                result[0] = work.run(arena, state);
            } catch (ErrnoException e) {
                failure[0] = e;
            } catch (Throwable e) {
                failure[0] = new ErrnoException(what, EINVAL, e.toString());
            } finally {
                close(ns);
            }
        });
        t.start();
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ErrnoException(what, EINTR, "interrupted");
        }
        if (failure[0] != null) {
            throw failure[0];
        }
        @SuppressWarnings("unchecked")
        T r = (T) result[0];
        return r;
    }

    /**
     * A tap device named {@code name} (IFF_TAP | IFF_NO_PI: plain Ethernet frames, so the kernel segments large
     * packets before they reach it) created in the network namespace {@code netnsPath}; returns its fd, which
     * works from any namespace. The device lives as long as an fd of it is open.
     */
    public static int openTapIn(String netnsPath, String name) throws ErrnoException {
        return inNetns(netnsPath, "tap `" + name + "`", (arena, state) -> {
            int tun = (int) OPEN.invokeExact(state, arena.allocateFrom("/dev/net/tun"), O_RDWR | O_CLOEXEC, 0);
            if (tun < 0) {
                throw error(state, "open /dev/net/tun");
            }
            MemorySegment ifr = arena.allocate(40, 8);
            ifr.setString(0, name);
            ifr.set(ValueLayout.JAVA_SHORT, 16, (short) (IFF_TAP | IFF_NO_PI));
            if ((int) IOCTL_PTR.invokeExact(state, tun, TUNSETIFF, ifr) < 0) {
                ErrnoException e = error(state, "create tap `" + name + "` in `" + netnsPath + "`");
                close(tun);
                throw e;
            }
            return tun;
        });
    }

    /** A listening TCP socket and the port it got. */
    public record Listener(int fd, int port) {}

    /**
     * A close-on-exec TCP socket listening on 127.0.0.1 (a port the kernel picks) in the network namespace
     * {@code netnsPath}. Connections to it are made in that namespace; it is accepted from any thread.
     */
    public static Listener listenOnLoopbackIn(String netnsPath) throws ErrnoException {
        return inNetns(netnsPath, "listener", (arena, state) -> {
            int fd = (int) SOCKET.invokeExact(state, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw error(state, "socket");
            }
            try {
                MemorySegment addr = sockaddrIn(arena, 0);
                if ((int) BIND.invokeExact(state, fd, addr, SOCKADDR_IN_SIZE) < 0) {
                    throw error(state, "bind 127.0.0.1 in `" + netnsPath + "`");
                }
                if ((int) LISTEN.invokeExact(state, fd, 64) < 0) {
                    throw error(state, "listen");
                }
                MemorySegment len = arena.allocateFrom(ValueLayout.JAVA_INT, SOCKADDR_IN_SIZE);
                if ((int) GETSOCKNAME.invokeExact(state, fd, addr, len) < 0) {
                    throw error(state, "getsockname");
                }
                return new Listener(fd, portOf(addr));
            } catch (Throwable e) {
                close(fd);
                throw e;
            }
        });
    }

    /**
     * Waits for a connection on {@code listener} and returns its close-on-exec fd. Blocks the calling thread (a
     * platform thread: a virtual one would pin its carrier); {@link #shutdown} wakes it with EINVAL.
     */
    public static int accept(int listener) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            while (true) {
                int fd = (int) ACCEPT4.invokeExact(state, listener, MemorySegment.NULL, MemorySegment.NULL,
                        SOCK_CLOEXEC);
                if (fd >= 0) {
                    return fd;
                }
                if (errno(state) != EINTR) {
                    throw error(state, "accept");
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * {@code shutdown(2)} of a socket, errors ignored: {@link #SHUT_WR} ends what the peer reads; on a listening
     * socket {@link #SHUT_RDWR} ends its pending and future {@link #accept}s (close alone would not wake them).
     */
    public static void shutdown(int fd, int how) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int ignored = (int) SHUTDOWN.invokeExact(state, fd, how);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * The port an accepted connection was made to before an iptables REDIRECT sent it to its listener
     * ({@code SO_ORIGINAL_DST}).
     */
    public static int originalDestinationPort(int fd) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment addr = arena.allocate(SOCKADDR_IN_SIZE, 4);
            MemorySegment len = arena.allocateFrom(ValueLayout.JAVA_INT, SOCKADDR_IN_SIZE);
            if ((int) GETSOCKOPT.invokeExact(state, fd, SOL_IP, SO_ORIGINAL_DST, addr, len) < 0) {
                throw error(state, "getsockopt SO_ORIGINAL_DST");
            }
            return portOf(addr);
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** A {@code struct sockaddr_in} for 127.0.0.1:{@code port}. */
    private static MemorySegment sockaddrIn(Arena arena, int port) {
        MemorySegment a = arena.allocate(SOCKADDR_IN_SIZE, 4);
        a.set(ValueLayout.JAVA_SHORT, 0, (short) AF_INET);
        a.set(ValueLayout.JAVA_BYTE, 2, (byte) (port >> 8));
        a.set(ValueLayout.JAVA_BYTE, 3, (byte) port);
        a.set(ValueLayout.JAVA_BYTE, 4, (byte) 127);
        a.set(ValueLayout.JAVA_BYTE, 7, (byte) 1);
        return a;
    }

    private static int portOf(MemorySegment sockaddrIn) {
        return (sockaddrIn.get(ValueLayout.JAVA_BYTE, 2) & 0xff) << 8 | sockaddrIn.get(ValueLayout.JAVA_BYTE, 3) & 0xff;
    }

    /** A connected, close-on-exec Unix stream socket to {@code path}. */
    public static int unixConnect(String path) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            byte[] p = path.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            if (p.length >= 108) {
                throw new ErrnoException("connect `" + path + "`", EINVAL, "socket path too long");
            }
            int sock = (int) SOCKET.invokeExact(state, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (sock < 0) {
                throw error(state, "socket");
            }
            MemorySegment addr = arena.allocate(110, 2);
            addr.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
            MemorySegment.copy(p, 0, addr, ValueLayout.JAVA_BYTE, 2, p.length);
            if ((int) CONNECT.invokeExact(state, sock, addr, 2 + p.length + 1) < 0) {
                ErrnoException e = error(state, "connect `" + path + "`");
                close(sock);
                throw e;
            }
            return sock;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Sends {@code data} on a Unix socket with {@code fd} attached (SCM_RIGHTS): the peer gets a copy of it. */
    public static void sendWithFd(int sock, byte[] data, int fd) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment buf = arena.allocateFrom(ValueLayout.JAVA_BYTE, data);
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ValueLayout.ADDRESS, 0, buf);
            iov.set(ValueLayout.JAVA_LONG, 8, data.length);
            MemorySegment cmsg = arena.allocate(24, 8);                // CMSG_SPACE(sizeof(int))
            cmsg.set(ValueLayout.JAVA_LONG, 0, 20);                      // CMSG_LEN(sizeof(int))
            cmsg.set(ValueLayout.JAVA_INT, 8, SOL_SOCKET);
            cmsg.set(ValueLayout.JAVA_INT, 12, SCM_RIGHTS);
            cmsg.set(ValueLayout.JAVA_INT, 16, fd);
            MemorySegment msg = arena.allocate(56, 8);                   // struct msghdr, zeroed
            msg.set(ValueLayout.ADDRESS, 16, iov);
            msg.set(ValueLayout.JAVA_LONG, 24, 1);
            msg.set(ValueLayout.ADDRESS, 32, cmsg);
            msg.set(ValueLayout.JAVA_LONG, 40, 24);
            long n = (long) SENDMSG.invokeExact(state, sock, msg, MSG_NOSIGNAL);
            if (n < 0) {
                throw error(state, "sendmsg with a file descriptor");
            }
            if (n != data.length) {
                writeAll(sock, java.util.Arrays.copyOfRange(data, (int) n, data.length));
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Writes all of {@code data} to {@code fd}. */
    public static void writeAll(int fd, byte[] data) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment buf = arena.allocateFrom(ValueLayout.JAVA_BYTE, data);
            long off = 0;
            while (off < data.length) {
                long n = (long) WRITE.invokeExact(state, fd, buf.asSlice(off), (long) data.length - off);
                if (n < 0) {
                    int errno = errno(state);
                    if (errno == EINTR) {
                        continue;
                    }
                    throw new ErrnoException("write", errno, strerror(errno));
                }
                off += n;
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** One {@code read(2)} into {@code buf}: the count, 0 at end of file. */
    public static int read(int fd, byte[] buf) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment seg = arena.allocate(buf.length);
            long n = (long) READ.invokeExact(state, fd, seg, (long) buf.length);
            if (n < 0) {
                throw error(state, "read");
            }
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, 0, buf, 0, (int) n);
            return (int) n;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** The message of an errno. */
    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            return s.getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    private static MemorySegment cstr(Arena arena, String s) {
        return s == null ? MemorySegment.NULL : arena.allocateFrom(s);
    }

    private static ErrnoException error(MemorySegment state, String op) {
        int errno = errno(state);
        return new ErrnoException(op, errno, strerror(errno));
    }

    /** A failed system call: what was attempted, the errno and its message. */
    public static final class ErrnoException extends IOException {
        private final int errno;

        public ErrnoException(String op, int errno, String message) {
            super(op + ": " + message);
            this.errno = errno;
        }

        public int errno() {
            return errno;
        }
    }
}
