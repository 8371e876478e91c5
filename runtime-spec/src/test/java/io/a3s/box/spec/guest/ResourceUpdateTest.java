package io.a3s.box.spec.guest;

import io.a3s.box.spec.SpecException;
import io.a3s.box.spec.oci.OciJson;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** UpdateTaskRequest.resources (OCI LinuxResources JSON), as `ctr task update` sends it. */
class ResourceUpdateTest {
    static GuestCgroup map(String json) throws SpecException {
        return SpecMapper.mapResources(OciJson.parseResources(json.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void memoryCpuAndPidsBecomeGuestCgroupSettings() throws Exception {
        GuestCgroup c = map("""
                {"memory":{"limit":268435456},"cpu":{"quota":50000,"period":100000,"shares":1024},
                 "pids":{"limit":64}}""");
        assertEquals(268435456L, c.memoryMax());
        assertEquals(50000L, c.cpuQuota());
        assertEquals(100000L, c.cpuPeriod());
        assertEquals(64L, c.pidsMax());
        assertEquals(39L, c.cpuWeight()); // 1 + (1024 - 2) * 9999 / 262142
    }

    @Test
    void badValuesAreRefusedWithTheirPath() {
        SpecException e = assertThrows(SpecException.class, () -> map("{\"memory\":{\"limit\":\"lots\"}}"));
        assertTrue(e.errors().getFirst().path().startsWith("memory.limit"), e.errors().toString());
    }

    @Test
    void anEmptyUpdateChangesNothing() throws Exception {
        GuestCgroup c = map("{}");
        assertEquals(null, c.memoryMax());
        assertEquals(null, c.cpuQuota());
    }
}
