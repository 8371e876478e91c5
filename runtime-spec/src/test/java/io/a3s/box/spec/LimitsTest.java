package io.a3s.box.spec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.a3s.box.spec.guest.SharedDir;
import io.a3s.box.spec.guest.SpecMapper;
import org.junit.jupiter.api.Test;

/** The numbers docs/oci-mapping.md quotes, so that the page cannot drift from the code silently. */
class LimitsTest {
    @Test
    void documentedNumbers() {
        assertEquals(4 * 1024 * 1024, Limits.MAX_DOCUMENT_BYTES);
        assertEquals(64, Limits.MAX_NESTING_DEPTH);
        assertEquals(32, Limits.MAX_NUMBER_LENGTH);
        assertEquals(131072, Limits.MAX_ARG_BYTES);
        assertEquals(64, SpecMapper.VM_MEMORY_OVERHEAD_MIB);
        assertEquals(255, SpecMapper.MAX_VCPUS);
        assertEquals(64, SpecMapper.MIN_MEMORY_MIB);
        assertEquals(1048576, SpecMapper.MAX_MEMORY_MIB);
        assertEquals("io.a3s.box.vcpus", SpecMapper.ANNOTATION_VCPUS);
        assertEquals("io.a3s.box.memory_mib", SpecMapper.ANNOTATION_MEMORY_MIB);
        assertEquals("/run/a3s/share", SharedDir.GUEST_ROOT);
    }
}
