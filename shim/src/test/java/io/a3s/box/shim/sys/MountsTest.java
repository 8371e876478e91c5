package io.a3s.box.shim.sys;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class MountsTest {
    @Test
    void mountinfoEscapesAreDecoded() {
        assertEquals("/a b/c\td\\e", Mounts.unescape("/a\\040b/c\\011d\\134e"));
        assertEquals("/plain", Mounts.unescape("/plain"));
        assertEquals("/trailing\\04", Mounts.unescape("/trailing\\04"));
    }
}
