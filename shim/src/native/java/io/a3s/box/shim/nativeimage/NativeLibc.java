package io.a3s.box.shim.nativeimage;

import org.graalvm.nativeimage.c.function.CFunction;
import org.graalvm.nativeimage.c.function.CLibrary;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Arrays;

/**
 * {@link io.a3s.box.shim.sys.Linux}'s libc calls in the daemons' native image, which has no FFM linker (GraalVM's
 * FFM support is not among the SubstrateVM jars Maven serves). Each method has the type of the FFM downcall
 * handle it stands for, the errno segment first when the call captures errno, so Linux's code runs unchanged;
 * each calls a C wrapper of {@code shim/src/native/c/a3s_libc.c}.
 */
@CLibrary("a3s_libc")
final class NativeLibc {
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private NativeLibc() {
    }

    /**
     * The handle for libc's {@code name} with the FFM descriptor {@code fd} and {@code options}.
     *
     * @throws UnsatisfiedLinkError if this class has no such call (Linux gained a downcall this class lacks)
     */
    static MethodHandle handle(String name, FunctionDescriptor fd, Linker.Option... options) {
        MethodType type = fd.toMethodType();
        if (Arrays.asList(options).contains(CAPTURE_ERRNO)) {
            type = type.insertParameterTypes(0, MemorySegment.class);
        }
        try {
            return MethodHandles.lookup().findStatic(NativeLibc.class, name, type);
        } catch (NoSuchMethodException | IllegalAccessException e) {
            throw new UnsatisfiedLinkError("the native image has no libc call " + name + type + " (NativeLibc)");
        }
    }

    static long syscall(MemorySegment err, long n, long a, long b) {
        return a3s_syscall2(err.address(), n, a, b);
    }

    static long syscall(MemorySegment err, long n, long a, long b, MemorySegment c, long d) {
        return a3s_syscall4(err.address(), n, a, b, c.address(), d);
    }

    static int poll(MemorySegment err, MemorySegment fds, long n, int timeout) {
        return a3s_poll(err.address(), fds.address(), n, timeout);
    }

    static int open(MemorySegment err, MemorySegment path, int flags, int mode) {
        return a3s_open(err.address(), path.address(), flags, mode);
    }

    static int close(MemorySegment err, int fd) {
        return a3s_close(err.address(), fd);
    }

    static int eventfd(MemorySegment err, int initval, int flags) {
        return a3s_eventfd(err.address(), initval, flags);
    }

    static long read(MemorySegment err, int fd, MemorySegment buf, long n) {
        return a3s_read(err.address(), fd, buf.address(), n);
    }

    static long write(MemorySegment err, int fd, MemorySegment buf, long n) {
        return a3s_write(err.address(), fd, buf.address(), n);
    }

    static int setpriority(MemorySegment err, int which, int who, int prio) {
        return a3s_setpriority(err.address(), which, who, prio);
    }

    static int kill(MemorySegment err, int pid, int sig) {
        return a3s_kill(err.address(), pid, sig);
    }

    static int umount2(MemorySegment err, MemorySegment target, int flags) {
        return a3s_umount2(err.address(), target.address(), flags);
    }

    static int mount(MemorySegment err, MemorySegment src, MemorySegment target, MemorySegment type, long flags,
            MemorySegment data) {
        return a3s_mount(err.address(), src.address(), target.address(), type.address(), flags, data.address());
    }

    static int setns(MemorySegment err, int fd, int nstype) {
        return a3s_setns(err.address(), fd, nstype);
    }

    static int ioctl(MemorySegment err, int fd, long request, MemorySegment arg) {
        return a3s_ioctl_ptr(err.address(), fd, request, arg.address());
    }

    static int socket(MemorySegment err, int domain, int type, int protocol) {
        return a3s_socket(err.address(), domain, type, protocol);
    }

    static int connect(MemorySegment err, int fd, MemorySegment addr, int len) {
        return a3s_connect(err.address(), fd, addr.address(), len);
    }

    static long sendmsg(MemorySegment err, int fd, MemorySegment msg, int flags) {
        return a3s_sendmsg(err.address(), fd, msg.address(), flags);
    }

    static int bind(MemorySegment err, int fd, MemorySegment addr, int len) {
        return a3s_bind(err.address(), fd, addr.address(), len);
    }

    static int listen(MemorySegment err, int fd, int backlog) {
        return a3s_listen(err.address(), fd, backlog);
    }

    static int getsockname(MemorySegment err, int fd, MemorySegment addr, MemorySegment len) {
        return a3s_getsockname(err.address(), fd, addr.address(), len.address());
    }

    static int accept4(MemorySegment err, int fd, MemorySegment addr, MemorySegment len, int flags) {
        return a3s_accept4(err.address(), fd, addr.address(), len.address(), flags);
    }

    static int getsockopt(MemorySegment err, int fd, int level, int name, MemorySegment val, MemorySegment len) {
        return a3s_getsockopt(err.address(), fd, level, name, val.address(), len.address());
    }

    static int shutdown(MemorySegment err, int fd, int how) {
        return a3s_shutdown(err.address(), fd, how);
    }

    /** As FFM returns it for the descriptor's target layout: the message, read up to its NUL within 256 bytes. */
    static MemorySegment strerror(int errnum) {
        return MemorySegment.ofAddress(a3s_strerror(errnum)).reinterpret(256);
    }

    // Pointers cross as longs (the same register as a C pointer on x86-64).
    @CFunction("a3s_syscall2")
    private static native long a3s_syscall2(long err, long n, long a, long b);

    @CFunction("a3s_syscall4")
    private static native long a3s_syscall4(long err, long n, long a, long b, long c, long d);

    @CFunction("a3s_poll")
    private static native int a3s_poll(long err, long fds, long n, int timeout);

    @CFunction("a3s_open")
    private static native int a3s_open(long err, long path, int flags, int mode);

    @CFunction("a3s_close")
    private static native int a3s_close(long err, int fd);

    @CFunction("a3s_eventfd")
    private static native int a3s_eventfd(long err, int initval, int flags);

    @CFunction("a3s_read")
    private static native long a3s_read(long err, int fd, long buf, long n);

    @CFunction("a3s_write")
    private static native long a3s_write(long err, int fd, long buf, long n);

    @CFunction("a3s_setpriority")
    private static native int a3s_setpriority(long err, int which, int who, int prio);

    @CFunction("a3s_kill")
    private static native int a3s_kill(long err, int pid, int sig);

    @CFunction("a3s_umount2")
    private static native int a3s_umount2(long err, long target, int flags);

    @CFunction("a3s_mount")
    private static native int a3s_mount(long err, long src, long target, long type, long flags, long data);

    @CFunction("a3s_setns")
    private static native int a3s_setns(long err, int fd, int nstype);

    @CFunction("a3s_ioctl_ptr")
    private static native int a3s_ioctl_ptr(long err, int fd, long request, long arg);

    @CFunction("a3s_socket")
    private static native int a3s_socket(long err, int domain, int type, int protocol);

    @CFunction("a3s_connect")
    private static native int a3s_connect(long err, int fd, long addr, int len);

    @CFunction("a3s_sendmsg")
    private static native long a3s_sendmsg(long err, int fd, long msg, int flags);

    @CFunction("a3s_bind")
    private static native int a3s_bind(long err, int fd, long addr, int len);

    @CFunction("a3s_listen")
    private static native int a3s_listen(long err, int fd, int backlog);

    @CFunction("a3s_getsockname")
    private static native int a3s_getsockname(long err, int fd, long addr, long len);

    @CFunction("a3s_accept4")
    private static native int a3s_accept4(long err, int fd, long addr, long len, int flags);

    @CFunction("a3s_getsockopt")
    private static native int a3s_getsockopt(long err, int fd, int level, int name, long val, long len);

    @CFunction("a3s_shutdown")
    private static native int a3s_shutdown(long err, int fd, int how);

    @CFunction("a3s_strerror")
    private static native long a3s_strerror(int errnum);
}
