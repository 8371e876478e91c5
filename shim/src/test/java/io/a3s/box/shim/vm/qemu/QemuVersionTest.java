package io.a3s.box.shim.vm.qemu;

import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QemuVersionTest {
    @Test
    void parsesWhatDebiansQemusPrint() {
        assertEquals(Optional.of(new QemuVersion(7, 2, 22)), QemuVersion.parse(
                "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022 ..."));
        assertEquals(Optional.of(new QemuVersion(10, 0, 2)), QemuVersion.parse(
                "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\n"));
        assertEquals(Optional.of(new QemuVersion(9, 1, 0)), QemuVersion.parse("QEMU emulator version 9.1\n"));
        assertEquals(Optional.empty(), QemuVersion.parse("bash: qemu: command not found"));
    }

    @Test
    void specialFilesOn9pFromTenOn() {
        assertFalse(new QemuVersion(7, 2, 22).makesSpecialFilesOn9p());
        assertFalse(new QemuVersion(9, 2, 9).makesSpecialFilesOn9p());
        assertTrue(new QemuVersion(10, 0, 0).makesSpecialFilesOn9p());
        assertTrue(new QemuVersion(10, 1, 0).makesSpecialFilesOn9p());
        assertEquals("10.0.2", new QemuVersion(10, 0, 2).toString());
    }
}
