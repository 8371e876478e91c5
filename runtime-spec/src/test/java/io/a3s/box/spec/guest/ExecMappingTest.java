package io.a3s.box.spec.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.a3s.box.spec.Fixtures;
import io.a3s.box.spec.SpecError;
import io.a3s.box.spec.SpecException;
import io.a3s.box.spec.oci.OciJson;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** An exec's process JSON (ExecProcessRequest.spec), as the runc shim received it from containerd. */
class ExecMappingTest {
    @Test
    void plainExec() throws Exception {
        GuestContainerSpec container = Fixtures.mapped("default");
        GuestExecSpec exec = SpecMapper.mapExec(OciJson.parseProcess(Fixtures.bytes("exec-plain")), container);
        GuestProcessSpec p = exec.process();
        assertEquals(List.of("id"), p.args());
        assertEquals("/", p.cwd());
        assertEquals(List.of("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FOO=bar"),
                p.env());
        assertEquals(0, p.uid());
        assertEquals(List.of(new GuestRlimit("RLIMIT_NOFILE", 1024, 1024)), p.rlimits());
        assertEquals(14, p.capabilities().bounding().size());
        assertEquals(List.of(), exec.warnings());
    }

    @Test
    void execWithCwdAndUser() throws Exception {
        GuestProcessSpec p = SpecMapper.mapExec(OciJson.parseProcess(Fixtures.bytes("exec-cwd-user")),
                Fixtures.mapped("default")).process();
        assertEquals("/tmp", p.cwd());
        assertEquals(1000, p.uid());
        assertEquals(1000, p.gid());
        assertEquals(List.of(1000L), p.additionalGids());
    }

    @Test
    void execInheritsTheContainersSeccompFilter() throws Exception {
        GuestContainerSpec container = Fixtures.mapped("seccomp");
        GuestProcessSpec p = SpecMapper.mapExec(OciJson.parseProcess(Fixtures.bytes("exec-plain")), container)
                .process();
        assertSame(container.process().seccomp(), p.seccomp());
        assertNull(SpecMapper.mapExec(OciJson.parseProcess(Fixtures.bytes("exec-plain")), null).process().seccomp());
    }

    @Test
    void execErrorsNameThePathInTheProcessDocument() {
        SpecException e = assertThrows(SpecException.class, () -> SpecMapper.mapExec(OciJson.parseProcess(
                ("{\"args\":[\"ls\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0},"
                        + "\"rlimits\":[{\"type\":\"RLIMIT_NPROC\",\"soft\":9,\"hard\":1}]}")
                        .getBytes(StandardCharsets.UTF_8)), null));
        assertEquals(List.of("rlimits[0]: soft 9 exceeds hard 1"),
                e.errors().stream().map(SpecError::toString).toList());
    }

    @Test
    void execWarnings() throws Exception {
        GuestExecSpec exec = SpecMapper.mapExec(OciJson.parseProcess(
                "{\"args\":[\"ls\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0},\"apparmorProfile\":\"p\",\"new\":1}"
                        .getBytes(StandardCharsets.UTF_8)), null);
        assertEquals(List.of("new: not a field of runtime-spec v1.2 for Linux; ignored",
                "apparmorProfile: the VM's kernel loads no AppArmor policy; the VM boundary confines the container"
                        + " instead"), exec.warnings().stream().map(Warning::toString).toList());
    }
}
