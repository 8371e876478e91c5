package io.a3s.box.spec.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class SharedDirTest {
    @Test
    void layout() {
        assertEquals("/run/a3s/share", SharedDir.GUEST_ROOT);
        assertEquals("/run/a3s/share/abc", SharedDir.containerDir("abc"));
        assertEquals("/run/a3s/share/abc/rootfs", SharedDir.rootfs("abc"));
        assertEquals("/run/a3s/volumes/abc/3", SharedDir.mountSource("abc", 3));
        assertThrows(IllegalArgumentException.class, () -> SharedDir.mountSource("../x", 0));
    }

    @Test
    void refusesWhatIsNotOnePathComponent() {
        assertThrows(IllegalArgumentException.class, () -> SharedDir.rootfs("../etc"));
        assertThrows(IllegalArgumentException.class, () -> SharedDir.rootfs(null));
        assertThrows(IllegalArgumentException.class, () -> SharedDir.mountSource("abc", -1));
    }
}
