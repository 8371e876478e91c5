package io.a3s.box.shim.daemon;

import io.a3s.box.guest.v1.ProcessSpec;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class OciSpecConverterTest {
    private static final ProcessSpec PLAIN = ProcessSpec.newBuilder().addArgs("true").build();

    @Test
    void aProcessWithoutOomScoreAdjGetsTheDaemonsAsRuncsGetsItsShims() {
        OciSpecConverter c = new OciSpecConverter(InheritedRlimits.NONE, () -> OptionalInt.of(-998));
        assertEquals(-998, c.withInherited(PLAIN).getOomScoreAdj());
        ProcessSpec own = PLAIN.toBuilder().setOomScoreAdj(1000).build();
        assertEquals(1000, c.withInherited(own).getOomScoreAdj(), "the spec's own (Kubernetes sets one) wins");
        ProcessSpec zero = PLAIN.toBuilder().setOomScoreAdj(0).build();
        assertEquals(0, c.withInherited(zero).getOomScoreAdj(), "an explicit 0 is the spec's too");
    }

    @Test
    void anUnreadableScoreLeavesTheVmsDefault() {
        OciSpecConverter c = new OciSpecConverter(InheritedRlimits.NONE, OptionalInt::empty);
        assertFalse(c.withInherited(PLAIN).hasOomScoreAdj());
    }

    @Test
    void thisProcessesScoreIsRead() throws Exception {
        assertEquals(OptionalInt.of(Integer.parseInt(Files.readString(Path.of("/proc/self/oom_score_adj")).strip())),
                OciSpecConverter.ownOomScoreAdj());
    }
}
