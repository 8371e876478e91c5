package io.a3s.box.shim.task;

import io.a3s.box.ttrpc.Code;
import io.a3s.box.ttrpc.StatusException;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TaskPidsTest {
    @Test
    void everyReportedPidIsAboveWhatThisHostsKernelCanGiveAProcess() throws Exception {
        long pidMax = Long.parseLong(Files.readString(Path.of("/proc/sys/kernel/pid_max")).strip());
        assertTrue(TaskPids.ofGuest(1) >= pidMax, "pid_max " + pidMax);
        assertTrue(TaskPids.OFFSET >= pidMax, "the offset is PID_MAX_LIMIT, the most pid_max can be");
        assertTrue(Files.notExists(Path.of("/proc", Integer.toString(TaskPids.ofGuest(1)))));
    }

    @Test
    void theMappingIsOneToOneAndTellsTheVmsPid() throws Exception {
        for (int guest : new int[] {1, 2, 81, 32767, TaskPids.OFFSET - 1}) {
            assertEquals(guest, TaskPids.toGuest(TaskPids.ofGuest(guest)));
        }
        assertEquals(TaskPids.OFFSET + 81, TaskPids.ofGuest(81));
        assertEquals(0, TaskPids.ofGuest(0), "none stays none");
    }

    @Test
    void aPidNotReportedByTheShimIsNoGuestPid() {
        assertEquals(-1, TaskPids.toGuest(81), "a host pid");
        assertEquals(-1, TaskPids.toGuest(TaskPids.OFFSET));
        assertEquals(-1, TaskPids.toGuest(2L * TaskPids.OFFSET));
        assertEquals(-1, TaskPids.toGuest(0));
        StatusException e = assertThrows(StatusException.class, () -> TaskPids.ofGuest(-1));
        assertEquals(Code.INTERNAL, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("answered pid -1"), e.getMessage());
        assertThrows(StatusException.class, () -> TaskPids.ofGuest(TaskPids.OFFSET));
    }
}
