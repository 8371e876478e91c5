package io.a3s.box.shim.task;

import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;

/**
 * The pids containerd is told. A container's processes live in the VM, and their pids there name, on the host,
 * some other process or none: a host tool that acts on a task's pid ({@code kill}, {@code kill(pid, 0)} to see
 * whether it is gone, {@code nsenter -t}, CRI's kill of a pod's pid in containerd's tests) would act on a
 * stranger. Each pid is therefore reported above the kernel's {@code PID_MAX_LIMIT} (2^22 on 64-bit, the most
 * {@code pid_max} can be), where no host process can be: such a tool gets {@code ESRCH}, never a wrong process.
 * The mapping is one to one, so {@code ctr task ps} still tells the processes apart: the pid in the VM is the
 * reported one less {@link #OFFSET}.
 */
public final class TaskPids {
    /** {@code PID_MAX_LIMIT} of a 64-bit kernel: every host pid is below it. */
    public static final int OFFSET = 1 << 22;

    private TaskPids() {
    }

    /**
     * The pid containerd sees for a process the agent knows by {@code guestPid} (0, "none", stays 0). An agent that
     * answers what no kernel can give a process fails the call (INTERNAL), through the caller's usual cleanup.
     */
    public static int ofGuest(int guestPid) throws StatusException {
        if (guestPid < 0 || guestPid >= OFFSET) {
            throw Code.INTERNAL.toException("the guest agent answered pid %d, which no process can have (0 to %d)",
                    guestPid, OFFSET - 1);
        }
        return guestPid == 0 ? 0 : OFFSET + guestPid;
    }

    /** The pid in the VM of a pid {@link #ofGuest} reported, or -1 if {@code taskPid} is not one of those. */
    public static int toGuest(long taskPid) {
        return taskPid > OFFSET && taskPid < 2L * OFFSET ? (int) (taskPid - OFFSET) : -1;
    }
}
